"""The referrals service's FHIR routes: resources, named operations and internal events."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from services.kit.api import IdPath, base_url, created_response, fhir_body_schema, standard_routes, stored_response
from services.kit.bundles import process_bundle
from services.kit.errors import BadRequest, MethodNotAllowed, PreconditionFailed
from services.kit.http import body_limit, fhir_body, fhir_response, if_match, informational, parse_json, read_body
from services.kit.parameters import Params
from services.kit.repository import Stored
from services.referrals.api.common import ContextDep, get_context
from services.referrals.api.search_specs import (
    COMMUNICATION,
    ENCOUNTER,
    EPISODE_OF_CARE,
    SERVICE_REQUEST,
    TASK,
    include_referrals,
    revinclude_tasks,
)
from services.referrals.domain.lifecycle import Verb
from services.referrals.service import access, clock, episodes, referrals, worklists

router = APIRouter(prefix="/fhir")
operations = APIRouter(prefix="/fhir")
internal = APIRouter(prefix="/internal", tags=["internal"])

ParamsBody = fhir_body("Parameters")


# ---------------------------------------------------------------- ServiceRequest


@operations.get("/ServiceRequest/$ptl", tags=["ServiceRequest"], summary="Patient tracking list")
async def patient_tracking_list(request: Request, ctx: ContextDep) -> Response:
    """Everyone waiting whose clock has not stopped, longest wait first (FR-26)."""
    query = dict(request.query_params)
    settings = request.app.state.settings
    count = query.get("_count", str(settings.default_page_size))
    offset = query.get("_offset", "0")
    if not all(v.isascii() and v.isdigit() for v in (count, offset)):
        raise BadRequest("_count and _offset are whole numbers", "_count")
    return fhir_response(
        await worklists.tracking_list(ctx, query, min(int(count), settings.max_page_size), int(offset))
    )


@router.post(
    "/ServiceRequest",
    tags=["ServiceRequest"],
    summary="Create a referral",
    openapi_extra=fhir_body_schema("The referral ServiceRequest"),
)
async def create_service_request(
    request: Request,
    ctx: ContextDep,
    if_none_exist: Annotated[str | None, Header(alias="If-None-Exist")] = None,
) -> Response:
    """Create a referral and its tracking Task (201), or return the match of `If-None-Exist` (200)."""
    resource = await fhir_body("ServiceRequest")(request)
    stored, created = await referrals.create_referral(ctx, resource, if_none_exist)
    return created_response(request, "ServiceRequest", stored) if created else stored_response(stored)


@router.get(
    "/ServiceRequest/{id}/$waiting-time",
    tags=["ServiceRequest"],
    summary="The referral's waiting clock",
)
async def waiting_time(id: IdPath, ctx: ContextDep) -> Response:
    """Clock start and stop as NHS England defines them, days waiting, breach, contact proxies."""
    referral = await ctx.repo("ServiceRequest").read(id)
    await access.may_read(ctx, referral)
    return fhir_response(await clock.waiting_time(ctx, referral))


@router.put("/ServiceRequest/{id}", tags=["ServiceRequest"], include_in_schema=False)
@router.delete("/ServiceRequest/{id}", tags=["ServiceRequest"], include_in_schema=False)
async def service_request_unsupported(id: IdPath) -> Response:
    """A referral changes only through its Task's named operations."""
    raise MethodNotAllowed(
        f"ServiceRequest/{id} changes only through its Task's operations ($accept, $decline, $redirect ...)"
    )


standard_routes(
    router,
    SERVICE_REQUEST,
    get_context,
    includer=revinclude_tasks,
    may_read=access.may_read,
    may_search=access.may_search,
    validator=lambda ctx, r: referrals.create_referral(ctx, r),
)

# ---------------------------------------------------------------- Task


@operations.post(
    "/Task/$raise-concern",
    tags=["Task"],
    summary="Record a carer's concern",
    openapi_extra=fhir_body_schema("Parameters: patient, reporter, description"),
)
async def raise_concern(request: Request, ctx: ContextDep) -> Response:
    """A concern from a carer or family member becomes a Task for the responsible team (FR-27)."""
    stored = await worklists.raise_concern(ctx, Params(await ParamsBody(request)))
    return created_response(request, "Task", stored)


def _operation(verb: Verb) -> None:
    async def apply(id: IdPath, request: Request, ctx: ContextDep) -> Response:
        expected = if_match(request, required=True)
        assert expected is not None
        params = Params(await ParamsBody(request))
        stored, status = await referrals.decide(ctx, id, verb, params, expected)
        if status == 201:
            return created_response(request, "Task", stored)
        return stored_response(stored)

    apply.__doc__ = f"${verb.value} a referral (requires If-Match)."
    router.add_api_route(
        f"/Task/{{id}}/${verb.value}",
        apply,
        methods=["POST"],
        tags=["Task"],
        summary=f"${verb.value} a referral",
        openapi_extra=fhir_body_schema("Parameters"),
        name=f"task_{verb.value}",
    )


for _verb in (
    Verb.TRIAGE,
    Verb.ACCEPT,
    Verb.DECLINE,
    Verb.REDIRECT,
    Verb.ESCALATE,
    Verb.CANCEL,
    Verb.COMPLETE,
):
    _operation(_verb)


@router.post(
    "/Task/{id}/$acknowledge",
    tags=["Task"],
    summary="Acknowledge a concern",
    openapi_extra=fhir_body_schema("Parameters: actor"),
)
async def acknowledge(id: IdPath, request: Request, ctx: ContextDep) -> Response:
    """The team acknowledges a carer's concern (FR-27); requires If-Match."""
    expected = if_match(request, required=True)
    assert expected is not None
    return stored_response(await worklists.acknowledge(ctx, id, Params(await ParamsBody(request)), expected))


@router.post("/Task", tags=["Task"], include_in_schema=False)
@router.put("/Task/{id}", tags=["Task"], include_in_schema=False)
async def task_unsupported() -> Response:
    """Tasks are created with their referral and moved only by named operations."""
    raise MethodNotAllowed("Tasks are created with their referral and change only through named operations")


standard_routes(
    router,
    TASK,
    get_context,
    includer=include_referrals,
    may_read=access.may_read,
    may_search=access.may_search,
)

# ---------------------------------------------------------------- Encounter (contacts)


@router.post(
    "/Encounter",
    tags=["Encounter"],
    summary="Record a contact",
    openapi_extra=fhir_body_schema("The contact Encounter (basedOn the referral)"),
)
async def create_encounter(request: Request, ctx: ContextDep) -> Response:
    """Record a contact: first contact, assessment, clinical or social intervention (FR-12, FR-14)."""
    stored = await clock.record_contact(ctx, await fhir_body("Encounter")(request))
    return created_response(request, "Encounter", stored)


@router.put(
    "/Encounter/{id}",
    tags=["Encounter"],
    summary="Update a contact",
    openapi_extra=fhir_body_schema("The contact Encounter"),
)
async def update_encounter(id: IdPath, request: Request, ctx: ContextDep) -> Response:
    """Update a contact (If-Match honoured); a cancelled or moved appointment notifies the person (FR-28)."""
    resource = await fhir_body("Encounter")(request)
    if resource.get("id") != id:
        raise BadRequest(f"The body's id ({resource.get('id')!r}) must match the URL ({id!r})", "Encounter.id")
    current = await ctx.repo("Encounter").read(id)
    expected = if_match(request, required=False)
    if expected is not None and expected != current.version_id:
        raise PreconditionFailed(f'If-Match W/"{expected}" is not the current version', "If-Match")
    return stored_response(await clock.update_contact(ctx, current, resource))


standard_routes(
    router,
    ENCOUNTER,
    get_context,
    validator=clock.record_contact,
    may_read=access.may_read,
    may_search=access.may_search,
)

# ---------------------------------------------------------------- EpisodeOfCare (caseloads)


@router.post(
    "/EpisodeOfCare",
    tags=["EpisodeOfCare"],
    summary="Open an episode of care",
    openapi_extra=fhir_body_schema("The EpisodeOfCare (team in the episode-healthcare-service extension)"),
)
async def create_episode(request: Request, ctx: ContextDep) -> Response:
    """Put a person on a team's caseload; several at once are allowed (FR-8)."""
    stored = await episodes.create_episode(ctx, await fhir_body("EpisodeOfCare")(request))
    return created_response(request, "EpisodeOfCare", stored)


@router.post(
    "/EpisodeOfCare/{id}/$close",
    tags=["EpisodeOfCare"],
    summary="Close an episode of care",
    openapi_extra=fhir_body_schema("Parameters: reason, override*, followUpAttempt, clinicianDecision"),
)
async def close_episode(id: IdPath, request: Request, ctx: ContextDep) -> Response:
    """Finish an episode (FR-9 keep-supporting rule, FR-29 non-engagement safeguard); requires If-Match."""
    expected = if_match(request, required=True)
    assert expected is not None
    return stored_response(await episodes.close_episode(ctx, id, Params(await ParamsBody(request)), expected))


standard_routes(
    router,
    EPISODE_OF_CARE,
    get_context,
    validator=episodes.create_episode,
    may_read=access.may_read,
    may_search=access.may_search,
)


@operations.get("/Communication/$waiting-well", tags=["Communication"], summary="A service's waiting-well information")
async def waiting_well(request: Request, ctx: ContextDep) -> Response:
    """The versioned waiting-well information a service sends everyone it puts on its waiting list (FR-16)."""
    return fhir_response(await referrals.waiting_well(ctx, request.query_params.get("service")))


standard_routes(router, COMMUNICATION, get_context, may_read=access.may_read, may_search=access.may_search)

# ---------------------------------------------------------------- transaction and batch Bundles

BUNDLE_HANDLERS = {
    ("POST", "ServiceRequest"): lambda ctx, r: _created_only(referrals.create_referral(ctx, r)),
    ("POST", "EpisodeOfCare"): episodes.create_episode,
    ("POST", "Encounter"): clock.record_contact,
}


async def _created_only(creating: Any) -> Stored:
    stored, _ = await creating
    return stored  # type: ignore[no-any-return]


@router.post(
    "",
    tags=["Bundle"],
    summary="transaction or batch Bundle",
    openapi_extra=fhir_body_schema("A transaction or batch Bundle"),
)
async def bundle(request: Request, ctx: ContextDep) -> Response:
    """A transaction is all-or-nothing in one database transaction; a batch reports each entry."""
    body = await fhir_body("Bundle")(request)
    return fhir_response(await process_bundle(ctx, ctx.session, body, BUNDLE_HANDLERS, base_url(request)))


# ---------------------------------------------------------------- internal events


@internal.post("/events", summary="Receive an event (from the gateway)")
async def receive_event(request: Request, ctx: ContextDep) -> Response:
    """Apply an event from another service; a repeated event id changes nothing."""
    event = parse_json(await read_body(request, body_limit(request)))
    return informational("applied" if await clock.apply_event(ctx, event) else "already applied")
