"""The referral lifecycle (FR-4) as data.

    received ──triage──▶ triage
       │                   │
       ├──accept───────────┼──▶ accepted-waiting ──start──▶ started ──complete──▶ closed
       ├──decline──────────┼──▶ declined | advice-only | signposted   (never nowhere: FR-6)
       ├──redirect─────────┴──▶ redirected   (a new referral keeps the clock: FR-11)
       └──cancel──▶ cancelled   (also from triage and accepted-waiting)

Escalation is orthogonal (a flag and a separate Task), so it is not a state here. A verb that
is not allowed from the current state is a 409.
"""

from __future__ import annotations

from enum import StrEnum

from services.kit.errors import Conflict
from services.referrals.domain.codes import State


class Verb(StrEnum):
    """A named operation that moves a referral."""

    TRIAGE = "triage"
    ACCEPT = "accept"
    DECLINE = "decline"
    REDIRECT = "redirect"
    START = "start"
    COMPLETE = "complete"
    CANCEL = "cancel"
    ESCALATE = "escalate"


_UNDECIDED = frozenset({State.RECEIVED, State.TRIAGE})

# verb -> (states it may be applied in, states it may lead to)
MOVES: dict[Verb, tuple[frozenset[State], frozenset[State]]] = {
    Verb.TRIAGE: (frozenset({State.RECEIVED}), frozenset({State.TRIAGE})),
    Verb.ACCEPT: (_UNDECIDED, frozenset({State.ACCEPTED_WAITING})),
    Verb.DECLINE: (_UNDECIDED, frozenset({State.DECLINED, State.ADVICE_ONLY, State.SIGNPOSTED})),
    Verb.REDIRECT: (_UNDECIDED, frozenset({State.REDIRECTED})),
    Verb.START: (_UNDECIDED | {State.ACCEPTED_WAITING}, frozenset({State.STARTED})),
    Verb.COMPLETE: (frozenset({State.ACCEPTED_WAITING, State.STARTED}), frozenset({State.CLOSED})),
    Verb.CANCEL: (_UNDECIDED | {State.ACCEPTED_WAITING}, frozenset({State.CANCELLED})),
    Verb.ESCALATE: (_UNDECIDED | {State.ACCEPTED_WAITING}, frozenset()),
}


def allowed(verb: Verb, current: State) -> bool:
    """Whether `verb` may be applied to a referral in `current`."""
    return current in MOVES[verb][0]


def check_move(verb: Verb, current: State, target: State | None = None) -> None:
    """Raise 409 unless `verb` may move a referral from `current` (to `target`)."""
    sources, targets = MOVES[verb]
    if current not in sources:
        raise Conflict(
            f"Cannot {verb.value} a referral that is {current.value}; "
            f"{verb.value} applies to: {', '.join(sorted(s.value for s in sources))}",
            "Task.businessStatus",
        )
    if target is not None and target not in targets:
        raise Conflict(f"{verb.value} cannot lead to {target.value}", "Task.businessStatus")
