"""The care-plan lifecycle as data.

    draft ──activate──▶ active ──complete──▶ completed
      │                   │
      └──revise──┐        ├──supersede──▶ revoked   (a newer crisis plan replaces it: FR-43)
                 ▼        ├──revise──▶ active       (a DIALOG+ session or a content update)
               draft      └──review──▶ active       (FR-42)

A plan becomes active only through `$activate`, which applies the co-production gate (FR-37);
a plain PUT never moves a status. Completed and revoked plans do not change. A verb that is
not allowed from the current status is a 409.
"""

from __future__ import annotations

from enum import StrEnum

from services.careplans.domain.codes import PlanStatus
from services.kit.errors import Conflict


class Verb(StrEnum):
    """Something that changes a plan."""

    ACTIVATE = "activate"
    REVISE = "revise"
    REVIEW = "review"
    COMPLETE = "complete"
    SUPERSEDE = "supersede"


_OPEN = frozenset({PlanStatus.DRAFT, PlanStatus.ACTIVE})

# verb -> (statuses it may be applied in, status it leads to; None keeps the status)
MOVES: dict[Verb, tuple[frozenset[PlanStatus], PlanStatus | None]] = {
    Verb.ACTIVATE: (frozenset({PlanStatus.DRAFT}), PlanStatus.ACTIVE),
    Verb.REVISE: (_OPEN, None),
    Verb.REVIEW: (frozenset({PlanStatus.ACTIVE}), None),
    Verb.COMPLETE: (frozenset({PlanStatus.ACTIVE}), PlanStatus.COMPLETED),
    Verb.SUPERSEDE: (frozenset({PlanStatus.ACTIVE}), PlanStatus.REVOKED),
}


def allowed(verb: Verb, current: PlanStatus) -> bool:
    """Whether `verb` may be applied to a plan in `current`."""
    return current in MOVES[verb][0]


def next_status(verb: Verb, current: PlanStatus) -> PlanStatus:
    """The status a plan has after `verb`, or a 409 when the verb is not allowed now."""
    sources, target = MOVES[verb]
    if current not in sources:
        raise Conflict(
            f"Cannot {verb.value} a plan that is {current.value}; "
            f"{verb.value} applies to: {', '.join(sorted(s.value for s in sources))}",
            "CarePlan.status",
        )
    return target or current


def is_open(status: PlanStatus) -> bool:
    """Whether a plan can still change (draft or active)."""
    return status in _OPEN
