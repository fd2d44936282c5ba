"""`$validate`: the codes and references a transitions resource must carry (nothing is stored).

These resources are never created by POST (the case's operations make them), so `$validate`
answers whether a resource is one this service could hold: its codes come from the service's
CodeSystems and the services it names are in the directory.
"""

from __future__ import annotations

from typing import Any

from services.kit.errors import Unprocessable
from services.kit.fhir import coding_code, extension, ref
from services.transitions.domain import rules
from services.transitions.domain.codes import (
    CS_CAREPLAN_CATEGORY,
    CS_CLINICAL_REASON,
    CS_DESTINATION,
    CS_PHASE,
    CS_TASK,
    EXT_AGREEMENT,
    EXT_RESPONDENT,
    EXT_SHARED,
    FEEDBACK_QUESTIONNAIRE,
    Agreement,
    ClinicalServiceReason,
    DestinationKind,
    Respondent,
    TaskCode,
    parse_code,
)
from services.transitions.domain.phases import Phase
from services.transitions.service.context import Context


async def validate_task(ctx: Context, resource: dict[str, Any]) -> None:
    """A transitions Task: its code, and its phase when it is a case or phase Task."""
    code = parse_code(TaskCode, coding_code(resource.get("code"), CS_TASK), "Task.code")
    if code is not TaskCode.ESCALATION:
        parse_code(Phase, coding_code(resource.get("businessStatus"), CS_PHASE), "Task.businessStatus")
    for_ = ref(resource.get("for"))
    if not for_ or not for_.startswith("Patient/"):
        raise Unprocessable("A transitions Task is for a Patient", "Task.for")


async def validate_care_plan(ctx: Context, resource: dict[str, Any]) -> None:
    """A transition plan: its category, agreed when active, and destinations of the kinds FR-61 allows."""
    if coding_code(resource.get("category"), CS_CAREPLAN_CATEGORY) != "transition-plan":
        raise Unprocessable(
            f"A transition plan has the category {CS_CAREPLAN_CATEGORY}|transition-plan", "CarePlan.category"
        )
    if resource.get("status") == "active":
        # Only the young person's agreement, after the plan was shared, formalises it (FR-56).
        parts = (extension(resource, EXT_AGREEMENT) or {}).get("extension") or []
        decisions = [p.get("valueCode") for p in parts if p.get("url") == "decision"]
        if decisions != [Agreement.AGREED.value] or extension(resource, EXT_SHARED) is None:
            raise Unprocessable(
                "A transition plan is active only when the young person has agreed to it, after it was shared "
                "with them (FR-56)",
                "CarePlan.extension('transition-plan-young-person-agreement')",
            )
    for index, item in enumerate(resource.get("activity") or []):
        detail = item.get("detail") or {}
        where = f"CarePlan.activity[{index}].detail"
        kind = parse_code(DestinationKind, coding_code(detail.get("code"), CS_DESTINATION), f"{where}.code")
        team = ctx.team(ref((detail.get("performer") or [None])[0]), f"{where}.performer")
        reason_code = coding_code(detail.get("reasonCode"), CS_CLINICAL_REASON)
        reason = parse_code(ClinicalServiceReason, reason_code, f"{where}.reasonCode") if reason_code else None
        try:
            rules.check_destination(rules.Destination(kind, team, reason))
        except Unprocessable as error:
            raise type(error)(error.diagnostics, f"{where}") from None


async def validate_feedback(ctx: Context, resource: dict[str, Any]) -> None:
    """Transition feedback: the feedback Questionnaire and a known respondent."""
    if resource.get("questionnaire") != FEEDBACK_QUESTIONNAIRE:
        raise Unprocessable(
            f"Transition feedback answers {FEEDBACK_QUESTIONNAIRE}", "QuestionnaireResponse.questionnaire"
        )
    respondent = (extension(resource, EXT_RESPONDENT) or {}).get("valueCode")
    parse_code(Respondent, respondent, "QuestionnaireResponse.extension('transition-feedback-respondent')")
