"""The five-phase transition (Q-TR-01 to Q-TR-06, FR-59) as data.

    1 pre-transition-discussion ──$record-discussion──▶ 2 support-decision
    2 support-decision ──$decide-support(yes)──▶ 3 transition-planning
                       ──$decide-support(no)───▶ not-needed ──$reopen──▶ 2
    3 transition-planning: $record-meeting, $share-plan, $record-agreement(disagreed) stay in 3;
                           $record-agreement(agreed) formalises the plan ──▶ 4 plan-actioning
    4 plan-actioning: $set-action-date stays in 4; $action-plan sends the referrals ──▶ 5 evaluation
    5 evaluation: $record-feedback, $record-handover, $record-alternative, $review stay in 5;
                  $close ──▶ closed
    a declined adult referral (an event, not a client step) keeps the case in 5, or brings a
    closed case back to 5 (FR-62: escalation, not closure)

$flag-high-risk may be applied in any open phase (FR-60). Phases complete in order: a step
that is not allowed in the case's current phase is a 409 naming `Task.businessStatus`.
"""

from __future__ import annotations

from enum import StrEnum

from services.kit.errors import Conflict


class Phase(StrEnum):
    """Where a transition case is: the case Task's businessStatus."""

    DISCUSSION = "pre-transition-discussion"
    SUPPORT = "support-decision"
    PLANNING = "transition-planning"
    ACTION = "plan-actioning"
    EVALUATION = "evaluation"
    CLOSED = "closed"
    NOT_NEEDED = "not-needed"


NUMBER: dict[Phase, int] = {
    Phase.DISCUSSION: 1,
    Phase.SUPPORT: 2,
    Phase.PLANNING: 3,
    Phase.ACTION: 4,
    Phase.EVALUATION: 5,
}

DISPLAY: dict[Phase, str] = {
    Phase.DISCUSSION: "Phase 1: pre-transition discussion",
    Phase.SUPPORT: "Phase 2: agreeing whether transition support is needed",
    Phase.PLANNING: "Phase 3: transition plan developed in a multi-agency meeting",
    Phase.ACTION: "Phase 4: plan actioned at 18 or an agreed alternative time",
    Phase.EVALUATION: "Phase 5: effectiveness evaluated and reviewed from feedback",
    Phase.CLOSED: "Closed after evaluation",
    Phase.NOT_NEEDED: "Closed: no transition support needed (can be reopened)",
}

# The FHIR Task.status of the case in each phase.
CASE_STATUS: dict[Phase, str] = {
    Phase.DISCUSSION: "in-progress",
    Phase.SUPPORT: "in-progress",
    Phase.PLANNING: "in-progress",
    Phase.ACTION: "in-progress",
    Phase.EVALUATION: "in-progress",
    Phase.CLOSED: "completed",
    Phase.NOT_NEEDED: "completed",
}

OPEN = frozenset({Phase.DISCUSSION, Phase.SUPPORT, Phase.PLANNING, Phase.ACTION, Phase.EVALUATION})


class Step(StrEnum):
    """A named operation on a case (or, for ESCALATE, an event the case reacts to)."""

    RECORD_DISCUSSION = "record-discussion"
    DECIDE_SUPPORT = "decide-support"
    REOPEN = "reopen"
    RECORD_MEETING = "record-meeting"
    SHARE_PLAN = "share-plan"
    RECORD_AGREEMENT = "record-agreement"
    SET_ACTION_DATE = "set-action-date"
    ACTION_PLAN = "action-plan"
    RECORD_FEEDBACK = "record-feedback"
    RECORD_HANDOVER = "record-handover"
    RECORD_ALTERNATIVE = "record-alternative"
    REVIEW = "review"
    CLOSE = "close"
    FLAG_HIGH_RISK = "flag-high-risk"
    ESCALATE = "escalate"


def _only(*phases: Phase) -> frozenset[Phase]:
    return frozenset(phases)


# No target phases: the step leaves the case in whichever phase it is in.
STAY: frozenset[Phase] = frozenset()

# step -> (phases it may be applied in, phases it may lead to)
STEPS: dict[Step, tuple[frozenset[Phase], frozenset[Phase]]] = {
    Step.RECORD_DISCUSSION: (_only(Phase.DISCUSSION), _only(Phase.SUPPORT)),
    Step.DECIDE_SUPPORT: (_only(Phase.SUPPORT), _only(Phase.PLANNING, Phase.NOT_NEEDED)),
    Step.REOPEN: (_only(Phase.NOT_NEEDED), _only(Phase.SUPPORT)),
    Step.RECORD_MEETING: (_only(Phase.PLANNING), _only(Phase.PLANNING)),
    Step.SHARE_PLAN: (_only(Phase.PLANNING), _only(Phase.PLANNING)),
    Step.RECORD_AGREEMENT: (_only(Phase.PLANNING), _only(Phase.PLANNING, Phase.ACTION)),
    Step.SET_ACTION_DATE: (_only(Phase.ACTION), _only(Phase.ACTION)),
    Step.ACTION_PLAN: (_only(Phase.ACTION), _only(Phase.EVALUATION)),
    Step.RECORD_FEEDBACK: (_only(Phase.EVALUATION), _only(Phase.EVALUATION)),
    Step.RECORD_HANDOVER: (_only(Phase.EVALUATION), _only(Phase.EVALUATION)),
    Step.RECORD_ALTERNATIVE: (_only(Phase.EVALUATION), _only(Phase.EVALUATION)),
    Step.REVIEW: (_only(Phase.EVALUATION), _only(Phase.EVALUATION)),
    Step.CLOSE: (_only(Phase.EVALUATION), _only(Phase.CLOSED)),
    Step.FLAG_HIGH_RISK: (OPEN, STAY),
    Step.ESCALATE: (_only(Phase.EVALUATION, Phase.CLOSED), _only(Phase.EVALUATION)),
}

# The steps a client may call as operations (ESCALATE comes only from a referral-declined event).
OPERATIONS = tuple(s for s in Step if s is not Step.ESCALATE)


def allowed(step: Step, phase: Phase) -> bool:
    """Whether `step` may be applied to a case in `phase`."""
    return phase in STEPS[step][0]


def check_step(step: Step, phase: Phase, target: Phase | None = None) -> None:
    """Raise 409 unless `step` may be applied in `phase` (and lead to `target`): FR-59."""
    sources, targets = STEPS[step]
    if phase not in sources:
        where = ", ".join(DISPLAY[p] for p in sorted(sources, key=_order))
        raise Conflict(
            f"Cannot {step.value} while the case is at {DISPLAY[phase].lower()}; "
            f"phases complete in order and {step.value} belongs to: {where} (FR-59)",
            "Task.businessStatus",
        )
    if target is not None and target not in (targets or {phase}):
        raise Conflict(f"{step.value} cannot lead to {target.value}", "Task.businessStatus")


def next_phase(step: Step, phase: Phase, target: Phase | None = None) -> Phase:
    """The phase after applying `step` (checked); `target` chooses when the step has several."""
    check_step(step, phase, target)
    targets = STEPS[step][1]
    if target is not None:
        return target
    if not targets or phase in targets:
        return phase
    if len(targets) != 1:
        raise ValueError(f"{step.value} leads to several phases; say which")
    (only,) = targets
    return only


def _order(phase: Phase) -> int:
    return NUMBER.get(phase, 6)
