"""What a care plan must hold: its fields on every write, and the gate to becoming active.

Plan content Continuum adds to R4 CarePlan lives in extensions (`CarePlan.extension('<name>')`
below names `{BASE}/StructureDefinition/<name>`). Care-team roles, carers and their sharing
consent live in a contained CareTeam the plan's `careTeam` points to (`#care-team`).

The activation gate, by category:
- every plan: co-production (FR-37): the person is a contributor and their agreement is
  recorded (when, how), or a capacity assessment found they lack capacity for this decision,
  with the best-interests basis and the people consulted; an advocate when one is needed (FR-41);
- a DIALOG+ personalised plan: the FR-38 content and, for complex needs, a case manager (FR-49);
- a crisis plan: the FR-43 content;
- a waiting-support plan: the named worker, what is offered and how often contact happens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from services.careplans.domain.codes import (
    CS_CARE_TEAM_ROLE,
    CS_CATEGORY,
    EXT_ADVANCE_DECISION,
    EXT_ADVOCACY,
    EXT_AGREEMENT,
    EXT_CAPACITY,
    EXT_CARER_ASSESSMENT,
    EXT_COMPLETION,
    EXT_COMPLEX_NEEDS,
    EXT_COPRODUCED,
    EXT_COPY_HELD,
    EXT_CRISIS_CONTACT,
    EXT_CRISIS_PREFERENCE,
    EXT_EPISODE,
    EXT_FUNDING,
    EXT_LONG_TERM,
    EXT_NEXT_REVIEW,
    EXT_PATHWAY_BACK,
    EXT_PHB,
    EXT_PHYSICAL_HEALTH_CONDITION,
    EXT_REFERRAL,
    EXT_REVIEW,
    EXT_SECTION,
    EXT_SESSION,
    EXT_SHARING_AGREEMENT,
    EXT_SHARING_CONSENT,
    EXT_WARNING_SIGN,
    AgreementMethod,
    BudgetType,
    CareTeamRole,
    Category,
    CompletionReason,
    CrisisOption,
    Funding,
    GoalKind,
    PlanStatus,
    ReviewOutcome,
    Section,
    parse_code,
)
from services.careplans.domain.fhir import (
    Json,
    codes,
    complex_extension,
    extension,
    extensions,
    part,
    parts,
    ref,
    reference,
    value_of,
)
from services.careplans.domain.problems import Problems
from services.kit.errors import RequiredMissing, Unprocessable
from services.kit.parameters import where as param

CARE_TEAM_ID = "care-team"

# Extensions only the server writes (through sessions and operations); a PUT may not change them.
SERVER_MANAGED = (
    EXT_AGREEMENT,
    EXT_CAPACITY,
    EXT_COPRODUCED,
    EXT_SESSION,
    EXT_COMPLETION,
    EXT_REVIEW,
    EXT_NEXT_REVIEW,
    EXT_EPISODE,
)


def at(url: str, sub: str | None = None) -> str:
    """The FHIRPath naming a plan extension (by its short name) or one of its parts."""
    path = f"CarePlan.extension('{url.rsplit('/', 1)[1]}')"
    return f"{path}.extension('{sub}')" if sub else path


# ---------------------------------------------------------------- reading a plan


def category_of(plan: Json) -> Category | None:
    """The plan's Continuum category (None when it carries none)."""
    found = codes(plan.get("category"), CS_CATEGORY)
    return Category(found[0]) if found and found[0] in set(Category) else None


def status_of(plan: Json) -> PlanStatus:
    """The plan's status."""
    return parse_code(PlanStatus, plan.get("status"), "CarePlan.status")


def subject_of(plan: Json) -> str:
    """The person the plan is for."""
    return ref(plan.get("subject")) or ""


def care_team(plan: Json) -> Json | None:
    """The contained CareTeam the plan's `careTeam` points to."""
    targets = {ref(t) for t in plan.get("careTeam") or []}
    for resource in plan.get("contained") or []:
        if resource.get("resourceType") == "CareTeam" and f"#{resource.get('id')}" in targets:
            return resource  # type: ignore[no-any-return]
    return None


def members(plan: Json, role: CareTeamRole) -> list[Json]:
    """The care-team participants holding a role."""
    team = care_team(plan) or {}
    return [p for p in team.get("participant") or [] if role.value in codes(p.get("role"), CS_CARE_TEAM_ROLE)]


def sections(plan: Json) -> dict[str, str]:
    """The plan's FR-38 sections by code."""
    return {str(part(e, "code")): str(part(e, "text") or "") for e in extensions(plan, EXT_SECTION)}


def flag(plan: Json, url: str) -> bool:
    """A boolean extension of the plan (absent is False)."""
    return value_of(extension(plan, url)) is True


# ---------------------------------------------------------------- every write


def _check_reference(problems: Problems, value: object, kinds: tuple[str, ...], where: str) -> None:
    target = ref(value) if isinstance(value, dict) else None
    if not target or not target.startswith(tuple(f"{k}/" for k in kinds)):
        problems.add("value", f"{where} references a {' or '.join(kinds)}", where)


def _check_code(
    problems: Problems, enum: type[Section] | type[CrisisOption] | type[Funding], value: object, where: str
) -> None:
    if str(value) not in {e.value for e in enum}:
        valid = ", ".join(e.value for e in enum)
        problems.add("code-invalid", f"{value!r} is not a known code at {where}; expected one of: {valid}", where)


def _check_strings(problems: Problems, ext: Json, names: Sequence[str], url: str) -> None:
    for name in names:
        text = part(ext, name)
        if not isinstance(text, str) or not text.strip():
            problems.add("required", f"{at(url, name)} is a non-empty valueString", at(url, name))


def _check_sections(problems: Problems, plan: Json) -> None:
    seen: set[str] = set()
    for ext in extensions(plan, EXT_SECTION):
        _check_code(problems, Section, part(ext, "code"), at(EXT_SECTION, "code"))
        _check_strings(problems, ext, ["text"], EXT_SECTION)
        if part(ext, "code") in seen:
            problems.add("duplicate", f"The section {part(ext, 'code')} appears twice", at(EXT_SECTION))
        seen.add(str(part(ext, "code")))


def _check_flags(problems: Problems, plan: Json) -> None:
    for url in (EXT_LONG_TERM, EXT_COMPLEX_NEEDS, EXT_COPY_HELD):
        for ext in extensions(plan, url):
            if not isinstance(ext.get("valueBoolean"), bool):
                problems.add("value", f"{at(url)} is a valueBoolean", at(url))
    for ext in extensions(plan, EXT_FUNDING):
        _check_code(problems, Funding, ext.get("valueCode"), at(EXT_FUNDING))


def _check_budget(problems: Problems, plan: Json) -> None:
    ext = extension(plan, EXT_PHB)
    if ext is None:
        return
    kind = part(ext, "type")
    if str(kind) not in {b.value for b in BudgetType}:
        valid = ", ".join(b.value for b in BudgetType)
        problems.add("code-invalid", f"{kind!r} is not a budget type ({valid})", at(EXT_PHB, "type"))
    amount = part(ext, "amount")
    if not isinstance(amount, dict) or amount.get("currency") != "GBP":
        problems.add("value", "A personal health budget is an amount in GBP (valueMoney)", at(EXT_PHB, "amount"))
    elif not isinstance(amount.get("value"), int | float) or amount["value"] < 0:
        problems.add("value", "A personal health budget is not negative", at(EXT_PHB, "amount"))


def _check_advocacy(problems: Problems, plan: Json) -> None:
    ext = extension(plan, EXT_ADVOCACY)
    if ext is None:
        return
    for name in ("substantialDifficulty", "noAppropriatePerson"):
        if not isinstance(part(ext, name), bool):
            problems.add("value", f"{at(EXT_ADVOCACY, name)} is a valueBoolean", at(EXT_ADVOCACY, name))
    if part(ext, "advocate") is not None:
        _check_reference(
            problems,
            part(ext, "advocate"),
            ("RelatedPerson", "Practitioner", "PractitionerRole", "Organization"),
            at(EXT_ADVOCACY, "advocate"),
        )


def _check_team(problems: Problems, plan: Json) -> None:
    team = care_team(plan)
    if plan.get("careTeam") and team is None:
        problems.add("value", f"careTeam points to the contained CareTeam (#{CARE_TEAM_ID})", "CarePlan.careTeam")
    for i, participant in enumerate((team or {}).get("participant") or []):
        where = f"CarePlan.contained.where(id='{CARE_TEAM_ID}').participant[{i}]"
        roles = codes(participant.get("role"), CS_CARE_TEAM_ROLE)
        if not roles:
            problems.add("required", f"A care-team participant has a role from {CS_CARE_TEAM_ROLE}", f"{where}.role")
        for role in roles:
            _check_code(problems, CareTeamRole, role, f"{where}.role")  # type: ignore[arg-type]
        if CareTeamRole.CARER.value in roles:
            _check_reference(problems, participant.get("member"), ("RelatedPerson",), f"{where}.member")
        elif not ref(participant.get("member")):
            problems.add("required", "A care-team participant names its member", f"{where}.member")
        for ext in extensions(participant, EXT_SHARING_CONSENT):
            _check_reference(problems, ext.get("valueReference"), ("Consent",), f"{where}.extension")
        for ext in extensions(participant, EXT_CARER_ASSESSMENT):
            if CareTeamRole.CARER.value not in roles or not part(ext, "date") or not part(ext, "outcome"):
                problems.add(
                    "required",
                    "A carer assessment belongs to a carer and records its date and outcome (FR-40)",
                    f"{where}.extension('carer-assessment')",
                )


def _check_crisis_fields(problems: Problems, plan: Json) -> None:
    for ext in extensions(plan, EXT_WARNING_SIGN):
        _check_strings(problems, ext, ["sign", "action"], EXT_WARNING_SIGN)
    for ext in extensions(plan, EXT_CRISIS_CONTACT):
        _check_strings(problems, ext, ["name", "telecom"], EXT_CRISIS_CONTACT)
    for ext in extensions(plan, EXT_CRISIS_PREFERENCE):
        _check_code(problems, CrisisOption, ext.get("valueCode"), at(EXT_CRISIS_PREFERENCE))
    for ext in extensions(plan, EXT_ADVANCE_DECISION):
        _check_reference(
            problems, ext.get("valueReference"), ("Consent", "DocumentReference"), at(EXT_ADVANCE_DECISION)
        )


def _check_links(problems: Problems, plan: Json) -> None:
    for url, kinds in (
        (EXT_EPISODE, ("EpisodeOfCare",)),
        (EXT_REFERRAL, ("ServiceRequest",)),
        (EXT_SHARING_AGREEMENT, ("Organization",)),
    ):
        for ext in extensions(plan, url):
            _check_reference(problems, ext.get("valueReference"), kinds, at(url))
    pathway = extension(plan, EXT_PATHWAY_BACK)
    if pathway is not None:
        _check_strings(problems, pathway, ["reaccess", "contact", "selfReferral"], EXT_PATHWAY_BACK)


def check_fields(plan: Json) -> Category:
    """What every stored plan keeps: its category, intent and subject, and well-formed content."""
    found = [c for c in codes(plan.get("category"), CS_CATEGORY)]
    if len(found) != 1:
        raise RequiredMissing(f"A plan has exactly one category from {CS_CATEGORY}", "CarePlan.category")
    category = parse_code(Category, found[0], "CarePlan.category")
    if plan.get("intent") != "plan":
        raise Unprocessable("A care plan's intent is plan", "CarePlan.intent")
    if not subject_of(plan).startswith("Patient/"):
        raise Unprocessable("A care plan's subject is a Patient", "CarePlan.subject")
    problems = Problems()
    _check_sections(problems, plan)
    _check_flags(problems, plan)
    _check_budget(problems, plan)
    _check_advocacy(problems, plan)
    _check_team(problems, plan)
    _check_crisis_fields(problems, plan)
    _check_links(problems, plan)
    problems.raise_any()
    return category


# ---------------------------------------------------------------- co-production (FR-37)


@dataclass(frozen=True)
class Agreement:
    """The person's agreement with the plan: when and how (FR-37a)."""

    when: str
    method: AgreementMethod
    by: str


@dataclass(frozen=True)
class CapacityAssessment:
    """A finding that the person lacks capacity for this decision (FR-37b)."""

    assessment: str | None
    best_interests: str | None
    consulted: tuple[str, ...]
    decision: str | None = None
    date: str | None = None


def agreement_extension(agreement: Agreement) -> Json:
    """The plan extension recording the person's agreement."""
    return complex_extension(
        EXT_AGREEMENT,
        ("when", "DateTime", agreement.when),
        ("method", "Code", agreement.method.value),
        ("by", "Reference", reference(agreement.by)),
    )


def check_capacity(capacity: CapacityAssessment, prefix: str) -> None:
    """A capacity route names the assessment, the best-interests basis and whom it consulted."""
    missing = [
        name
        for name, value in (
            ("assessment", capacity.assessment),
            ("bestInterests", capacity.best_interests),
            ("consulted", capacity.consulted),
        )
        if not value
    ]
    if missing:
        raise RequiredMissing(
            "A capacity assessment names the assessment, the best-interests basis and the people "
            "consulted (carer or advocate) (FR-37b): missing " + ", ".join(missing),
            [f"{prefix}.part.where(name='{m}')" for m in missing],
        )


def capacity_extension(capacity: CapacityAssessment) -> Json:
    """The plan extension recording a capacity assessment."""
    ext = complex_extension(
        EXT_CAPACITY,
        ("assessment", "Reference", reference(capacity.assessment) if capacity.assessment else None),
        ("decision", "String", capacity.decision),
        ("bestInterests", "String", capacity.best_interests),
        ("date", "DateTime", capacity.date),
    )
    ext["extension"] += [{"url": "consulted", "valueReference": reference(c)} for c in capacity.consulted]
    return ext


def _coproduction(problems: Problems, plan: Json) -> None:
    subject = subject_of(plan)
    agreement = extension(plan, EXT_AGREEMENT)
    capacity = extension(plan, EXT_CAPACITY)
    if agreement is None and capacity is None:
        problems.add(
            "required",
            "A plan becomes active only with the person's agreement recorded (when, how) or a capacity "
            "assessment with the best-interests basis and the people consulted (FR-37)",
            at(EXT_AGREEMENT),
        )
    if agreement is not None:
        if not part(agreement, "when") or not part(agreement, "method"):
            problems.add("required", "The agreement records when and how", at(EXT_AGREEMENT))
        contributors = {ref(c) for c in plan.get("contributor") or []}
        if subject not in contributors:
            problems.add("required", "The person is a contributor to their plan (FR-37a)", "CarePlan.contributor")
    if capacity is not None:
        for name in ("assessment", "bestInterests", "consulted"):
            if not part(capacity, name):
                problems.add("required", f"The capacity assessment records {name} (FR-37b)", at(EXT_CAPACITY, name))
    advocacy = extension(plan, EXT_ADVOCACY)
    needs_advocate = part(advocacy, "substantialDifficulty") is True and part(advocacy, "noAppropriatePerson") is True
    if needs_advocate and not part(advocacy, "advocate"):
        problems.add(
            "required",
            "The person has substantial difficulty being involved and no appropriate person to help: "
            "an advocate is involved (FR-41)",
            at(EXT_ADVOCACY, "advocate"),
        )


# ---------------------------------------------------------------- content by category


@dataclass(frozen=True)
class GoalFacts:
    """What the gate needs of a plan's Goal."""

    reference: str
    kinds: frozenset[GoalKind]
    active: bool


def _personalised(problems: Problems, plan: Json, goals: Sequence[GoalFacts]) -> None:
    if not any(g.active and {GoalKind.RECOVERY, GoalKind.WELL_BEING} & g.kinds for g in goals):
        problems.add(
            "required",
            "A personalised plan has at least one recovery or well-being goal (FR-38)",
            "CarePlan.goal",
        )
    present = sections(plan)
    for section in Section:
        if not present.get(section.value, "").strip():
            problems.add(
                "required",
                f"The section {section.value} is missing; write 'none identified' if there is nothing (FR-38)",
                f"{at(EXT_SECTION)}.where(extension('code').value = '{section.value}')",
            )
    period = plan.get("period") or {}
    if not period.get("start"):
        problems.add("required", "The plan states when the service period starts (FR-38)", "CarePlan.period.start")
    if not period.get("end") and not flag(plan, EXT_LONG_TERM):
        problems.add(
            "required",
            "The plan states the expected end of the service period, or that it is long-term (FR-38)",
            "CarePlan.period.end",
        )
    if flag(plan, EXT_COMPLEX_NEEDS) and not members(plan, CareTeamRole.CASE_MANAGER):
        problems.add(
            "required",
            "A person with complex needs has a case manager leading their plan (FR-49)",
            "CarePlan.careTeam",
        )


def _crisis(problems: Problems, plan: Json) -> None:
    for url, text in (
        (EXT_WARNING_SIGN, "early warning signs and what to do"),
        (EXT_CRISIS_CONTACT, "crisis contacts"),
        (EXT_CRISIS_PREFERENCE, "the person's preferences among crisis alternatives to A&E"),
        (EXT_PHYSICAL_HEALTH_CONDITION, "the condition 'where there is no physical health need'"),
    ):
        if not extensions(plan, url):
            problems.add("required", f"A crisis plan holds {text} (FR-43)", at(url))
    if not flag(plan, EXT_COPY_HELD):
        problems.add("required", "A crisis plan records that the person holds a copy (FR-43)", at(EXT_COPY_HELD))


def _waiting_support(problems: Problems, plan: Json) -> None:
    authors = ref(plan.get("author")) or ""
    if not authors.startswith("PractitionerRole/"):
        problems.add("required", "A waiting-support plan names the worker supporting the person", "CarePlan.author")
    activities = plan.get("activity") or []
    if not any((a.get("detail") or {}).get("description") for a in activities):
        problems.add(
            "required",
            "A waiting-support plan says what is offered (activity.detail.description)",
            "CarePlan.activity",
        )
    if not any(
        ((a.get("detail") or {}).get("scheduledTiming") or {}).get("repeat", {}).get("frequency") for a in activities
    ):
        problems.add(
            "required",
            "A waiting-support plan says how often contact happens (activity.detail.scheduledTiming.repeat)",
            "CarePlan.activity.detail.scheduledTiming",
        )


def check_activation(plan: Json, goals: Sequence[GoalFacts]) -> None:
    """The gate to `active`: co-production and the content the plan's category needs (422 naming each gap)."""
    problems = Problems()
    _coproduction(problems, plan)
    category = category_of(plan)
    if category is Category.DIALOG_PLUS:
        _personalised(problems, plan, goals)
    elif category is Category.CRISIS:
        _crisis(problems, plan)
    elif category is Category.WAITING_SUPPORT:
        _waiting_support(problems, plan)
    problems.raise_any()


def check_revision_agreed(plan: Json, agreement: Agreement | None) -> None:
    """Revising an active plan's actions needs the person's agreement to the revision (FR-37)."""
    if agreement is None and extension(plan, EXT_CAPACITY) is None:
        raise RequiredMissing(
            "This plan is active: the person agrees to its revision (or a capacity assessment is recorded)",
            param("agreement"),
        )


# ---------------------------------------------------------------- completion (FR-39) and reviews (FR-42)


@dataclass(frozen=True)
class PathwayBack:
    """How a person gets back to specialist help after discharge (FR-39)."""

    reaccess: str | None
    contact: str | None
    self_referral: str | None
    community_resources: tuple[str, ...]


def pathway_extension(pathway: PathwayBack) -> Json:
    """The plan extension holding the pathway back."""
    ext = complex_extension(
        EXT_PATHWAY_BACK,
        ("reaccess", "String", pathway.reaccess),
        ("contact", "String", pathway.contact),
        ("selfReferral", "String", pathway.self_referral),
    )
    ext["extension"] += [{"url": "communityResource", "valueString": r} for r in pathway.community_resources]
    return ext


def check_completion(plan: Json, reason: CompletionReason) -> None:
    """Goals achieved or discharge needs a full pathway back and community resources (FR-39)."""
    if reason not in (CompletionReason.GOALS_ACHIEVED, CompletionReason.DISCHARGED):
        return
    pathway = extension(plan, EXT_PATHWAY_BACK)
    if pathway is None:
        raise RequiredMissing(
            "Completing a plan on discharge needs a pathway back: how to re-access help, a contact point, "
            "the self-referral route and community resources (FR-39)",
            param("pathwayBack"),
        )
    missing = [
        name for name in ("reaccess", "contact", "selfReferral", "communityResource") if not parts(pathway, name)
    ]
    if missing:
        raise RequiredMissing(
            "The pathway back is incomplete: " + ", ".join(missing),
            [f"{param('pathwayBack')}.part.where(name='{m}')" for m in missing],
        )


@dataclass(frozen=True)
class PlanReview:
    """A care-plan review: when, who took part, the outcome and the next review (FR-42)."""

    held: datetime
    participants: tuple[str, ...]
    outcome: ReviewOutcome
    next_review: date
    note: str | None = None
    dialog: str | None = None


def check_review(review: PlanReview, subject: str) -> None:
    """The person takes part in their review, and the next review comes after it."""
    if subject not in review.participants:
        raise RequiredMissing("The person takes part in their plan's review (FR-42)", param("participant"))
    if review.next_review <= review.held.date():
        raise Unprocessable("The next review is after this one", param("nextReview"))


def review_extension(review: PlanReview, when: str) -> Json:
    """The plan extension recording one review."""
    ext = complex_extension(
        EXT_REVIEW,
        ("date", "DateTime", when),
        ("outcome", "Code", review.outcome.value),
        ("note", "String", review.note),
        ("nextReview", "Date", review.next_review.isoformat()),
        ("dialog", "Reference", reference(review.dialog) if review.dialog else None),
    )
    ext["extension"] += [{"url": "participant", "valueReference": reference(p)} for p in review.participants]
    return ext


def completion_extension(reason: CompletionReason, when: str) -> Json:
    """The plan extension recording why and when it was completed."""
    return complex_extension(EXT_COMPLETION, ("reason", "Code", reason.value), ("date", "DateTime", when))
