"""Transaction and batch Bundles inside one service (FHIR R4 http.html#transaction).

A transaction's entries run in order inside one database transaction: any failure rolls the
whole Bundle back (no resource, no outbox event) and the client gets the failing entry's
OperationOutcome, naming the entry. A batch runs each entry on its own savepoint and reports
each outcome. `urn:uuid:` full URLs are resolved to the ids the server assigns, for entries
that come later in the Bundle.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.errors import BadRequest, FhirError, Issue, MethodNotAllowed
from services.kit.repository import Stored
from services.kit.resources import validate

Handler = Callable[[Any, dict[str, Any]], Awaitable[Stored]]
MAX_ENTRIES = 1000


def _rewrite(resource: dict[str, Any], resolved: Mapping[str, str]) -> dict[str, Any]:
    if not resolved:
        return resource
    text = orjson.dumps(resource).decode()
    for placeholder, target in resolved.items():
        text = text.replace(f'"{placeholder}"', f'"{target}"')
    rewritten: dict[str, Any] = orjson.loads(text)
    return rewritten


def _entry_error(index: int, error: FhirError) -> FhirError:
    where = f"Bundle.entry[{index}]"
    error.issues = [
        Issue(i.code, f"{where}: {i.diagnostics}", (where, *i.expression), i.severity) for i in error.issues
    ]
    return error


def _request_of(entry: dict[str, Any], handlers: Mapping[tuple[str, str], Handler]) -> Handler:
    request = entry.get("request") or {}
    method, url = request.get("method"), str(request.get("url", ""))
    kind = url.split("?")[0].split("/")[0]
    handler = handlers.get((str(method), kind))
    if handler is None or "/" in url.split("?")[0]:
        raise MethodNotAllowed(
            f"{method} {url} is not supported in a Bundle here; supported: "
            + ", ".join(f"{m} {k}" for m, k in sorted(handlers)),
            "request",
        )
    if not isinstance(entry.get("resource"), dict):
        raise BadRequest("The entry has no resource", "resource")
    return handler


def _response_entry(stored: Stored, kind: str, base: str) -> dict[str, Any]:
    return {
        "fullUrl": f"{base}/{kind}/{stored.id}",
        "resource": orjson.Fragment(stored.body),
        "response": {
            "status": "201 Created",
            "location": f"{kind}/{stored.id}/_history/{stored.version_id}",
            "etag": f'W/"{stored.version_id}"',
        },
    }


async def process_bundle(
    ctx: Any, session: AsyncSession, bundle: dict[str, Any], handlers: Mapping[tuple[str, str], Handler], base: str
) -> bytes:
    """Run a transaction or batch Bundle; returns the response Bundle."""
    kind = bundle.get("type")
    if kind not in ("transaction", "batch"):
        raise BadRequest("POST to the base takes a transaction or batch Bundle", "Bundle.type")
    entries = bundle.get("entry") or []
    if len(entries) > MAX_ENTRIES:
        raise BadRequest(f"A Bundle may have at most {MAX_ENTRIES} entries", "Bundle.entry")
    resolved: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for index, entry in enumerate(entries):
        try:
            handler = _request_of(entry, handlers)
            resource_type = entry["resource"].get("resourceType", "")
            resource = validate(_rewrite(entry["resource"], resolved), resource_type)
            if kind == "batch":
                async with session.begin_nested():
                    stored = await handler(ctx, resource)
            else:
                stored = await handler(ctx, resource)
        except FhirError as error:
            if kind == "transaction":
                raise _entry_error(index, error) from None
            out.append({"response": {"status": f"{error.status}", "outcome": error.outcome()}})
            continue
        full_url = entry.get("fullUrl")
        if isinstance(full_url, str) and full_url.startswith("urn:uuid:"):
            resolved[full_url] = f"{resource_type}/{stored.id}"
        out.append(_response_entry(stored, resource_type, base))
    return orjson.dumps({"resourceType": "Bundle", "type": f"{kind}-response", "entry": out})
