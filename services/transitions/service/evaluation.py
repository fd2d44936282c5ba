"""Phase 5: feedback, the effectiveness review and closing (FR-58); continuity of care (FR-63)."""

from __future__ import annotations

from typing import Any

from services.kit.clock import instant
from services.kit.errors import RequiredMissing
from services.kit.fhir import coding, concept
from services.kit.parameters import Params
from services.kit.parameters import where as param
from services.transitions.domain import rules
from services.transitions.domain.codes import (
    CS_EFFECTIVENESS,
    CS_EXPERIENCE,
    CS_RESPONDENT,
    EXT_CASE,
    EXT_RESPONDENT,
    FEEDBACK_QUESTIONNAIRE,
    Effectiveness,
    Experience,
    Respondent,
    parse_code,
)
from services.transitions.domain.phases import Phase
from services.transitions.service.case import (
    Case,
    add_output,
    open_escalations,
    outputs,
    save_case,
    update_phase,
)
from services.transitions.service.context import Context, new_id
from services.transitions.service.planning import load_plan

QUESTIONS = {
    "respondent": "Who is giving feedback?",
    "experience": "How was the experience of moving from children's to adult services?",
    "comment": "What would you like to tell us about it?",
    "declined": "Feedback was offered and declined",
}


def has_young_person_feedback(case: Case) -> bool:
    """Whether the young person's feedback, or their declining to give it, is recorded (FR-58)."""
    return bool(outputs(case.resource, "young-person-feedback"))


def feedback_response(
    case: Case,
    feedback: rules.Feedback,
    comment: str | None,
    plan_id: str | None,
    authored: str,
) -> dict[str, Any]:
    """The QuestionnaireResponse recording one respondent's feedback (or the young person declining)."""
    items: list[dict[str, Any]] = [
        {
            "linkId": "respondent",
            "text": QUESTIONS["respondent"],
            "answer": [{"valueCoding": coding(CS_RESPONDENT, feedback.respondent)}],
        }
    ]
    if feedback.declined:
        items.append({"linkId": "declined", "text": QUESTIONS["declined"], "answer": [{"valueBoolean": True}]})
    if feedback.experience is not None:
        items.append(
            {
                "linkId": "experience",
                "text": QUESTIONS["experience"],
                "answer": [{"valueCoding": coding(CS_EXPERIENCE, feedback.experience)}],
            }
        )
    if comment:
        items.append({"linkId": "comment", "text": QUESTIONS["comment"], "answer": [{"valueString": comment}]})
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "extension": [
            {"url": EXT_CASE, "valueReference": {"reference": case.reference}},
            {"url": EXT_RESPONDENT, "valueCode": feedback.respondent.value},
        ],
        "questionnaire": FEEDBACK_QUESTIONNAIRE,
        "status": "stopped" if feedback.declined else "completed",
        "subject": {"reference": case.patient},
        "authored": authored,
        "author": {"reference": feedback.source},
        "source": {"reference": feedback.source},
        "item": items,
    }
    if plan_id:
        response["basedOn"] = [{"reference": f"CarePlan/{plan_id}"}]
    return response


async def record_feedback(ctx: Context, case: Case, params: Params) -> Case:
    """Feedback from the young person (required, or their declining), family, worker or adult team (FR-58)."""
    respondent = parse_code(Respondent, params.code("respondent", required=True), param("respondent"))
    source = params.reference("source") or (case.patient if respondent is Respondent.YOUNG_PERSON else None)
    if source is None:
        raise RequiredMissing("Name who gave the feedback", param("source"))
    declined = bool(params.boolean("declined"))
    experience_code = params.code("experience")
    experience = parse_code(Experience, experience_code, param("experience")) if experience_code else None
    comment = params.string("comment")
    feedback = rules.Feedback(respondent, source, declined, experience)
    rules.check_feedback(feedback, case.patient)
    if source.startswith("PractitionerRole/"):
        ctx.role(source, param("source"))
    stored = await ctx.repo("QuestionnaireResponse").create(
        feedback_response(case, feedback, comment, case.plan_id, instant(ctx.now)), new_id(), ctx.now
    )
    kind = "young-person-feedback" if respondent is Respondent.YOUNG_PERSON else f"{respondent.value}-feedback"
    value = {"valueReference": {"reference": f"QuestionnaireResponse/{stored.id}"}}
    await update_phase(ctx, case, Phase.EVALUATION, (kind, value))
    add_output(case.resource, kind, **value)
    return await save_case(ctx, case)


async def review(ctx: Context, case: Case, params: Params) -> Case:
    """The effectiveness review, based on the feedback (FR-58)."""
    outcome = parse_code(Effectiveness, params.code("outcome", required=True), param("outcome"))
    actions = params.string("actions")
    reviewer = ctx.role(params.reference("reviewer", required=True), param("reviewer"))
    rules.check_review(has_young_person_feedback(case), outcome, actions)
    items: list[tuple[str, dict[str, Any]]] = [
        ("effectiveness", {"valueCodeableConcept": concept(CS_EFFECTIVENESS, outcome)}),
        ("reviewer", {"valueReference": {"reference": f"PractitionerRole/{reviewer.id}"}}),
        ("reviewed", {"valueDateTime": instant(ctx.now)}),
    ]
    if actions:
        items.append(("review-actions", {"valueString": actions}))
    await update_phase(ctx, case, Phase.EVALUATION, *items)
    for kind, value in items:
        add_output(case.resource, kind, **value)
    return await save_case(ctx, case)


async def record_handover(ctx: Context, case: Case, params: Params) -> Case:
    """When CYPMHS care ended and adult care starts: a gap needs a rationale, and is reported (FR-63)."""
    cyp_end = params.date("cypEnd", required=True)
    assert cyp_end is not None
    adult_start = params.date("adultStart")
    rationale = params.string("rationale")
    gap = rules.check_handover(cyp_end, adult_start, rationale)
    items: list[tuple[str, dict[str, Any]]] = [("cyp-end", {"valueDate": cyp_end.isoformat()})]
    if adult_start is not None:
        items.append(("adult-start", {"valueDate": adult_start.isoformat()}))
    if gap is not None:
        items.append(("continuity-gap-days", {"valueInteger": gap}))
    if gap is None or gap > 0:
        gap_text = "an unknown number of" if gap is None else str(gap)
        warning = f"CYPMHS care ends {gap_text} days before adult care starts (FR-63)"
        items.append(("continuity-warning", {"valueString": warning}))
    if rationale:
        items.append(("handover-rationale", {"valueString": rationale}))
    await update_phase(ctx, case, Phase.EVALUATION, *items)
    for kind, value in items:
        add_output(case.resource, kind, **value)
    saved = await save_case(ctx, case)
    await ctx.outbox.emit(
        "transition-continuity-recorded",
        ctx.now,
        focus=case.reference,
        subject=case.patient,
        cypEnd=cyp_end.isoformat(),
        adultStart=adult_start.isoformat() if adult_start else None,
        gapDays=gap,
        borough=case.borough,
    )
    return saved


async def close(ctx: Context, case: Case, params: Params) -> Case:
    """Close the case, only after feedback and the review, and with no declined referral unresolved (FR-58, FR-62)."""
    note = params.string("note")
    escalations = await open_escalations(ctx, case)
    rules.check_close(has_young_person_feedback(case), bool(outputs(case.resource, "effectiveness")), len(escalations))
    current = await load_plan(ctx, case)
    if current is not None:
        plan_stored, plan = current
        plan["status"] = "completed"
        await ctx.repo("CarePlan").update(plan, plan_stored, ctx.now)
    items: list[tuple[str, dict[str, Any]]] = [("closed", {"valueDateTime": instant(ctx.now)})]
    if note:
        items.append(("closing-note", {"valueString": note}))
    await update_phase(ctx, case, Phase.EVALUATION, *items, complete=True)
    for kind, value in items:
        add_output(case.resource, kind, **value)
    return await save_case(ctx, case, Phase.CLOSED, open_case_key=None)
