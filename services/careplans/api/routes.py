"""The care-plans service's FHIR routes: resources, named operations and internal events."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.careplans.api.common import ContextDep, get_context
from services.careplans.api.search_specs import (
    CARE_PLAN,
    GOAL,
    OBSERVATION,
    QUESTIONNAIRE,
    QUESTIONNAIRE_RESPONSE,
)
from services.careplans.service import patients, plans, responses, sessions, trend
from services.kit.api import IdPath, created_response, fhir_body_schema, standard_routes, stored_response
from services.kit.errors import BadRequest, MethodNotAllowed, PreconditionFailed
from services.kit.http import body_limit, fhir_body, fhir_response, if_match, informational, parse_json, read_body
from services.kit.parameters import Params

router = APIRouter(prefix="/fhir")
operations = APIRouter(prefix="/fhir")
internal = APIRouter(prefix="/internal", tags=["internal"])

ParamsBody = fhir_body("Parameters")


def _read_only(kind: str, why: str) -> None:
    """Refuse create, update and delete on a type the service writes itself (405)."""

    async def refuse() -> Response:
        raise MethodNotAllowed(f"{kind}: {why}")

    refuse.__doc__ = f"{kind} is not written by clients."
    router.add_api_route(f"/{kind}", refuse, methods=["POST"], include_in_schema=False, name=f"{kind}_create")
    router.add_api_route(
        f"/{kind}/{{id}}", refuse, methods=["PUT", "DELETE"], include_in_schema=False, name=f"{kind}_change"
    )


# ---------------------------------------------------------------- Questionnaire (FR-32)

_read_only("Questionnaire", "the service publishes the DIALOG Questionnaire; it is not written by clients")
standard_routes(router, QUESTIONNAIRE, get_context)

# ---------------------------------------------------------------- QuestionnaireResponse (FR-33 to FR-35)


@router.post(
    "/QuestionnaireResponse",
    tags=["QuestionnaireResponse"],
    summary="Record a DIALOG",
    openapi_extra=fhir_body_schema("The DIALOG QuestionnaireResponse"),
)
async def create_response(request: Request, ctx: ContextDep) -> Response:
    """Record a DIALOG on its own (FR-35); the two scores are computed and stored with it (FR-34)."""
    recorded = await responses.record_response(ctx, await fhir_body("QuestionnaireResponse")(request))
    return created_response(request, "QuestionnaireResponse", recorded.response)


@router.put("/QuestionnaireResponse/{id}", tags=["QuestionnaireResponse"], include_in_schema=False)
@router.delete("/QuestionnaireResponse/{id}", tags=["QuestionnaireResponse"], include_in_schema=False)
async def response_unsupported(id: IdPath) -> Response:
    """A recorded DIALOG is not changed: its scores and the referral clock rest on it."""
    raise MethodNotAllowed(f"QuestionnaireResponse/{id} is a recorded measure; record a new DIALOG instead")


standard_routes(
    router,
    QUESTIONNAIRE_RESPONSE,
    get_context,
    validator=lambda ctx, r: responses.record_response(ctx, r),
)

# ---------------------------------------------------------------- Observation (FR-34, scores)


@operations.get("/Observation/$dialog-trend", tags=["Observation"], summary="A person's DIALOG over time")
async def dialog_trend(request: Request, ctx: ContextDep) -> Response:
    """Each item and both scores over time with the change from baseline; paired measures per referral."""
    query = request.query_params
    unknown = set(query) - {"subject", "patient", "based-on"}
    if unknown:
        name = sorted(unknown)[0]
        raise BadRequest(f"$dialog-trend takes subject and based-on, not {name!r}", name)
    subject = query.get("subject") or query.get("patient")
    return fhir_response(await trend.dialog_trend(ctx, subject, query.get("based-on")))


_read_only("Observation", "DIALOG scores are computed from the QuestionnaireResponse; record a DIALOG instead")
standard_routes(router, OBSERVATION, get_context)

# ---------------------------------------------------------------- CarePlan (FR-36 to FR-43, FR-49, FR-51)


@operations.post(
    "/CarePlan/$dialog-plus-session",
    tags=["CarePlan"],
    summary="Record a DIALOG+ session",
    openapi_extra=fhir_body_schema(
        "Parameters: response, episode, clinician, date, domain*, review*, agreement, capacityAssessment, "
        "section*, periodStart, periodEnd, longTerm, careTeamMember*, complexNeeds"
    ),
)
async def dialog_plus_session(request: Request, ctx: ContextDep) -> Response:
    """Create (201) or revise (200, If-Match) the episode's co-produced plan from a DIALOG+ session."""
    expected = if_match(request, required=False)
    outcome = await sessions.dialog_plus_session(ctx, Params(await ParamsBody(request)), expected)
    if outcome.created:
        return created_response(request, "CarePlan", outcome.plan)
    return stored_response(outcome.plan)


@router.post(
    "/CarePlan",
    tags=["CarePlan"],
    summary="Create a crisis or waiting-support plan",
    openapi_extra=fhir_body_schema("The CarePlan (status draft)"),
)
async def create_plan(request: Request, ctx: ContextDep) -> Response:
    """Create a crisis or waiting-support plan as a draft; `$activate` makes it current (FR-43)."""
    stored = await plans.create_plan(ctx, await fhir_body("CarePlan")(request))
    return created_response(request, "CarePlan", stored)


@router.put(
    "/CarePlan/{id}",
    tags=["CarePlan"],
    summary="Update a plan's content",
    openapi_extra=fhir_body_schema("The CarePlan"),
)
async def update_plan(id: IdPath, request: Request, ctx: ContextDep) -> Response:
    """Update a plan's content (If-Match honoured); the status moves only through operations."""
    resource = await fhir_body("CarePlan")(request)
    if resource.get("id") != id:
        raise BadRequest(f"The body's id ({resource.get('id')!r}) must match the URL ({id!r})", "CarePlan.id")
    current = await ctx.repo("CarePlan").read(id)
    expected = if_match(request, required=False)
    if expected is not None and expected != current.version_id:
        raise PreconditionFailed(f'If-Match W/"{expected}" is not the current version', "If-Match")
    return stored_response(await plans.update_plan(ctx, current, resource))


@router.delete("/CarePlan/{id}", tags=["CarePlan"], include_in_schema=False)
async def plan_unsupported(id: IdPath) -> Response:
    """Plans are completed or superseded, never deleted."""
    raise MethodNotAllowed(f"CarePlan/{id} is completed ($complete) or superseded, not deleted")


def _plan_operation(name: str, doc: str, body: str) -> None:
    use_case = {"activate": plans.activate, "review": plans.review, "complete": plans.complete}[name]

    async def apply(id: IdPath, request: Request, ctx: ContextDep) -> Response:
        expected = if_match(request, required=True)
        assert expected is not None
        return stored_response(await use_case(ctx, id, Params(await ParamsBody(request)), expected))

    apply.__doc__ = doc
    router.add_api_route(
        f"/CarePlan/{{id}}/${name}",
        apply,
        methods=["POST"],
        tags=["CarePlan"],
        summary=doc.split(" (")[0].rstrip("."),
        openapi_extra=fhir_body_schema(body),
        name=f"careplan_{name}",
    )


_plan_operation(
    "activate",
    "Make a plan active: co-produced (FR-37) and complete for its category (FR-38, FR-43, FR-49); If-Match.",
    "Parameters: agreement, capacityAssessment",
)
_plan_operation(
    "review",
    "Record a review with the person taking part and the next review date (FR-42); If-Match.",
    "Parameters: date, participant*, outcome, note, nextReview, dialog",
)
_plan_operation(
    "complete",
    "Complete a plan; on discharge it needs a pathway back (FR-39); If-Match.",
    "Parameters: reason, pathwayBack",
)

standard_routes(
    router,
    CARE_PLAN,
    get_context,
    validator=plans.create_plan,
    may_read=plans.may_read,
    may_search=plans.may_search,
)

# ---------------------------------------------------------------- Goal

_read_only("Goal", "goals come from DIALOG+ sessions (one per chosen domain)")
standard_routes(router, GOAL, get_context)

# ---------------------------------------------------------------- internal events


@internal.post("/events", summary="Receive an event (from the gateway)")
async def receive_event(request: Request, ctx: ContextDep) -> Response:
    """Apply a Patient event (demographics for the measures' strata); a repeated event id changes nothing."""
    event = parse_json(await read_body(request, body_limit(request)))
    return informational("applied" if await patients.apply_event(ctx, event) else "already applied")
