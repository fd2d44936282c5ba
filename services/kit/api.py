"""Routes every FHIR resource type gets: search, read, vread, history and `$validate`.

A service passes a dependency that yields its unit of work (anything with `session` and
`repo(resource_type)`), its search spec, and optionally how to include related resources and
how to run a create's rules for `$validate`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.errors import FhirError, Issue, NotFound, operation_outcome
from services.kit.http import fhir_response, resource_body
from services.kit.repository import ResourceRepository, Stored
from services.kit.resources import validate as check_structure
from services.kit.search import SearchSpec, history_bundle, parse_search, searchset

FHIR_ID = r"^[A-Za-z0-9\-\.]{1,64}$"
IdPath = Annotated[str, Path(pattern=FHIR_ID, description="The resource id")]


class UnitOfWork(Protocol):
    """What the standard routes need from a service's request context."""

    @property
    def session(self) -> AsyncSession:
        """The request's session."""
        ...

    def repo(self, resource_type: str) -> ResourceRepository:
        """The repository of a resource type."""
        ...


Includer = Callable[[Any, str, list[Stored]], Awaitable[list[tuple[str, Stored]]]]
Validator = Callable[[Any, dict[str, Any]], Awaitable[object]]
ReadGuard = Callable[[Any, Stored], Awaitable[None]]
SearchGuard = Callable[[Any, list[tuple[str, str]]], Awaitable[None]]


def base_url(request: Request) -> str:
    """The FHIR base this request was made against."""
    return str(request.base_url).rstrip("/") + "/fhir"


def fhir_body_schema(description: str) -> dict[str, Any]:
    """OpenAPI for a FHIR JSON request body (the kit reads bodies itself, so FastAPI cannot infer it)."""
    schema = {
        "type": "object",
        "properties": {"resourceType": {"type": "string"}},
        "required": ["resourceType"],
    }
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/fhir+json": {"schema": schema}, "application/json": {"schema": schema}},
        }
    }


def stored_response(stored: Stored, status: int = 200, location: str | None = None) -> Response:
    """A stored resource with its version headers."""
    return fhir_response(
        stored.body, status, version_id=stored.version_id, last_updated=stored.last_updated, location=location
    )


def created_response(request: Request, kind: str, stored: Stored) -> Response:
    """201 with Location pointing at the new version."""
    location = f"{base_url(request)}/{kind}/{stored.id}/_history/{stored.version_id}"
    return stored_response(stored, 201, location)


def standard_routes(
    router: APIRouter,
    spec: SearchSpec,
    context: Callable[..., Any],
    *,
    includer: Includer | None = None,
    validator: Validator | None = None,
    may_read: ReadGuard | None = None,
    may_search: SearchGuard | None = None,
) -> None:
    """Search, read, vread, history and $validate for one resource type.

    `may_read` and `may_search` raise 403 when the caller may not see a resource or run a search
    (object-level authorisation; scopes are checked before any route runs).
    """
    kind = spec.resource_type
    # A default rather than an Annotated alias: with postponed annotations FastAPI resolves names
    # in the module's globals, where a per-call alias does not exist.
    unit_of_work: Any = Depends(context)

    @router.post(
        f"/{kind}/$validate",
        summary=f"Validate a {kind} without storing it",
        openapi_extra=fhir_body_schema(f"The {kind} to check"),
        tags=[kind],
    )
    async def validate(request: Request, ctx: Any = unit_of_work) -> Response:
        """Check structure, codes and the rules a create would enforce; nothing is stored."""
        try:
            resource = await resource_body(request, None)
            if resource.get("resourceType") == "Parameters":
                inner = [p.get("resource") for p in resource.get("parameter") or [] if p.get("name") == "resource"]
                resource = inner[0] if inner and isinstance(inner[0], dict) else {}
            resource = check_structure(resource, kind)
            if validator is not None:
                async with ctx.session.begin_nested() as savepoint:
                    try:
                        await validator(ctx, resource)
                    finally:
                        await savepoint.rollback()
        except FhirError as error:
            return fhir_response(error.outcome(), 200)
        finally:
            await ctx.session.rollback()
        ok = Issue("informational", f"The {kind} is valid", severity="information")
        return fhir_response(operation_outcome([ok]), 200)

    @router.get(f"/{kind}", summary=f"Search {kind}", tags=[kind])
    async def search(request: Request, ctx: Any = unit_of_work) -> Response:
        """Search with the parameters the CapabilityStatement lists; unknown parameters are 400."""
        settings = request.app.state.settings
        if may_search is not None:
            await may_search(ctx, list(request.query_params.multi_items()))
        query = parse_search(
            spec,
            list(request.query_params.multi_items()),
            default_count=settings.default_page_size,
            max_count=settings.max_page_size,
        )
        matches, total = await ctx.repo(kind).search(
            query.where,
            query.order_by,
            0 if query.summary_count else query.count,
            query.offset,
            count=query.want_total or query.summary_count,
        )
        included: list[tuple[str, Stored]] = []
        if includer is not None:
            for name in [*query.includes, *(f"rev:{r}" for r in query.revincludes)]:
                included += await includer(ctx, name, matches)
        body = searchset(base_url(request), kind, query, [(kind, m) for m in matches], total, included)
        return fhir_response(body)

    @router.get(f"/{kind}/{{id}}", summary=f"Read a {kind}", tags=[kind])
    async def read(id: IdPath, ctx: Any = unit_of_work) -> Response:
        """The current version."""
        found = await ctx.repo(kind).read(id)
        if may_read is not None:
            await may_read(ctx, found)
        return stored_response(found)

    @router.get(f"/{kind}/{{id}}/_history", summary=f"History of a {kind}", tags=[kind])
    async def history(id: IdPath, request: Request, ctx: Any = unit_of_work) -> Response:
        """Every version, newest first."""
        versions = await ctx.repo(kind).versions(id)
        if may_read is not None:
            await may_read(ctx, versions[0])
        return fhir_response(history_bundle(base_url(request), kind, versions))

    @router.get(f"/{kind}/{{id}}/_history/{{vid}}", summary=f"Read one version of a {kind}", tags=[kind])
    async def vread(id: IdPath, vid: str, ctx: Any = unit_of_work) -> Response:
        """One version."""
        if not (vid.isascii() and vid.isdigit()):
            raise NotFound(f"{kind}/{id}/_history/{vid} is not a version", "vid")
        found = await ctx.repo(kind).vread(id, int(vid))
        if may_read is not None:
            await may_read(ctx, found)
        return stored_response(found)
