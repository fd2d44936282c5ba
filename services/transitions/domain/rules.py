"""The rules a transition case keeps, each named by the requirement it comes from.

Every function takes plain values (the service layer has read the FHIR resources and asked the
other services) and either returns a decision or raises a kit error naming the element at fault.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from reference.partnership import Role, ServiceType, Team
from services.kit.errors import Conflict, RequiredMissing, Unprocessable
from services.kit.parameters import where as param
from services.transitions.domain import dates
from services.transitions.domain.codes import (
    ClinicalServiceReason,
    DestinationKind,
    Effectiveness,
    Experience,
    HighRiskReason,
    Respondent,
)
from services.transitions.domain.dates import Thresholds

OPEN_EPISODE_STATUSES = frozenset({"planned", "waitlist", "active", "onhold"})
CASELOAD_STATUSES = ("active", "onhold")


def part(name: str, part_name: str) -> str:
    """The FHIRPath of a part of a named parameter."""
    return f"{param(name)}.part.where(name='{part_name}')"


# ---------------------------------------------------------------- opening a case (FR-52)


@dataclass(frozen=True)
class Episode:
    """A caseload EpisodeOfCare as the referrals service holds it."""

    id: str
    patient: str
    status: str
    team: Team | None
    start: date | None = None

    @property
    def is_open_cyp(self) -> bool:
        """An open episode at a CYPMHS team (NLMHP's own or an external provider's: Q-TR-25)."""
        return self.team is not None and self.team.type is ServiceType.CYPMHS and self.status in OPEN_EPISODE_STATUSES


def choose_cyp_episode(patient: str, episodes: Sequence[Episode], wanted: str | None) -> Episode:
    """The open CYPMHS episode a case belongs to: the one named, or the person's only one (FR-52)."""
    if wanted is not None:
        found = next((e for e in episodes if f"EpisodeOfCare/{e.id}" == wanted), None)
        if found is None or found.patient != patient:
            raise Unprocessable(f"{wanted} is not an episode of care of {patient}", param("episode"))
        if not found.is_open_cyp:
            raise Unprocessable(
                f"{wanted} is not an open CYPMHS episode; a transition case belongs to a young person "
                "on a CYPMHS caseload (FR-52)",
                param("episode"),
            )
        return found
    open_cyp = [e for e in episodes if e.patient == patient and e.is_open_cyp]
    if not open_cyp:
        raise Unprocessable(
            f"{patient} has no open CYPMHS episode of care; a transition case belongs to a young person "
            "on a CYPMHS caseload (FR-52)",
            param("patient"),
        )
    if len(open_cyp) > 1:
        raise RequiredMissing(
            f"{patient} has {len(open_cyp)} open CYPMHS episodes; name the one in 'episode'", param("episode")
        )
    return open_cyp[0]


def check_referring_worker(role: Role | None, reference: str, sending: Team) -> Role:
    """The referring worker is a worker of the CYPMHS team holding the episode (Q-TR-04)."""
    if role is None:
        raise Unprocessable(f"{reference} is not a PractitionerRole in the directory", param("referringWorker"))
    if "gp" in role.codes:
        raise Unprocessable("A GP is not the referring worker of a transition (FR-54)", param("referringWorker"))
    if role.team != sending.id:
        raise Unprocessable(
            f"{reference} does not work in {sending.name}, which holds the young person's CYPMHS episode; "
            "the referring worker is the CYPMHS worker",
            param("referringWorker"),
        )
    return role


# ---------------------------------------------------------------- phase 1 (FR-53)


@dataclass(frozen=True)
class Discussion:
    """A pre-transition discussion as recorded."""

    on: date
    deadline: date
    late: bool
    age_months: int


def record_discussion(birth: date, on: date, today: date, thresholds: Thresholds = dates.DEFAULT) -> Discussion:
    """Phase 1: the discussion's date, its 17½ deadline and whether it was late (FR-53)."""
    if on > today:
        raise Unprocessable("A discussion is recorded once it has happened; the date is in the future", param("date"))
    if on < birth:
        raise Unprocessable("The discussion date is before the young person's birth", param("date"))
    deadline = dates.phase1_deadline(birth, thresholds)
    return Discussion(on, deadline, dates.late_initiation(on, birth, thresholds), dates.age_in_months(birth, on))


# ---------------------------------------------------------------- phase 2 (FR-54)


def check_support_decision(needed: bool, agreed_by: Collection[str], patient: str, reason: str | None) -> None:
    """Support is agreed by the young person and a worker; `no` records its reason (FR-54)."""
    if patient not in agreed_by:
        raise Unprocessable(
            "The decision about transition support is agreed with the young person: include "
            f"{patient} in agreedBy (FR-54)",
            param("agreedBy"),
        )
    if not any(a.startswith("PractitionerRole/") for a in agreed_by):
        raise Unprocessable("agreedBy names the worker who agreed as well (a PractitionerRole)", param("agreedBy"))
    if not needed and not reason:
        raise RequiredMissing("A decision that no support is needed records the reason (FR-54)", param("reason"))


def check_referral_route(requester: Role, destination: Team, where: str) -> None:
    """No GP anywhere in a transition referral (FR-54, FR-2): neither requester nor destination."""
    if "gp" in requester.codes:
        raise Unprocessable("A GP never raises a transition referral", where)
    if destination.type is ServiceType.GP:
        raise Unprocessable("A transition referral never goes to a GP", where)


# ---------------------------------------------------------------- phase 3 (FR-55, FR-56, FR-61)


@dataclass(frozen=True)
class Meeting:
    """A multi-agency transition meeting: invitees and attendees are separate (FR-55)."""

    held: datetime
    invitees: tuple[str, ...]
    attendees: tuple[str, ...]


def check_meeting(meeting: Meeting, referring_worker: str, now: datetime) -> None:
    """The young person's referring worker is invited, or the meeting is refused (FR-55)."""
    if meeting.held > now:
        raise Unprocessable("A meeting is recorded once it has been held; the date is in the future", param("date"))
    if referring_worker not in meeting.invitees:
        raise Unprocessable(
            f"The young person's referring worker ({referring_worker}) must be invited to the transition "
            "meeting (FR-55)",
            param("invitee"),
        )


# Which services each kind of destination may name (FR-61). There is no 18-25 service in the
# directory yet, so a young-adult destination names an adult community team (Q-TR-14).
_INTENSIVE = frozenset(
    {
        ServiceType.PSYCHOSIS_REHAB,
        ServiceType.EIP,
        ServiceType.MOOD_ANXIETY,
        ServiceType.PERSONALITY_DISORDER,
        ServiceType.EATING_DISORDERS,
    }
)
DESTINATION_TYPES: dict[DestinationKind, frozenset[ServiceType]] = {
    DestinationKind.ADULT_CORE_CMHT: frozenset({ServiceType.CORE_CMHT}),
    DestinationKind.INTENSIVE: _INTENSIVE,
    DestinationKind.YOUNG_ADULT: _INTENSIVE
    | {ServiceType.CORE_CMHT, ServiceType.SUBSTANCE_MISUSE, ServiceType.ADHD, ServiceType.AUTISM},
    DestinationKind.TRANSITIONS_CLINICAL: frozenset({ServiceType.TRANSITIONS}),
    DestinationKind.REMAIN_CYP: frozenset({ServiceType.CYPMHS}),
}


@dataclass(frozen=True)
class Destination:
    """Where the plan sends the young person."""

    kind: DestinationKind
    team: Team
    reason: ClinicalServiceReason | None = None

    @property
    def needs_referral(self) -> bool:
        """Whether actioning sends a referral (remaining in the CYP 0-25 service does not)."""
        return self.kind is not DestinationKind.REMAIN_CYP


def check_destination(destination: Destination, name: str = "destination") -> Destination:
    """A destination is a service of its kind; the Transitions clinical service needs its reason (FR-61)."""
    if destination.team.type is ServiceType.GP:
        raise Unprocessable("A transition plan never sends the young person to a GP", part(name, "service"))
    allowed = DESTINATION_TYPES[destination.kind]
    if destination.team.type not in allowed:
        raise Unprocessable(
            f"{destination.team.name} is not a {destination.kind.value} (expected: "
            + ", ".join(sorted(t.value for t in allowed))
            + ")",
            part(name, "service"),
        )
    if destination.kind is DestinationKind.TRANSITIONS_CLINICAL and destination.reason is None:
        raise RequiredMissing(
            "The Transitions team's clinical service is a destination when the young person does not meet "
            "adult eligibility or has lost confidence with traditional support: give the reason (FR-61)",
            part(name, "reason"),
        )
    if destination.kind is not DestinationKind.TRANSITIONS_CLINICAL and destination.reason is not None:
        raise Unprocessable(
            "A reason applies only to the Transitions clinical service destination", part(name, "reason")
        )
    return destination


def check_share(plan_exists: bool) -> None:
    """A plan is shared once the meeting has developed it."""
    if not plan_exists:
        raise Conflict(
            "There is no transition plan to share yet: record the multi-agency meeting first (FR-59)",
            "Task.focus",
        )


SHARED = "CarePlan.extension('transition-plan-shared-with-young-person')"


def check_agreement(shared_at: datetime | None, decided_by: str | None, patient: str) -> None:
    """Agreement is the young person's own, after the plan is shared with them (FR-56, P-8)."""
    if shared_at is None:
        raise Unprocessable(
            "The plan has not been shared with the young person; share it before recording their agreement (FR-56)",
            SHARED,
        )
    if decided_by != patient:
        raise Unprocessable(
            f"Only the young person ({patient}) decides whether the plan becomes formal; there is no "
            "parent or clinician override (FR-56)",
            param("decidedBy"),
        )


def check_formalised(plan_status: str | None) -> None:
    """Phase 4 needs a formalised (active) plan: the young person agreed to it (FR-56)."""
    if plan_status != "active":
        raise Conflict(
            "The transition plan is not formalised: it becomes active only with the young person's agreement (FR-56)",
            "CarePlan.status",
        )


# ---------------------------------------------------------------- phase 4 (FR-57, FR-64)


@dataclass(frozen=True)
class AlternativeTime:
    """An agreed alternative to actioning the plan at 18 (FR-57, P-7)."""

    on: date
    agreed_by: tuple[str, ...]
    rationale: str | None


def check_alternative_time(alternative: AlternativeTime, patient: str) -> None:
    """Another date needs who agreed (the young person included) and why (FR-57, P-7)."""
    if not alternative.agreed_by:
        raise RequiredMissing("An alternative action date records who agreed to it (FR-57)", param("agreedBy"))
    if patient not in alternative.agreed_by:
        raise Unprocessable(
            f"An alternative time is agreed with the young person: include {patient} in agreedBy (P-7)",
            param("agreedBy"),
        )
    if not alternative.rationale:
        raise RequiredMissing("An alternative action date records why it was agreed (FR-57)", param("rationale"))


def check_actioning(plan_status: str | None, cyp_summary: str | None) -> None:
    """Actioning needs the formalised plan and a CYP summary to travel with the referrals (FR-64)."""
    check_formalised(plan_status)
    if not cyp_summary:
        raise RequiredMissing(
            "The adult-service referrals carry a summary of the young person's CYPMHS history, so they do not "
            "tell their story again (FR-64, Q-TR-09): give cypSummary",
            param("cypSummary"),
        )


# ---------------------------------------------------------------- phase 5 (FR-58, FR-62, FR-63)

YOUNG_PERSON_FEEDBACK = "Task.output.where(type.coding.code='young-person-feedback')"


@dataclass(frozen=True)
class Feedback:
    """One respondent's feedback, or the young person declining to give it."""

    respondent: Respondent
    source: str
    declined: bool
    experience: Experience | None


def check_feedback(feedback: Feedback, patient: str) -> None:
    """Each respondent is who they say; feedback given rates the experience (FR-58, M-54)."""
    expected = {
        Respondent.YOUNG_PERSON: "Patient/",
        Respondent.FAMILY_CARER: "RelatedPerson/",
        Respondent.REFERRING_WORKER: "PractitionerRole/",
        Respondent.ADULT_TEAM: "PractitionerRole/",
    }[feedback.respondent]
    if not feedback.source.startswith(expected):
        raise Unprocessable(
            f"Feedback from the {feedback.respondent.value.replace('-', ' ')} comes from a {expected[:-1]}",
            param("source"),
        )
    if feedback.respondent is Respondent.YOUNG_PERSON and feedback.source != patient:
        raise Unprocessable(f"The young person's feedback comes from {patient}", param("source"))
    if not feedback.declined and feedback.experience is None:
        raise RequiredMissing(
            "Feedback rates the experience of the transition (or records that feedback was declined)",
            param("experience"),
        )


def check_review(has_young_person_feedback: bool, outcome: Effectiveness, actions: str | None) -> None:
    """The effectiveness review rests on the young person's feedback (or their declining) (FR-58)."""
    if not has_young_person_feedback:
        raise RequiredMissing(
            "The review is based on feedback: record the young person's feedback, or that they declined to give "
            "it, first (FR-58)",
            YOUNG_PERSON_FEEDBACK,
        )
    if outcome is not Effectiveness.EFFECTIVE and not actions:
        raise RequiredMissing("A plan that was not fully effective records the actions taken", param("actions"))


def check_close(has_young_person_feedback: bool, reviewed: bool, open_escalations: int) -> None:
    """A case never closes over a declined referral (FR-62), and only after feedback and the review (FR-58)."""
    if open_escalations:
        raise Conflict(
            "An adult-service referral was declined; the case cannot close until an alternative destination or "
            "the young person's own choice is recorded with $record-alternative (FR-62)",
            "Task.output.where(type.coding.code='adult-referral-declined')",
        )
    if not has_young_person_feedback:
        raise RequiredMissing(
            "A case closes only after the young person's feedback, or their declining to give it, is recorded (FR-58)",
            YOUNG_PERSON_FEEDBACK,
        )
    if not reviewed:
        raise Conflict(
            "The case closes only after the effectiveness review ($review) (FR-58)",
            "Task.output.where(type.coding.code='effectiveness')",
        )


def check_handover(cyp_end: date, adult_start: date | None, rationale: str | None) -> int | None:
    """Closing CYPMHS care before adult care starts needs a rationale; returns the gap in days (FR-63)."""
    gap = dates.continuity_gap(cyp_end, adult_start)
    if (gap is None or gap > 0) and not rationale:
        what = "an unknown adult start" if gap is None else f"a gap of {gap} days before adult care starts"
        raise RequiredMissing(
            f"Ending CYPMHS care with {what} needs a rationale (FR-63: no gap between CYP and adult care)",
            param("rationale"),
        )
    return gap


def check_alternative(
    open_escalations: int,
    destination: Destination | None,
    choice: str | None,
    decided_by: str | None,
    patient: str,
) -> None:
    """A declined referral is resolved by another destination or the young person's choice (FR-62)."""
    if not open_escalations:
        raise Conflict("No declined adult-service referral is waiting for an alternative", "Task.businessStatus")
    if destination is None and not choice:
        raise RequiredMissing(
            "Give an alternative destination, or the young person's recorded choice (FR-62)", param("destination")
        )
    if destination is not None and choice:
        raise Unprocessable("Give either an alternative destination or the young person's choice", param("choice"))
    if choice and decided_by != patient:
        raise Unprocessable(
            f"The choice recorded is the young person's own: decidedBy is {patient}", param("decidedBy")
        )


# ---------------------------------------------------------------- high risk (FR-60)


def check_high_risk(flag: bool, reasons: Collection[HighRiskReason], note: str | None) -> None:
    """A high-risk flag carries its reasons; `other` says what (FR-60)."""
    if flag and not reasons:
        raise RequiredMissing("A high-risk flag gives at least one reason (FR-60)", param("highRiskReason"))
    if HighRiskReason.OTHER in reasons and not note:
        raise RequiredMissing("A high-risk reason of 'other' says what it is", param("highRiskNote"))


# ---------------------------------------------------------------- the phase-1 worklist (FR-53, FR-60)


@dataclass(frozen=True)
class Candidate:
    """A young person on a CYPMHS caseload who has no phase-1 record yet."""

    patient: str
    birth: date
    high_risk: bool
    team: Team
    episode: str
    case: str | None = None


@dataclass(frozen=True)
class WorklistEntry:
    """A candidate due a pre-transition discussion, with its 17½ deadline."""

    candidate: Candidate
    deadline: date
    days_to_deadline: int
    age_months: int

    @property
    def past_deadline(self) -> bool:
        """Whether a discussion today would already be late (FR-53)."""
        return self.days_to_deadline <= 0


def worklist(
    candidates: Sequence[Candidate], today: date, thresholds: Thresholds = dates.DEFAULT
) -> list[WorklistEntry]:
    """Who is due a pre-transition discussion: at or past the lead-in age, high-risk first (FR-60),
    then the nearest deadline first."""
    entries = [
        WorklistEntry(
            c,
            dates.phase1_deadline(c.birth, thresholds),
            dates.days_until(dates.phase1_deadline(c.birth, thresholds), today),
            dates.age_in_months(c.birth, today),
        )
        for c in candidates
        if dates.on_worklist(c.birth, today, thresholds)
    ]
    return sorted(entries, key=lambda e: (not e.candidate.high_risk, e.deadline, e.candidate.patient))
