"""Writing plan content: sections, the contained care team, the service period, flags."""

from __future__ import annotations

from services.careplans.domain.codes import (
    CS_CARE_TEAM_ROLE,
    EXT_CARER_ASSESSMENT,
    EXT_COMPLEX_NEEDS,
    EXT_LONG_TERM,
    EXT_SECTION,
    EXT_SHARING_CONSENT,
    CareTeamRole,
    Section,
)
from services.careplans.domain.fhir import (
    Json,
    add_extension,
    codes,
    complex_extension,
    concept,
    extensions,
    part,
    ref,
    reference,
    set_extension,
    simple,
)
from services.careplans.domain.plans import CARE_TEAM_ID, care_team


def set_section(plan: Json, section: Section, text: str) -> None:
    """Write (or rewrite) one FR-38 section."""
    kept = [e for e in plan.get("extension") or [] if not (e.get("url") == EXT_SECTION and part(e, "code") == section)]
    plan["extension"] = kept
    add_extension(plan, complex_extension(EXT_SECTION, ("code", "Code", section.value), ("text", "String", text)))


def set_flag(plan: Json, url: str, value: bool) -> None:
    """Set a boolean plan extension (long-term, complex needs, copy held ...)."""
    set_extension(plan, url, simple(url, "Boolean", value))


def set_period(plan: Json, start: str | None, end: str | None, long_term: bool | None) -> None:
    """The expected service period (FR-38): a start, and an end or the long-term flag."""
    period = dict(plan.get("period") or {})
    if start:
        period["start"] = start
    if end:
        period["end"] = end
    if period:
        plan["period"] = period
    if long_term is not None:
        set_flag(plan, EXT_LONG_TERM, long_term)


def set_complex_needs(plan: Json, value: bool) -> None:
    """Record whether the person has complex needs (FR-49: they then need a case manager)."""
    set_flag(plan, EXT_COMPLEX_NEEDS, value)


def _team(plan: Json) -> Json:
    team = care_team(plan)
    if team is None:
        team = {"resourceType": "CareTeam", "id": CARE_TEAM_ID, "status": "active", "subject": plan["subject"]}
        plan.setdefault("contained", []).append(team)
        plan.setdefault("careTeam", []).append({"reference": f"#{CARE_TEAM_ID}"})
    return team


def add_member(
    plan: Json,
    role: CareTeamRole,
    member: str,
    consent: str | None = None,
    assessment: tuple[str, str] | None = None,
) -> None:
    """Put someone on the plan's care team in a role (replacing the same person in that role).

    A carer may come with the person's sharing Consent and their own carer assessment (date, outcome).
    """
    team = _team(plan)
    kept = [
        p
        for p in team.get("participant") or []
        if not (ref(p.get("member")) == member and role.value in codes(p.get("role"), CS_CARE_TEAM_ROLE))
    ]
    participant: Json = {"role": [concept(CS_CARE_TEAM_ROLE, role.value)], "member": reference(member)}
    if consent:
        # FR-40: the person's information-sharing Consent that lets this carer read the plan.
        add_extension(participant, simple(EXT_SHARING_CONSENT, "Reference", reference(consent)))
    if assessment:
        # FR-40: carer assessments (date, outcome) are recordable.
        when, outcome = assessment
        add_extension(
            participant, complex_extension(EXT_CARER_ASSESSMENT, ("date", "Date", when), ("outcome", "String", outcome))
        )
    team["participant"] = [*kept, participant]


def has_extension(plan: Json, url: str) -> bool:
    """Whether the plan carries an extension."""
    return bool(extensions(plan, url))
