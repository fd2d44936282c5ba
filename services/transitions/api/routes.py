"""The transitions service's FHIR routes: resources, the case's named operations, worklists, events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.kit.api import IdPath, created_response, fhir_body_schema, standard_routes, stored_response
from services.kit.errors import MethodNotAllowed
from services.kit.http import body_limit, fhir_body, fhir_response, if_match, informational, parse_json, read_body
from services.kit.parameters import Params
from services.transitions.api.common import ContextDep, get_context
from services.transitions.api.search_specs import CARE_PLAN, QUESTIONNAIRE_RESPONSE, TASK, include_related
from services.transitions.domain.phases import OPERATIONS, Step
from services.transitions.service import access, events, opening, steps, validation, worklists
from services.transitions.service.case import load_case

router = APIRouter(prefix="/fhir")
operations = APIRouter(prefix="/fhir")
internal = APIRouter(prefix="/internal", tags=["internal"])

ParamsBody = fhir_body("Parameters")

_STEP_SUMMARY: dict[Step, str] = {
    Step.RECORD_DISCUSSION: "Phase 1: record the pre-transition discussion (FR-53)",
    Step.DECIDE_SUPPORT: "Phase 2: record whether transition support is needed (FR-54)",
    Step.REOPEN: "Reopen a case closed as not needed (FR-54)",
    Step.FLAG_HIGH_RISK: "Set or clear the high-risk flag (FR-60)",
    Step.RECORD_MEETING: "Phase 3: record the multi-agency transition meeting and the plan (FR-55, FR-61)",
    Step.SHARE_PLAN: "Phase 3: record that the plan was shared with the young person (FR-56)",
    Step.RECORD_AGREEMENT: "Phase 3: record the young person's own decision on the plan (FR-56)",
    Step.SET_ACTION_DATE: "Phase 4: agree an alternative time to action the plan (FR-57)",
    Step.ACTION_PLAN: "Phase 4: action the plan, sending its adult-service referrals (FR-57, FR-64)",
    Step.RECORD_FEEDBACK: "Phase 5: record feedback on the transition (FR-58)",
    Step.RECORD_HANDOVER: "Phase 5: record when CYPMHS care ended and adult care starts (FR-63)",
    Step.RECORD_ALTERNATIVE: "Phase 5: resolve a declined adult referral (FR-62)",
    Step.REVIEW: "Phase 5: record the effectiveness review (FR-58)",
    Step.CLOSE: "Close the case after the review (FR-58, FR-62)",
}

# ---------------------------------------------------------------- type-level operations


@operations.get("/Task/$transition-worklist", tags=["Task"], summary="Young people due a pre-transition discussion")
async def transition_worklist(request: Request, ctx: ContextDep) -> Response:
    """CYPMHS young people at or past the lead-in age with no phase-1 record, high-risk first (FR-53, FR-60)."""
    return fhir_response(await worklists.worklist(ctx, dict(request.query_params)))


@operations.get("/Task/$transition-overdue", tags=["Task"], summary="Transition plans past their action date")
async def transition_overdue(request: Request, ctx: ContextDep) -> Response:
    """Cases whose formalised plan is not actioned by its planned date (FR-57)."""
    return fhir_response(await worklists.overdue(ctx, dict(request.query_params)))


@operations.post(
    "/Task/$open-transition",
    tags=["Task"],
    summary="Open a transition case",
    openapi_extra=fhir_body_schema("Parameters: patient, referringWorker, episode?, highRisk?, highRiskReason*"),
)
async def open_transition(request: Request, ctx: ContextDep) -> Response:
    """Open a case for a young person on a CYPMHS caseload (FR-52); 201 with the case Task."""
    stored = await opening.open_case(ctx, Params(await ParamsBody(request)))
    return created_response(request, "Task", stored)


# ---------------------------------------------------------------- the case's steps


def _step(step: Step) -> None:
    async def apply(id: IdPath, request: Request, ctx: ContextDep) -> Response:
        expected = if_match(request, required=True)
        assert expected is not None
        params = Params(await ParamsBody(request))
        return stored_response(await steps.apply(ctx, id, step, params, expected))

    apply.__doc__ = f"{_STEP_SUMMARY[step]}; requires If-Match with the case's version."
    router.add_api_route(
        f"/Task/{{id}}/${step.value}",
        apply,
        methods=["POST"],
        tags=["Task"],
        summary=_STEP_SUMMARY[step],
        openapi_extra=fhir_body_schema("Parameters"),
        name=f"task_{step.value.replace('-', '_')}",
    )


for _s in OPERATIONS:
    _step(_s)


@router.get("/Task/{id}/$transition-status", tags=["Task"], summary="Where a transition case stands today")
async def transition_status(id: IdPath, ctx: ContextDep) -> Response:
    """Phase, the 17½ deadline, late initiation, planned action date, overdue, age band (FR-53, FR-57, FR-65)."""
    case = await load_case(ctx, id, None)
    await access.check_case(ctx, case)
    return fhir_response(await worklists.status(ctx, case))


def _unsupported(kind: str, how: str) -> Any:
    async def refuse() -> Response:
        raise MethodNotAllowed(f"{kind} {how}")

    refuse.__doc__ = f"{kind} {how}"
    return refuse


for _kind, _how in (
    ("Task", "resources change only through the case's named operations ($record-discussion ... $close)"),
    ("CarePlan", "resources (transition plans) change only through the case's phase-3 and phase-4 operations"),
    ("QuestionnaireResponse", "resources (transition feedback) are recorded with $record-feedback on the case"),
):
    router.add_api_route(f"/{_kind}", _unsupported(_kind, _how), methods=["POST"], include_in_schema=False)
    router.add_api_route(
        f"/{_kind}/{{id}}", _unsupported(_kind, _how), methods=["PUT", "DELETE", "PATCH"], include_in_schema=False
    )

standard_routes(
    router,
    TASK,
    get_context,
    includer=include_related,
    validator=validation.validate_task,
    may_read=access.may_read,
    may_search=access.may_search,
)
standard_routes(
    router,
    CARE_PLAN,
    get_context,
    validator=validation.validate_care_plan,
    may_read=access.may_read,
    may_search=access.may_search,
)
standard_routes(
    router,
    QUESTIONNAIRE_RESPONSE,
    get_context,
    validator=validation.validate_feedback,
    may_read=access.may_read,
    may_search=access.may_search,
)

# ---------------------------------------------------------------- internal events


@internal.post("/events", summary="Receive an event (from the gateway)")
async def receive_event(request: Request, ctx: ContextDep) -> Response:
    """Apply a referral event (accepted, declined, redirected); a repeated event id changes nothing."""
    event = parse_json(await read_body(request, body_limit(request)))
    return informational(await events.apply_event(ctx, event))
