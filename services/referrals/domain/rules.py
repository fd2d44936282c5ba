"""The rules a referral must keep, each named by the requirement it comes from.

Every function takes plain values (the service layer has read the FHIR resources) and either
returns a decision or raises a kit error naming the element at fault.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from reference.partnership import Role, ServiceType, Team
from services.kit.errors import Conflict, RequiredMissing, Unprocessable
from services.referrals.domain.codes import (
    PROHIBITED_DECLINE_REASONS,
    ClosureReason,
    DeclineReason,
    Direction,
    LessRestrictiveOption,
    NextStep,
    ReferralSource,
    State,
)


def param(name: str) -> str:
    """The FHIRPath of a named parameter in an operation's Parameters body."""
    return f"Parameters.parameter.where(name='{name}')"


# ---------------------------------------------------------------- new referrals (FR-1..3, 17, 22, 24, 30, 31)


@dataclass(frozen=True)
class Draft:
    """What the rules need to know about a referral being created."""

    source: ReferralSource
    requester_type: str
    requester_role: Role | None
    requester_team: Team | None
    requester_internal: bool
    requester_holds_episode: bool
    performer: Team
    less_restrictive: tuple[LessRestrictiveOption, ...] = ()
    planned_days: float | None = None
    redirecting: bool = False


@dataclass(frozen=True)
class Routing:
    """Where a new referral goes: its own performer, or (self-referrals) the borough SPA."""

    route_to_spa: bool
    direction: Direction
    over_duration: bool = False


SELF_SOURCES = frozenset({ReferralSource.SELF, ReferralSource.FAMILY_CARER})


def direction(sender: Team | None, sender_internal: bool, receiver: Team) -> Direction:
    """Step-up, step-down, lateral, crisis or external, from the clinical-model levels (FR-22)."""
    if receiver.level == 6:
        return Direction.CRISIS
    if sender is None or not sender_internal:
        return Direction.EXTERNAL
    if receiver.level > sender.level:
        return Direction.STEP_UP
    if receiver.level < sender.level:
        return Direction.STEP_DOWN
    return Direction.LATERAL


def check_new_referral(draft: Draft, *, crisis_house_over_limit: str = "reject") -> Routing:
    """Apply the creation rules; returns where the referral goes."""
    if draft.source is ReferralSource.INTERNAL_TEAM:
        # FR-3: an internal referral is raised by the responsible worker in an internal team.
        if draft.requester_role is None or not draft.requester_internal:
            raise Unprocessable(
                "An internal referral must be requested by a PractitionerRole in a partnership team "
                "(the responsible worker); a GP or external requester cannot raise one (FR-3)",
                "ServiceRequest.requester",
            )
        if not (draft.requester_holds_episode or draft.redirecting):
            raise Unprocessable(
                "The requester's team holds no active episode of care for this person; the "
                "responsible worker is the one whose team holds the episode (FR-3)",
                "ServiceRequest.requester",
            )
    if draft.source in SELF_SOURCES:
        if draft.requester_type not in ("Patient", "RelatedPerson"):
            raise Unprocessable(
                "A self or carer referral is requested by the Patient or a RelatedPerson",
                "ServiceRequest.requester",
            )
    elif draft.requester_type in ("Patient", "RelatedPerson"):
        raise Unprocessable(
            "A referral requested by the person or a carer has source 'self' or 'family-carer'",
            "ServiceRequest.category",
        )
    routing_direction = direction(draft.requester_team, draft.requester_internal, draft.performer)
    if draft.source in SELF_SOURCES and not draft.performer.accepts_self_referral:
        # FR-17: routed to the SPA, whose own rules then apply; never refused for the performer's.
        return Routing(route_to_spa=True, direction=routing_direction)
    if draft.performer.level == 7 and not draft.less_restrictive:
        raise RequiredMissing(
            "A referral to inpatient care records the less restrictive options considered (FR-30)",
            "ServiceRequest.extension('less-restrictive-option')",
        )
    over = False
    limit = draft.performer.max_planned_days
    if limit is not None:
        if draft.planned_days is None:
            raise RequiredMissing(
                f"A {draft.performer.name} referral states its planned stay (occurrencePeriod)",
                "ServiceRequest.occurrencePeriod",
            )
        if draft.planned_days > limit:
            if crisis_house_over_limit == "reject":
                raise Unprocessable(
                    f"A crisis house stay is at most {limit} days; this plans {draft.planned_days:g} (FR-31)",
                    "ServiceRequest.occurrencePeriod",
                )
            over = True
    return Routing(route_to_spa=False, direction=routing_direction, over_duration=over)


# ---------------------------------------------------------------- decisions (FR-2, 6, 7, 10, 11)


def check_destination(destination: Team | None, current: Team, where: str) -> Team:
    """A redirect or next step goes to a real service, never back to a GP (FR-2)."""
    if destination is None:
        raise RequiredMissing("A destination service is required", where)
    if destination.type is ServiceType.GP:
        raise Unprocessable(
            "A referral is never sent back to a GP: the partnership refers onward itself (FR-2)",
            where,
        )
    if destination.id == current.id:
        raise Unprocessable("A referral cannot be redirected to the team that holds it", where)
    return destination


@dataclass(frozen=True)
class Decline:
    """A decline as recorded by the receiving team."""

    reason: DeclineReason
    rationale: str | None
    assessment: str | None
    next_step: NextStep | None
    destination: Team | None
    advice: str | None
    commissioning_rule: str | None = None
    injury_date: date | None = None
    mental_illness_onset: date | None = None


@dataclass(frozen=True)
class DeclineOutcome:
    """What a valid decline leads to."""

    state: State
    next_step: NextStep


def check_decline(decline: Decline, current: Team) -> DeclineOutcome:
    """A decline is assessment-based and always goes somewhere (FR-6, FR-7, FR-11)."""
    if decline.reason in PROHIBITED_DECLINE_REASONS:
        raise Unprocessable(
            f"{decline.reason.value!r} cannot be a reason to decline: {PROHIBITED_DECLINE_REASONS[decline.reason]}",
            param("reason"),
        )
    if not decline.assessment:
        raise RequiredMissing(
            "A decline cites the needs and engagement assessment it rests on (FR-6)",
            param("assessment"),
        )
    if not decline.rationale:
        raise RequiredMissing("A decline gives its rationale (FR-6)", param("rationale"))
    if decline.destination is not None:
        # FR-2: whatever the next step, a destination is never a GP.
        check_destination(decline.destination, current, param("destination"))
    if decline.reason is DeclineReason.ADVICE_ONLY:
        if not decline.advice:
            raise RequiredMissing("Advice-only records the advice sent to the referrer (FR-7)", param("advice"))
        return DeclineOutcome(State.ADVICE_ONLY, NextStep.ADVICE)
    if decline.reason is DeclineReason.SIGNPOST_HOUSING:
        check_destination(decline.destination, current, param("destination"))
        return DeclineOutcome(State.SIGNPOSTED, NextStep.SIGNPOST)
    if decline.reason is DeclineReason.NOT_COMMISSIONED and not decline.commissioning_rule:
        raise RequiredMissing(
            "A not-commissioned decline names the commissioned-scope rule (Q-ELG-09)",
            param("commissioningRule"),
        )
    if decline.reason is DeclineReason.NOT_COMMISSIONED_BRAIN_INJURY:
        onset = decline.mental_illness_onset
        if onset is not None and (decline.injury_date is None or onset < decline.injury_date):
            raise Unprocessable(
                "The person had a mental illness before the brain injury; the partnership "
                "continues to serve them (FR-7, 000:934)",
                param("reason"),
            )
    if decline.next_step is None:
        raise RequiredMissing(
            "A decline says where the person goes next: redirect, advice, signpost or escalate (FR-6)",
            param("nextStep"),
        )
    if decline.next_step in (NextStep.REDIRECT, NextStep.SIGNPOST):
        check_destination(decline.destination, current, param("destination"))
    if decline.next_step is NextStep.ADVICE and not decline.advice:
        raise RequiredMissing("Advice as a next step records the advice given", param("advice"))
    state = State.SIGNPOSTED if decline.next_step is NextStep.SIGNPOST else State.DECLINED
    return DeclineOutcome(state, decline.next_step)


@dataclass(frozen=True)
class WaitingSupport:
    """How a person is supported while on a waiting list (FR-10)."""

    support: str | None = None
    support_offered: str | None = None
    no_support_assessor: str | None = None
    no_support_rationale: str | None = None
    no_support_assessed_at: datetime | None = None


def check_waiting_support(support: WaitingSupport) -> bool:
    """Accepting onto a waiting list needs interim support or an assessment that none is
    clinically appropriate (FR-10, 000:1345). Returns True when support is in place."""
    if support.support:
        if not support.support_offered:
            raise RequiredMissing(
                "Interim support says what is offered while the person waits (FR-10)",
                param("supportOffered"),
            )
        return True
    if support.no_support_assessor or support.no_support_rationale or support.no_support_assessed_at:
        missing = [
            name
            for name, value in (
                ("noSupportAssessor", support.no_support_assessor),
                ("noSupportRationale", support.no_support_rationale),
                ("noSupportAssessedAt", support.no_support_assessed_at),
            )
            if not value
        ]
        if missing:
            raise RequiredMissing(
                "An assessment that no interim support is appropriate records the assessor, the "
                "time and the rationale (FR-10)",
                [param(m) for m in missing],
            )
        return False
    raise RequiredMissing(
        "Nobody waits without support unless a clinician has assessed that as appropriate: give "
        "waitingSupport (a CarePlan, EpisodeOfCare or named worker) or the no-support assessment (FR-10)",
        param("waitingSupport"),
    )


# ---------------------------------------------------------------- closing (FR-9, FR-29)


@dataclass(frozen=True)
class Closure:
    """A request to close a referral or an episode."""

    reason: ClosureReason
    smi: bool
    follow_up_attempt: str | None = None
    clinician_decision: str | None = None


def check_closure(closure: Closure) -> None:
    """People with SMI are not closed for non-engagement without follow-up and a decision (FR-29)."""
    if closure.reason is ClosureReason.DID_NOT_ENGAGE and closure.smi:
        missing = [
            n
            for n, v in (
                ("followUpAttempt", closure.follow_up_attempt),
                ("clinicianDecision", closure.clinician_decision),
            )
            if not v
        ]
        if missing:
            raise RequiredMissing(
                "A person with severe mental illness is not discharged for non-engagement without "
                "a recorded follow-up attempt and a clinician's decision (FR-29)",
                [param(m) for m in missing],
            )


@dataclass(frozen=True)
class PendingReferral:
    """An outgoing referral from a team, as far as FR-9 cares."""

    receiver: Team
    state: State


@dataclass(frozen=True)
class Override:
    """An audited override of the keep-supporting rule."""

    rationale: str | None
    clinician: str | None


def check_episode_close(team: Team, outgoing: Collection[PendingReferral], override: Override | None) -> bool:
    """The core team keeps supporting while its referral to an intensive team is pending (FR-9).

    Returns True when the close needed (and had) an override.
    """
    pending = [
        r
        for r in outgoing
        if r.receiver.level == 5 and r.state in (State.RECEIVED, State.TRIAGE, State.ACCEPTED_WAITING)
    ]
    if team.level > 4 or not pending:
        return False
    if override is None:
        raise Conflict(
            f"{team.name} keeps supporting this person while their referral to "
            f"{pending[0].receiver.name} is pending (FR-9); closing needs an override with a "
            "clinical rationale and a named clinician",
            "EpisodeOfCare.status",
        )
    missing = [
        n
        for n, v in (
            ("overrideRationale", override.rationale),
            ("overrideClinician", override.clinician),
        )
        if not v
    ]
    if missing:
        raise RequiredMissing(
            "An override names the clinician and the clinical rationale (FR-9)",
            [param(m) for m in missing],
        )
    return True


# ---------------------------------------------------------------- escalation (FR-5) and panels (FR-23)


def add_working_days(start: datetime, days: int, holidays: Collection[date] = ()) -> datetime:
    """`start` moved forward by `days` working days (Monday to Friday, less holidays)."""
    moment = start
    remaining = days
    while remaining > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5 and moment.date() not in holidays:
            remaining -= 1
    return moment


def escalation_levels_due(received: datetime, now: datetime, team: Team, holidays: Collection[date] = ()) -> list[int]:
    """Which escalation levels are due for an undecided referral (1 after the decision deadline,
    2 after the second one)."""
    levels = []
    if now >= add_working_days(received, team.decision_sla_days, holidays):
        levels.append(1)
    if now >= add_working_days(received, team.decision_sla_level2_days, holidays):
        levels.append(2)
    return levels


def escalation_horizon(now: datetime, teams: Iterable[Team]) -> datetime:
    """No undecided referral received after this instant can have an escalation due at `now`.

    A working day is at least one calendar day, so a level falls due no sooner than its number
    of days after receipt; the sweep reads only referrals received before the shortest deadline.
    """
    return now - timedelta(days=min((team.decision_sla_days for team in teams), default=0))


def check_panel_outcome(team: Team, recommendations: str | None) -> None:
    """A panel's outcome is a recommendations document returned to the referring team (FR-23)."""
    if team.type is ServiceType.PANEL and not recommendations:
        raise RequiredMissing(
            "A panel referral is completed with its recommendations document (FR-23)",
            param("recommendations"),
        )


def panel_meeting(year: int, month: int) -> date:
    """The panel meets on the first Wednesday of each month (cadence: monthly)."""
    first = date(year, month, 1)
    return first + timedelta(days=(2 - first.weekday()) % 7)


def next_panel_slot(accepted: date, taken: Mapping[date, int], capacity: int) -> date:
    """The first monthly meeting after acceptance with room for another case (FR-23)."""
    if capacity < 1:
        raise ValueError("a panel considers at least one case per meeting")
    year, month = accepted.year, accepted.month
    while True:
        meeting = panel_meeting(year, month)
        if meeting > accepted and taken.get(meeting, 0) < capacity:
            return meeting
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
