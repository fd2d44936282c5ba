"""Forwarding FHIR interactions to the owning service, unchanged but for base URLs."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import orjson

from services.kit.errors import BadGateway, BadRequest, FhirError, GatewayTimeout, NotFound
from services.kit.search import SearchRequest

_FORWARDED_REQUEST = (
    "content-type",
    "accept",
    "if-match",
    "if-none-exist",
    "prefer",
    "authorization",
    "x-request-id",
    "x-correlation-id",
    "x-purpose-of-use",
)
_FORWARDED_RESPONSE = ("content-type", "etag", "last-modified", "location", "retry-after")


@dataclass(frozen=True)
class Upstream:
    """A service's answer, ready to pass on."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return orjson.loads(self.body)


def _encoded(path: str) -> str:
    """The path to send on, each segment percent-encoded again.

    The gateway routes on the decoded path; sending it on decoded would let an id such as
    `x%3F_id%3Dy` or `..%2F..%2Finternal` become a query or another path at the service, and a
    `%00` make an invalid URL. Dot segments are refused outright.
    """
    segments = path.split("/")
    if any(segment in (".", "..") for segment in segments):
        raise BadRequest("A FHIR path has no '.' or '..' segments", "url")
    return "/".join(quote(segment, safe="$") for segment in segments)


class Services:
    """The gateway's HTTP clients to the services it fronts."""

    def __init__(self, urls: Mapping[str, str], timeout: float, transport: httpx.AsyncBaseTransport | None = None):
        self.urls = dict(urls)
        self.client = httpx.AsyncClient(timeout=timeout, transport=transport)

    def base(self, service: str) -> str:
        """A service's FHIR base."""
        return f"{self.urls[service].rstrip('/')}/fhir"

    async def send(
        self,
        service: str,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        gateway_base: str,
    ) -> Upstream:
        """Forward one request; 502 when the service cannot be reached, 504 when it is too slow."""
        forwarded = {k: v for k, v in (headers or {}).items() if k.lower() in _FORWARDED_REQUEST}
        try:
            response = await self.client.request(
                method,
                f"{self.base(service)}{_encoded(path)}",
                params=httpx.QueryParams([(k, v) for k, v in params or []]),
                headers=forwarded,
                content=body,
            )
        except httpx.TimeoutException:
            raise GatewayTimeout(f"The {service} service did not answer in time", service) from None
        except httpx.HTTPError as exc:
            raise BadGateway(f"The {service} service is unavailable ({type(exc).__name__})", service) from None
        out_headers = {k: v for k, v in response.headers.items() if k.lower() in _FORWARDED_RESPONSE}
        content = response.content.replace(self.base(service).encode(), gateway_base.encode())
        if "location" in out_headers:
            out_headers["location"] = out_headers["location"].replace(self.base(service), gateway_base)
        return Upstream(response.status_code, out_headers, content)

    async def owner_of(
        self,
        services: tuple[str, ...],
        resource_type: str,
        id_: str,
        gateway_base: str,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Which of several owners holds a resource (Task and CarePlan ids are UUIDs: at most one)."""
        if len(services) == 1:
            return services[0]
        answers = await asyncio.gather(
            *(
                self.send(s, "GET", f"/{resource_type}/{id_}", headers=headers, gateway_base=gateway_base)
                for s in services
            ),
            return_exceptions=True,
        )
        for service, answer in zip(services, answers, strict=True):
            if isinstance(answer, Upstream) and answer.status != 404:
                return service
        failures = [a for a in answers if isinstance(a, FhirError)]
        if failures:
            raise failures[0]
        raise NotFound(f"{resource_type}/{id_} is not known", "id")

    async def close(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()


MERGEABLE_SORTS = {"-_lastUpdated": True, "_lastUpdated": False}
"""The orders a merged search can keep, each with whether it is newest first."""


async def merged_search(
    services: Services,
    owners: tuple[str, ...],
    resource_type: str,
    search: SearchRequest,
    query: list[tuple[str, str]],
    gateway_base: str,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Search several owners and merge one page, newest first (or oldest first), with paging links of its own.

    Each owner is asked for its first offset+count matches in the same order, so the merged
    page is exactly the page a single store would have returned. Only `_lastUpdated` orders can
    be merged: any other `_sort` is a key one service computes from its own data, so it is a 400
    naming the parameter rather than a page silently in some other order.
    """
    order = ",".join(v for k, v in query if k == "_sort") or "-_lastUpdated"
    if order not in MERGEABLE_SORTS:
        raise BadRequest(
            f"_sort={order} is an order one service computes, and this {resource_type} search spans "
            f"{' and '.join(owners)}: narrow it to one (for a Task, with code=) or sort by _lastUpdated",
            "_sort",
        )
    wanted = search.offset + search.count
    plain = [(k, v) for k, v in query if k not in ("_count", "_offset", "_sort")]
    answers = await asyncio.gather(
        *(_first_matches(services, s, resource_type, plain, order, wanted, gateway_base, headers) for s in owners),
        return_exceptions=True,
    )
    collected = [a for a in answers if isinstance(a, tuple)]
    for answer in answers:
        if isinstance(answer, BaseException):
            # An owner that refuses a clinician (403: nothing of this person's there is theirs to see)
            # leaves its part out, as long as another owner answered; any other failure fails the search.
            if collected and isinstance(answer, Relayed) and answer.upstream.status == 403:
                continue
            raise answer
    total = sum(found_total for found_total, _ in collected)
    entries = [e for _, found in collected for e in found]
    # The services order ties by id ascending under either order; merge the same way, or a tie
    # would show one entry twice and hide another.
    entries.sort(key=lambda e: e["resource"]["id"])
    entries.sort(key=lambda e: e["resource"]["meta"]["lastUpdated"], reverse=MERGEABLE_SORTS[order])
    page = entries[search.offset : search.offset + search.count]

    def link(relation: str, offset: int) -> dict[str, str]:
        params = [*plain, ("_sort", order), ("_count", str(search.count)), ("_offset", str(offset))]
        return {"relation": relation, "url": f"{gateway_base}/{resource_type}?{urlencode(params)}"}

    links = [link("self", search.offset)]
    if search.count and search.offset + search.count < total:
        links.append(link("next", search.offset + search.count))
    if search.offset > 0:
        links.append(link("previous", max(0, search.offset - search.count)))
    return {"resourceType": "Bundle", "type": "searchset", "total": total, "link": links, "entry": page}


SERVICE_PAGE = 500


async def _first_matches(
    services: Services,
    service: str,
    resource_type: str,
    plain: list[tuple[str, str]],
    order: str,
    wanted: int,
    gateway_base: str,
    headers: Mapping[str, str] | None,
) -> tuple[int, list[dict[str, Any]]]:
    """A service's total and its first `wanted` matches in `order`, page by page."""
    found: list[dict[str, Any]] = []
    total = 0
    offset = 0
    while True:
        count = min(SERVICE_PAGE, max(wanted - offset, 0))
        ask = [*plain, ("_count", str(count)), ("_offset", str(offset)), ("_sort", order)]
        answer = await services.send(
            service, "GET", f"/{resource_type}", params=ask, headers=headers, gateway_base=gateway_base
        )
        if 400 <= answer.status < 500:
            raise Relayed(answer)
        if answer.status != 200:
            raise BadGateway(f"A {resource_type} search failed in the {service} service ({answer.status})", service)
        try:
            bundle = answer.json()
        except orjson.JSONDecodeError:
            raise BadGateway(f"The {service} service answered with something other than FHIR JSON", service) from None
        total = int(bundle.get("total", 0))
        page = [e for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == "match"]
        found += page
        offset += count
        if count == 0 or len(page) < count or offset >= wanted:
            return total, found


class Relayed(Exception):
    """A service's client-error answer, to be passed on unchanged."""

    def __init__(self, upstream: Upstream) -> None:
        super().__init__(upstream.status)
        self.upstream = upstream
