"""The named operations on a case: load it (If-Match), check the phase machine (FR-59), run the step."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.kit.fhir import set_extension
from services.kit.parameters import Params
from services.kit.parameters import where as param
from services.kit.repository import Stored
from services.transitions.domain.codes import EXT_CHANGED_BY
from services.transitions.domain.phases import Step, check_step
from services.transitions.service import access, actioning, evaluation, opening, planning
from services.transitions.service.case import Case, load_case
from services.transitions.service.context import Context

Handler = Callable[[Context, Case, Params], Awaitable[Case]]

HANDLERS: dict[Step, Handler] = {
    Step.RECORD_DISCUSSION: opening.record_discussion,
    Step.DECIDE_SUPPORT: opening.decide_support,
    Step.REOPEN: opening.reopen,
    Step.FLAG_HIGH_RISK: opening.flag_high_risk,
    Step.RECORD_MEETING: planning.record_meeting,
    Step.SHARE_PLAN: planning.share_plan,
    Step.RECORD_AGREEMENT: planning.record_agreement,
    Step.SET_ACTION_DATE: actioning.set_action_date,
    Step.ACTION_PLAN: actioning.action_plan,
    Step.RECORD_ALTERNATIVE: actioning.record_alternative,
    Step.RECORD_FEEDBACK: evaluation.record_feedback,
    Step.RECORD_HANDOVER: evaluation.record_handover,
    Step.REVIEW: evaluation.review,
    Step.CLOSE: evaluation.close,
}


async def apply(ctx: Context, case_id: str, step: Step, params: Params, expected_version: int) -> Stored:
    """Apply one step to a case and return the case's new version."""
    case = await load_case(ctx, case_id, expected_version)
    await access.check_case(ctx, case)
    check_step(step, case.phase)
    actor = params.reference("actor") or ctx.principal.fhir_user
    if actor:
        if actor.startswith("PractitionerRole/"):
            ctx.role(actor, param("actor"))
        set_extension(case.resource, EXT_CHANGED_BY, valueReference={"reference": actor})
    return (await HANDLERS[step](ctx, case, params)).stored
