"""Every local CodeSystem, built from the services' code enums (and, where a service writes a
literal code instead of an enum, from the literals in its source).

The URL of each CodeSystem is the constant the service itself uses for the coding's system;
the codes are the enum's values. Properties carry what the code knows about a concept (which
decline reasons are prohibited, which Task status a referral state has, a service type's level).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from conformance import BASE, scan
from gateway import routing
from gateway.directory import CS_ROLE
from gateway.tables import CS_SERVICE_TYPE
from reference.partnership import LEVEL, Borough, ServiceType, directory
from services.careplans.domain import codes as cp
from services.careplans.domain import dialog
from services.referrals.domain import codes as rf
from services.referrals.domain.rules import SELF_SOURCES
from services.referrals.service import referrals as referral_service
from services.transitions.domain import codes as tr
from services.transitions.domain import phases
from services.transitions.service import planning

CS = f"{BASE}/CodeSystem"
# CodeSystems for enums the services carry as a bare code (an extension's valueCode), which
# therefore have no system URL in the services yet: published so the profiles can bind them.
CS_BOROUGH = f"{CS}/borough"
CS_TIMEPOINT = f"{CS}/outcome-timepoint"
CS_DIALOG_GROUP = f"{CS}/dialog-group"

# Words kept upper-case when a code is turned into a display.
_ACRONYMS = {
    "gp": "GP",
    "vcse": "VCSE",
    "mh": "MH",
    "cpa": "CPA",
    "mhcas": "MHCAS",
    "crhtt": "CRHTT",
    "chc": "CHC",
    "s117": "s117",
    "sqol": "SQOL",
    "cyp": "CYP",
    "spa": "SPA",
    "eip": "EIP",
    "picu": "PICU",
    "adhd": "ADHD",
    "ndd": "NDD",
    "cmht": "CMHT",
    "dialog": "DIALOG",
    "0-25": "0-25",
}


def display_of(code: str) -> str:
    """A readable display for a code (`needs-better-met-elsewhere` → `Needs better met elsewhere`)."""
    words = code.split("-")
    shown = [_ACRONYMS.get(w, w) for w in words]
    first = shown[0]
    if first == words[0]:
        shown[0] = first[:1].upper() + first[1:]
    return " ".join(shown).replace(" 0 25", " 0-25")


@dataclass(frozen=True)
class Property:
    """A CodeSystem property: its code, FHIR type and meaning."""

    code: str
    type: str
    description: str


@dataclass(frozen=True)
class Concept:
    """One code."""

    code: str
    display: str
    definition: str | None = None
    properties: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class LocalCodeSystem:
    """A Continuum CodeSystem and where in the code it comes from."""

    url: str
    title: str
    description: str
    source: str
    concepts: tuple[Concept, ...]
    properties: tuple[Property, ...] = ()
    services: tuple[str, ...] = field(default=())

    @property
    def id(self) -> str:
        """The resource id (the last segment of the URL)."""
        return self.url.rsplit("/", 1)[1]

    def codes(self) -> list[str]:
        """Every code, in order."""
        return [c.code for c in self.concepts]


def _doc(enum: type[StrEnum]) -> str:
    return " ".join((enum.__doc__ or enum.__name__).split())


def _where(enum: type[StrEnum]) -> str:
    return f"{enum.__module__}.{enum.__qualname__}"


def from_enum(
    url: str,
    enum: type[StrEnum],
    title: str,
    *,
    description: str | None = None,
    displays: Mapping[Any, str] | None = None,
    definitions: Mapping[Any, str] | None = None,
    properties: Iterable[tuple[Property, Callable[[Any], Any]]] = (),
    services: tuple[str, ...] = (),
) -> LocalCodeSystem:
    """A CodeSystem whose codes are an enum's values."""
    props = list(properties)
    concepts = []
    for member in enum:
        values = tuple((p.code, value(member)) for p, value in props if value(member) is not None)
        concepts.append(
            Concept(
                member.value,
                (displays or {}).get(member) or display_of(member.value),
                (definitions or {}).get(member),
                values,
            )
        )
    return LocalCodeSystem(
        url,
        title,
        description or _doc(enum),
        _where(enum),
        tuple(concepts),
        tuple(p for p, _ in props),
        services,
    )


def from_codes(
    url: str,
    codes: Iterable[str],
    title: str,
    description: str,
    source: str,
    *,
    displays: Mapping[str, str] | None = None,
    services: tuple[str, ...] = (),
) -> LocalCodeSystem:
    """A CodeSystem whose codes are literals found in a service's source."""
    concepts = tuple(Concept(c, (displays or {}).get(c) or display_of(c)) for c in sorted(set(codes)))
    return LocalCodeSystem(url, title, description, source, concepts, (), services)


def _merge(url: str, title: str, description: str, parts: Iterable[LocalCodeSystem]) -> LocalCodeSystem:
    """One CodeSystem shared by several services (each adds its own codes)."""
    concepts: dict[str, Concept] = {}
    props: dict[str, Property] = {}
    sources, services = [], []
    for part in parts:
        sources.append(part.source)
        services += [s for s in part.services if s not in services]
        for p in part.properties:
            props.setdefault(p.code, p)
        for c in part.concepts:
            concepts.setdefault(c.code, c)
    return LocalCodeSystem(
        url, title, description, "; ".join(sources), tuple(concepts.values()), tuple(props.values()), tuple(services)
    )


# ---------------------------------------------------------------- properties

PROHIBITED = Property(
    "prohibited",
    "boolean",
    "The code names a rigid criterion or a GP re-referral: the service refuses it as a reason to decline "
    "or to find someone ineligible (FR-2, FR-6)",
)
TASK_STATUS = Property("task-status", "code", "The FHIR Task.status a Task in this state has")
OPEN = Property("open", "boolean", "The referral is still open (the waiting clock may still run)")
SEEN = Property("seen", "boolean", "A contact in this mode counts as the person being seen (FR-12a)")
SELF = Property("self-referral", "boolean", "The person or their carer referred themselves (FR-17)")
OWNER = Property("service", "code", "The Continuum service that holds resources with this code")
LEVEL_PROPERTY = Property("level", "integer", "The clinical-model level (1 primary care ... 7 inpatient)")
GROUP = Property("group", "code", "The DIALOG group (dialog-group CodeSystem)")
SNOMED_PROPERTY = Property("snomed", "code", "The SNOMED CT UK concept of the same meaning")
ORDINAL = Property("ordinal", "decimal", "The rating as a number (FHIRPath ordinal())")
PHASE_NUMBER = Property("phase-number", "integer", "The phase's number (1 to 5)")


def _task_owner(member: Any) -> str | None:
    return routing.DISCRIMINATORS["Task"][1].get(member.value)


def _plan_owner(member: Any) -> str | None:
    return routing.DISCRIMINATORS["CarePlan"][1].get(member.value)


class _TransitionPlan(StrEnum):
    """The transitions service's CarePlan category."""

    TRANSITION_PLAN = "transition-plan"


# ---------------------------------------------------------------- the CodeSystems


def referrals() -> list[LocalCodeSystem]:
    """The referrals service's CodeSystems (services/referrals/domain/codes.py)."""
    svc = ("referrals",)
    modules = scan.package_modules("services.referrals.service")
    outputs = scan.literal_arguments(modules, ("_output", "_output_code"), 1) | scan.concept_codes(modules, "CS_OUTPUT")
    return [
        from_enum(
            rf.CS_SOURCE,
            rf.ReferralSource,
            "Referral source",
            properties=[(SELF, lambda m: m in SELF_SOURCES)],
            services=svc,
        ),
        from_enum(
            rf.CS_STATE,
            rf.State,
            "Referral state",
            properties=[(TASK_STATUS, lambda m: rf.TASK_STATUS[m]), (OPEN, lambda m: m in rf.OPEN_STATES)],
            services=svc,
        ),
        from_enum(
            rf.CS_DECLINE,
            rf.DeclineReason,
            "Decline reason",
            definitions=rf.PROHIBITED_DECLINE_REASONS,
            properties=[(PROHIBITED, lambda m: m in rf.PROHIBITED_DECLINE_REASONS)],
            services=svc,
        ),
        from_enum(rf.CS_NEXT_STEP, rf.NextStep, "Decline next step", services=svc),
        from_enum(rf.CS_CONTACT, rf.ContactPurpose, "Contact purpose", services=svc),
        from_enum(
            rf.CS_MODE, rf.ContactMode, "Contact mode", properties=[(SEEN, lambda m: m in rf.SEEN_MODES)], services=svc
        ),
        from_enum(rf.CS_ELIGIBILITY, rf.Eligibility, "Triage eligibility", services=svc),
        from_enum(rf.CS_COMPLEXITY, rf.Complexity, "Triage complexity", services=svc),
        from_enum(rf.CS_SCREENING, rf.Screening, "Screening outcome", services=svc),
        from_enum(rf.CS_CLOSURE, rf.ClosureReason, "Referral closure reason", services=svc),
        from_enum(rf.CS_LESS_RESTRICTIVE, rf.LessRestrictiveOption, "Less restrictive option", services=svc),
        from_enum(rf.CS_PANEL_REASON, rf.PanelReason, "Complex Case Panel referral reason", services=svc),
        from_enum(rf.CS_DIRECTION, rf.Direction, "Referral direction", services=svc),
        from_enum(rf.CS_CHANNEL, rf.Channel, "Referral channel", services=svc),
        from_enum(rf.CS_SUPPORT, rf.SupportStatus, "Waiting support status", services=svc),
        from_codes(
            rf.CS_COMMUNICATION,
            scan.concept_codes(modules, "CS_COMMUNICATION"),
            "Communication category",
            "What a Communication the referrals service sends is about.",
            "services.referrals.service (concept(CS_COMMUNICATION, ...))",
            services=svc,
        ),
        from_codes(
            referral_service.CS_OUTPUT,
            outputs,
            "Referral Task output",
            "The kinds of output and input a referral Task records (triage findings, the decision and its "
            "rationale, the waiting support).",
            "services.referrals.service.referrals (_output, _output_code, concept(CS_OUTPUT, ...))",
            services=svc,
        ),
        from_codes(
            f"{rf.CS_STATE}-flag",
            ["crisis-house-over-14-days"],
            "Referral flag",
            "Tags the referrals service puts on a referral's meta.tag.",
            "services.referrals.service.referrals.create_referral",
            services=svc,
        ),
    ]


def careplans() -> list[LocalCodeSystem]:
    """The care-plans service's CodeSystems (services/careplans/domain/codes.py and dialog.py)."""
    svc = ("careplans",)
    items = dialog.ITEMS
    return [
        LocalCodeSystem(
            cp.CS_SATISFACTION,
            "DIALOG satisfaction rating",
            "A DIALOG rating: 1 totally dissatisfied to 7 totally satisfied (the §1.3 anchors).",
            "services.careplans.domain.dialog.ANCHORS",
            tuple(Concept(str(value), anchor, None, (("ordinal", value),)) for value, anchor in dialog.ANCHORS.items()),
            (ORDINAL,),
            svc,
        ),
        LocalCodeSystem(
            cp.CS_DIALOG_ITEM,
            "DIALOG item",
            "The 11 DIALOG items by meaning-based linkId (8 life domains, 3 treatment aspects).",
            "services.careplans.domain.dialog.ITEMS",
            tuple(
                Concept(
                    i.link_id,
                    i.label,
                    f"How satisfied are you with {i.text}?",
                    (("group", i.group.value), ("snomed", i.snomed)),
                )
                for i in items
            ),
            (GROUP, SNOMED_PROPERTY),
            svc,
        ),
        from_enum(CS_DIALOG_GROUP, cp.Group, "DIALOG group", displays=dialog.GROUP_TEXT, services=svc),
        LocalCodeSystem(
            cp.CS_DIALOG_SCORE,
            "DIALOG score",
            "The two DIALOG scores (no SNOMED CT concept exists for them) and the number of items a score "
            "rests on (an Observation component).",
            "services.careplans.domain.codes.Scale; services.careplans.domain.observations.ITEMS_ANSWERED",
            (
                *(Concept(s.value, dialog.SCALE_DISPLAY[s]) for s in cp.Scale),
                Concept("items-answered", "Number of items answered"),
            ),
            (),
            svc,
        ),
        from_enum(cp.CS_INTERPRETATION, cp.Interpretation, "DIALOG score interpretation", services=svc),
        from_enum(cp.CS_NOT_ANSWERED, cp.NotAnswered, "DIALOG item not answered", services=svc),
        from_enum(CS_TIMEPOINT, cp.Timepoint, "Outcome timepoint", services=svc),
        from_enum(cp.CS_GOAL_KIND, cp.GoalKind, "Goal kind", services=svc),
        from_enum(cp.CS_SECTION, cp.Section, "Care plan section", services=svc),
        from_enum(cp.CS_CARE_TEAM_ROLE, cp.CareTeamRole, "Care team role", services=svc),
        from_enum(cp.CS_ACTION_PERFORMER, cp.Performer, "DIALOG+ action performer", services=svc),
        from_enum(cp.CS_ACTION_REVIEW, cp.ActionReview, "DIALOG+ action review", services=svc),
        from_enum(cp.CS_DIALOG_STEP, cp.Step, "DIALOG+ step", services=svc),
        from_enum(cp.CS_AGREEMENT_METHOD, cp.AgreementMethod, "Agreement method", services=svc),
        from_enum(cp.CS_COMPLETION, cp.CompletionReason, "Care plan completion reason", services=svc),
        from_enum(cp.CS_REVIEW_OUTCOME, cp.ReviewOutcome, "Care plan review outcome", services=svc),
        from_enum(cp.CS_CRISIS_OPTION, cp.CrisisOption, "Crisis option", services=svc),
        from_enum(cp.CS_FUNDING, cp.Funding, "Care funding", services=svc),
        from_enum(cp.CS_PHB_TYPE, cp.BudgetType, "Personal health budget type", services=svc),
        from_codes(
            cp.CS_ACTION,
            scan.concept_codes(scan.package_modules("services.careplans.domain"), "CS_ACTION"),
            "Care plan activity",
            "What a care-plan activity is (a DIALOG+ agreed action).",
            "services.careplans.domain.session (concept(CS_ACTION, ...))",
            displays={"dialog-plus-action": "DIALOG+ agreed action"},
            services=svc,
        ),
    ]


def transitions() -> list[LocalCodeSystem]:
    """The transitions service's CodeSystems (services/transitions/domain/codes.py)."""
    svc = ("transitions",)
    modules = scan.package_modules("services.transitions.service")
    outputs = (
        scan.value_items(modules)
        | scan.literal_arguments(modules, ("add_output", "outputs"), 1)
        | {f"{r.value}-feedback" for r in tr.Respondent}
    )
    return [
        from_enum(
            tr.CS_PHASE,
            phases.Phase,
            "Transition phase",
            displays=phases.DISPLAY,
            properties=[
                (PHASE_NUMBER, lambda m: phases.NUMBER.get(m)),
                (TASK_STATUS, lambda m: phases.CASE_STATUS[m]),
            ],
            services=svc,
        ),
        from_codes(
            tr.CS_INPUT,
            scan.concept_codes(modules, "CS_INPUT"),
            "Transition Task input",
            "What a transition case or escalation Task records about its start.",
            "services.transitions.service (concept(CS_INPUT, ...))",
            services=svc,
        ),
        from_codes(
            tr.CS_OUTPUT,
            outputs,
            "Transition Task output",
            "What each transition phase records on its Task (and on the case Task).",
            "services.transitions.service (add_output, update_phase items)",
            services=svc,
        ),
        from_enum(tr.CS_HIGH_RISK, tr.HighRiskReason, "Transition high-risk reason", services=svc),
        from_enum(
            tr.CS_DESTINATION,
            tr.DestinationKind,
            "Transition destination",
            displays=planning.DESTINATION_DISPLAY,
            services=svc,
        ),
        from_enum(tr.CS_CLINICAL_REASON, tr.ClinicalServiceReason, "Transitions clinical service reason", services=svc),
        from_enum(tr.CS_AGREEMENT, tr.Agreement, "Transition plan agreement", services=svc),
        from_enum(tr.CS_RESPONDENT, tr.Respondent, "Transition feedback respondent", services=svc),
        from_enum(tr.CS_EXPERIENCE, tr.Experience, "Transition experience", services=svc),
        from_enum(tr.CS_EFFECTIVENESS, tr.Effectiveness, "Transition effectiveness", services=svc),
        from_codes(
            tr.CS_STATUS_REASON,
            scan.concept_codes(modules, "CS_STATUS_REASON"),
            "Transition status reason",
            "Why a transition case ended without a transition.",
            "services.transitions.service.opening (concept(CS_STATUS_REASON, ...))",
            services=svc,
        ),
    ]


def gateway() -> list[LocalCodeSystem]:
    """The gateway's CodeSystems: the directory's service types and roles, and the boroughs."""
    svc = ("gateway",)
    roles = sorted({c for r in directory().roles.values() for c in r.codes})
    return [
        from_enum(
            CS_SERVICE_TYPE,
            ServiceType,
            "Service type",
            properties=[(LEVEL_PROPERTY, lambda m: LEVEL[m])],
            services=svc,
        ),
        from_codes(
            CS_ROLE,
            roles,
            "Practitioner role",
            "What a worker in the partnership directory may do.",
            "reference.partnership (Role.codes)",
            services=svc,
        ),
        from_enum(
            CS_BOROUGH,
            Borough,
            "Borough",
            displays={b: b.value.title() for b in Borough},
            services=("gateway", "referrals", "transitions"),
        ),
    ]


def shared() -> list[LocalCodeSystem]:
    """CodeSystems more than one service writes codes into (one URL, the union of their codes)."""
    task_code = _merge(
        rf.CS_TASK,
        "Task code",
        "What a Task is for. Shared by the referrals and transitions services; the gateway routes "
        "Task?code= searches by it.",
        [
            from_enum(rf.CS_TASK, rf.TaskCode, "", properties=[(OWNER, _task_owner)], services=("referrals",)),
            from_enum(tr.CS_TASK, tr.TaskCode, "", properties=[(OWNER, _task_owner)], services=("transitions",)),
        ],
    )
    category = _merge(
        cp.CS_CATEGORY,
        "Care plan category",
        "The kinds of CarePlan Continuum keeps. Shared by the care-plans and transitions services; the "
        "gateway routes CarePlan?category= searches by it.",
        [
            from_enum(cp.CS_CATEGORY, cp.Category, "", properties=[(OWNER, _plan_owner)], services=("careplans",)),
            from_enum(
                tr.CS_CAREPLAN_CATEGORY,
                _TransitionPlan,
                "",
                properties=[(OWNER, _plan_owner)],
                services=("transitions",),
            ),
        ],
    )
    return [task_code, category]


def all_codesystems() -> list[LocalCodeSystem]:
    """Every local CodeSystem, sorted by id."""
    found = [*referrals(), *careplans(), *transitions(), *gateway(), *shared()]
    by_url: dict[str, LocalCodeSystem] = {}
    for cs in found:
        assert cs.url not in by_url, f"{cs.url} is defined twice"
        by_url[cs.url] = cs
    return sorted(by_url.values(), key=lambda c: c.id)


def resource(cs: LocalCodeSystem, common: Mapping[str, Any]) -> dict[str, Any]:
    """The CodeSystem resource."""
    body: dict[str, Any] = {
        "resourceType": "CodeSystem",
        "id": cs.id,
        "url": cs.url,
        **common,
        "name": "".join(w[:1].upper() + w[1:] for w in cs.id.split("-")),
        "title": cs.title,
        "status": "active",
        "experimental": False,
        "description": f"{cs.description} Generated from {cs.source}.",
        "caseSensitive": True,
        "valueSet": cs.url.replace("/CodeSystem/", "/ValueSet/"),
        "content": "complete",
        "count": len(cs.concepts),
    }
    if cs.properties:
        body["property"] = [{"code": p.code, "description": p.description, "type": p.type} for p in cs.properties]
    concepts = []
    for c in cs.concepts:
        concept: dict[str, Any] = {"code": c.code, "display": c.display}
        if c.definition:
            concept["definition"] = c.definition
        if c.properties:
            concept["property"] = [
                {"code": code, f"value{_kind(cs, code)}": value} for code, value in c.properties if value is not None
            ]
        concepts.append(concept)
    body["concept"] = concepts
    return body


def _kind(cs: LocalCodeSystem, code: str) -> str:
    declared = next(p.type for p in cs.properties if p.code == code)
    return declared[:1].upper() + declared[1:]
