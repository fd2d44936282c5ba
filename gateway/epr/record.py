"""The shared-record view: `GET /fhir/Patient/{id}/$everything` (FR-67, FR-71).

A read-only view across both EPR instances and every service, like the London Care Record: the
master patient index's Patient (carrying both EPRs' local numbers) and everything the services
hold about the person, fetched with the caller's own token (each service applies its own
access rules). A service that cannot be reached is skipped and says so in an OperationOutcome
entry (`search.mode = outcome`), so a partial record is never mistaken for a whole one.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway import tables
from gateway.context import ContextDep
from gateway.proxy import Services, Upstream
from services.kit.api import IdPath, base_url
from services.kit.clock import instant
from services.kit.errors import BadGateway, BadRequest, GatewayTimeout
from services.kit.http import fhir_response

router = APIRouter(prefix="/fhir", tags=["Patient"])

# (service, resource type, search parameter naming the person), in the order the record lists them.
QUERIES: tuple[tuple[str, str, str], ...] = (
    ("referrals", "EpisodeOfCare", "patient"),
    ("referrals", "ServiceRequest", "subject"),
    ("referrals", "Task", "patient"),
    ("referrals", "Encounter", "subject"),
    ("referrals", "Communication", "subject"),
    ("careplans", "CarePlan", "patient"),
    ("careplans", "Goal", "patient"),
    ("careplans", "QuestionnaireResponse", "patient"),
    ("careplans", "Observation", "patient"),
    ("transitions", "Task", "patient"),
    ("transitions", "CarePlan", "patient"),
)
# At most this many resources of one type from one service; more is reported, not silently cut.
PER_TYPE_LIMIT = 2_000


class Refused(Exception):
    """A service refused the caller (401/403): the whole view is refused the same way."""

    def __init__(self, upstream: Upstream) -> None:
        super().__init__(upstream.status)
        self.upstream = upstream


@dataclass
class Part:
    """What one service contributed: resources, and outcomes saying what is missing."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[dict[str, Any]] = field(default_factory=list)


def _outcome(severity: str, code: str, text: str, where: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "id": str(uuid.uuid4()),
        "issue": [{"severity": severity, "code": code, "diagnostics": text, "expression": [where]}],
    }


async def _search(
    services: Services,
    service: str,
    kind: str,
    name: str,
    patient: str,
    headers: dict[str, str],
    gateway: str,
    page: int,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Every match of one search, page by page; an outcome when it could not be completed."""
    found: list[dict[str, Any]] = []
    while len(found) < PER_TYPE_LIMIT:
        params = [(name, patient), ("_count", str(page)), ("_offset", str(len(found)))]
        answer = await services.send(service, "GET", f"/{kind}", params=params, headers=headers, gateway_base=gateway)
        if answer.status in (401, 403):
            raise Refused(answer)
        if answer.status != 200:
            text = f"The {service} service could not list {kind} for this person (HTTP {answer.status})"
            return found, _outcome("warning", "incomplete", text, kind)
        bundle = answer.json()
        entries = [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == "match"]
        found += entries
        more = any(link.get("relation") == "next" for link in bundle.get("link", []))
        if not (more and entries):
            return found, None
    text = f"Only the first {PER_TYPE_LIMIT} {kind} resources from the {service} service are included"
    return found, _outcome("warning", "too-costly", text, kind)


async def _gather(
    services: Services, service: str, queries: list[tuple[str, str]], patient: str, headers: dict[str, str], **kw: Any
) -> Part:
    part = Part()
    for kind, name in queries:
        try:
            resources, problem = await _search(services, service, kind, name, patient, headers, **kw)
        except (BadGateway, GatewayTimeout) as error:
            text = f"{error.diagnostics}: its records are not included"
            part.outcomes.append(_outcome("warning", "transient", text, service))
            return part
        part.resources += resources
        if problem:
            part.outcomes.append(problem)
    return part


def _types(request: Request) -> set[str] | None:
    unknown = set(request.query_params) - {"_type"}
    if unknown:
        name = sorted(unknown)[0]
        raise BadRequest(f"$everything supports _type only, not {name!r}", name)
    values = request.query_params.getlist("_type")
    return {t for value in values for t in value.split(",") if t} or None


@router.get(
    "/Patient/{id}/$everything",
    summary="Everything known about a person, across both EPRs and every service",
)
async def everything(id: IdPath, request: Request, ctx: ContextDep) -> Response:
    """A searchset Bundle: the Patient (match), the services' resources about them (include), and
    an OperationOutcome (outcome) for each service that could not answer. `_type` narrows it."""
    wanted = _types(request)
    patient = await ctx.repo("Patient").read(id)
    services: Services = request.app.state.services
    gateway = base_url(request)
    page = int(request.app.state.settings.max_page_size)
    by_service: dict[str, list[tuple[str, str]]] = {}
    for service, kind, name in QUERIES:
        if wanted is None or kind in wanted:
            by_service.setdefault(service, []).append((kind, name))
    headers = dict(request.headers)
    try:
        parts = await asyncio.gather(
            *(
                _gather(services, service, queries, f"Patient/{id}", headers, gateway=gateway, page=page)
                for service, queries in by_service.items()
            )
        )
    except Refused as refused:
        return Response(refused.upstream.body, status_code=refused.upstream.status, headers=refused.upstream.headers)
    entries: list[dict[str, Any]] = []
    if wanted is None or "Patient" in wanted:
        entries.append(
            {"fullUrl": f"{gateway}/Patient/{id}", "resource": patient.resource(), "search": {"mode": "match"}}
        )
    if wanted is None or "Flag" in wanted:
        # Flags published to the wider system (FR-74) are part of the shared record.
        flags = await ctx.repo("Flag").all_where(
            tables.flag.c.patient == f"Patient/{id}", tables.flag.c.status == "active"
        )
        entries += [
            {"fullUrl": f"{gateway}/Flag/{f.id}", "resource": f.resource(), "search": {"mode": "include"}}
            for f in flags
        ]
    seen: set[str] = set()
    for part in parts:
        for resource in part.resources:
            key = f"{resource['resourceType']}/{resource['id']}"
            if key not in seen:
                seen.add(key)
                entries.append({"fullUrl": f"{gateway}/{key}", "resource": resource, "search": {"mode": "include"}})
    outcomes = [o for part in parts for o in part.outcomes]
    entries += [{"resource": o, "search": {"mode": "outcome"}} for o in outcomes]
    bundle = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": instant(ctx.now)},
        "type": "searchset",
        "total": len(entries) - len(outcomes),
        "link": [{"relation": "self", "url": str(request.url)}],
        "entry": entries,
    }
    return fhir_response(bundle)
