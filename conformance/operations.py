"""OperationDefinitions for every `$operation` the services route, and the one table of their parameters.

What the routes say is read from the routes themselves: which operations exist, on which type,
at type or instance level, GET or POST, and their summaries. What a route's handler reads from
its `Parameters` body is visible only in the service code (`params.code("reason", required=True)`),
so it is written down once, in `PARAMETERS` below. Tests check the table against the code: every
operation route has an entry and every entry a route, and every parameter name the service code
reads is in the table (and every name in the table is read).

`min` is what the service always requires; a parameter required only in some cases (a
destination when the next step is a redirect) has `min` 0 and says when in its documentation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi.routing import APIRoute

from conformance import BASE
from services.careplans.api import measures as careplans_measures
from services.careplans.api import metadata as careplans_metadata
from services.careplans.api import routes as careplans_routes
from services.referrals.api import measures as referrals_measures
from services.referrals.api import metadata as referrals_metadata
from services.referrals.api import routes as referrals_routes
from services.transitions.api import measures as transitions_measures
from services.transitions.api import metadata as transitions_metadata
from services.transitions.api import routes as transitions_routes

OD = f"{BASE}/OperationDefinition"
SD_CORE = "http://hl7.org/fhir/StructureDefinition"
# An extension on an OperationDefinition parameter naming another value type the service also reads
# (a `code` parameter given as a Coding, a `dateTime` given as a date, a resource instead of a reference).
EXT_ALSO = f"{BASE}/StructureDefinition/operation-parameter-also-accepts"

SERVICES = ("referrals", "careplans", "transitions")


@dataclass(frozen=True)
class P:
    """One operation parameter (or part)."""

    name: str
    type: str | None
    min: int = 0
    max: str = "1"
    doc: str = ""
    binding: str | None = None
    targets: tuple[str, ...] = ()
    also: tuple[str, ...] = ()
    parts: tuple[P, ...] = ()
    use: str = "in"

    def to_json(self) -> dict[str, Any]:
        """The OperationDefinition.parameter element."""
        body: dict[str, Any] = {}
        if self.also:
            body["extension"] = [{"url": EXT_ALSO, "valueCode": t} for t in self.also]
        body.update(name=self.name, use=self.use, min=self.min, max=self.max)
        if self.doc:
            body["documentation"] = self.doc
        if self.type:
            body["type"] = self.type
        if self.targets:
            body["targetProfile"] = [f"{SD_CORE}/{t}" for t in self.targets]
        if self.binding:
            body["binding"] = {"strength": "required", "valueSet": f"{BASE}/ValueSet/{self.binding}"}
        if self.parts:
            body["part"] = [p.to_json() for p in self.parts]
        return body


def out(name: str, type_: str | None, min_: int = 0, max_: str = "1", doc: str = "", **kw: Any) -> P:
    """An `out` parameter."""
    return P(name, type_, min_, max_, doc, use="out", **kw)


def returns(type_: str, doc: str) -> P:
    """The single `return` out parameter: the response body is this resource."""
    return out("return", type_, 1, "1", doc)


ACTOR = P("actor", "Reference", doc="Who is acting (a PractitionerRole); recorded on the Task (FR-4)")
NOTE = P("note", "string", doc="A note kept with the change")
TEAM = ("HealthcareService",)
PEOPLE = ("Patient", "RelatedPerson", "Practitioner", "PractitionerRole")
DATETIME_OR_DATE = ("date",)
CODE_OR_CODING = ("Coding", "CodeableConcept")
PAGING = (
    P("_count", "integer", doc="Page size (a whole number; the service caps it)"),
    P("_offset", "integer", doc="How many rows to skip"),
)

# --------------------------------------------------------------------------- referrals


def _referral_task(*params: P, returns_doc: str = "The referral Task, updated") -> tuple[P, ...]:
    return (*params, ACTOR, returns("Task", returns_doc))


PERIOD = (
    P("periodStart", "date", 1, doc="The first day of the period (YYYY-MM-DD, inclusive)"),
    P("periodEnd", "date", 1, doc="The last day of the period (YYYY-MM-DD, inclusive; not before periodStart)"),
)

# `Measure/{id}/$evaluate-measure`: the same on every service, each over its own KPIs.
MEASURE_EVALUATE = "Measure-evaluate-measure"
EVALUATE_MEASURE: tuple[P, ...] = (
    *PERIOD,
    P("reportType", "code", doc="summary (the default, and the only report type served)"),
    returns(
        "MeasureReport",
        "A summary MeasureReport: populations, score, and each stratifier's strata, with cells under the "
        "small-cell threshold suppressed and marked so",
    ),
)

REFERRALS: dict[str, tuple[P, ...]] = {
    "ServiceRequest-mhsds-extract": (
        *PERIOD,
        returns(
            "Binary",
            "text/csv: one row per referral received in the period, header first, with its contacts, care-plan "
            "and outcome milestones and the person's protected characteristics",
        ),
    ),
    "ServiceRequest-ptl": (
        P("service", "string", doc="HealthcareService/<id> (a clinician's token must name their own team)"),
        P("borough", "code", binding="borough"),
        P("age-band", "string", doc="An age band (as the rows report it)"),
        P("pathway", "code", binding="service-type", doc="A service type"),
        *PAGING,
        out("total", "integer", 1, doc="How many people are waiting (before paging)"),
        out(
            "row",
            None,
            0,
            "*",
            "One person waiting, longest wait first",
            parts=(
                out("task", "Reference", 1),
                out("referral", "Reference", 1),
                out("patient", "Reference", 1),
                out("service", "Reference", 1),
                out("borough", "code", binding="borough"),
                out("ageBand", "string"),
                out("daysWaiting", "integer", 1),
                out("breach", "boolean", 1),
                out("interimSupport", "code", 1, binding="waiting-support-status"),
                out("escalated", "boolean", 1),
                out("lastWaitingCommunication", "dateTime"),
                out("highRisk", "boolean", 1),
            ),
        ),
    ),
    "ServiceRequest-waiting-time": (
        out("referral", "Reference", 1),
        out("clockStart", "dateTime", 1),
        out("clockStop", "dateTime"),
        out("daysWaiting", "integer", 1),
        out("targetDays", "integer", 1),
        out("breach", "boolean", 1),
        out("firstContact", "dateTime"),
        out("secondContact", "dateTime"),
        out("daysToFirstContact", "integer"),
        out("daysToSecondContact", "integer"),
        out(
            "condition",
            None,
            0,
            "*",
            "A clock-stop condition and whether (when) it was met",
            parts=(out("name", "code", 1), out("met", "boolean", 1), out("at", "dateTime")),
        ),
        out("responseTargetHours", "decimal"),
        out("responseTargetMet", "boolean"),
    ),
    "Task-triage": _referral_task(
        P("eligibility", "code", 1, binding="triage-eligibility", also=CODE_OR_CODING),
        P(
            "reason",
            "code",
            binding="decline-reason-allowed",
            also=CODE_OR_CODING,
            doc="Required when eligibility is not-eligible; never a prohibited reason",
        ),
        P("complexity", "code", binding="triage-complexity", also=CODE_OR_CODING),
        P("screening", "code", binding="screening-outcome", also=CODE_OR_CODING),
        P("destination", "Reference", targets=TEAM, doc="Required when screening is signposted; never a GP"),
    ),
    "Task-accept": _referral_task(
        P(
            "waitingSupport",
            "Reference",
            targets=("CarePlan", "EpisodeOfCare", "PractitionerRole"),
            doc="Who or what supports the person while they wait; or give the no-support assessment (FR-10)",
        ),
        P("supportOffered", "string", doc="Required with waitingSupport: what is offered"),
        P("noSupportAssessor", "Reference", doc="The clinician who assessed that no support is needed"),
        P("noSupportRationale", "string", doc="Why no interim support is clinically appropriate"),
        P("noSupportAssessedAt", "dateTime", also=("instant",), doc="When that was assessed"),
    ),
    "Task-decline": _referral_task(
        P("reason", "code", 1, binding="decline-reason-allowed", also=CODE_OR_CODING, doc="Never a prohibited one"),
        P("rationale", "string", 1, doc="Why (FR-6)"),
        P("assessment", "Reference", 1, doc="The needs and engagement assessment the decline rests on (FR-6)"),
        P(
            "nextStep",
            "code",
            binding="decline-next-step",
            also=CODE_OR_CODING,
            doc="Where the person goes next; required unless the reason is advice-only or signpost-housing",
        ),
        P("destination", "Reference", targets=TEAM, doc="Required for redirect and signpost; never a GP"),
        P("advice", "string", doc="Required for advice (and the advice-only reason): the advice sent"),
        P("commissioningRule", "string", doc="Required for not-commissioned: the commissioned-scope rule"),
        P("injuryDate", "date", doc="For not-commissioned-brain-injury: when the injury happened"),
    ),
    "Task-redirect": _referral_task(
        P("destination", "Reference", 1, targets=TEAM, doc="The right service (never a GP, never the same team)"),
        NOTE,
    ),
    "Task-cancel": _referral_task(NOTE),
    "Task-complete": _referral_task(
        P("reason", "code", 1, binding="referral-closure-reason", also=CODE_OR_CODING),
        P("followUpAttempt", "string", doc="Required for did-not-engage when the person has SMI (FR-29)"),
        P("clinicianDecision", "Reference", doc="Required for did-not-engage when the person has SMI (FR-29)"),
        P("recommendations", "Reference", doc="Required by a panel: its recommendations document (FR-23)"),
    ),
    "Task-escalate": (
        NOTE,
        ACTOR,
        returns("Task", "The escalation Task (201)"),
    ),
    "Task-raise-concern": (
        P("patient", "Reference", 1, targets=("Patient",)),
        P("reporter", "Reference", 1, doc="The carer or family member raising the concern"),
        P("description", "string", 1),
        returns("Task", "The concern Task for the responsible team (201)"),
    ),
    "Task-acknowledge": (ACTOR, returns("Task", "The concern Task, received")),
    "EpisodeOfCare-close": (
        P("reason", "code", 1, binding="referral-closure-reason", also=CODE_OR_CODING),
        P("followUpAttempt", "string", doc="Required for did-not-engage when the person has SMI (FR-29)"),
        P("clinicianDecision", "Reference", doc="Required for did-not-engage when the person has SMI (FR-29)"),
        P(
            "overrideRationale",
            "string",
            doc="With overrideClinician: closing while a referral to an intensive team is pending (FR-9)",
        ),
        P("overrideClinician", "Reference"),
        returns("EpisodeOfCare", "The episode, finished"),
    ),
    "Communication-waiting-well": (
        P("service", "string", 1, doc="HealthcareService/<id> (or the id)"),
        out("service", "Reference", 1),
        out("version", "string", 1),
        out("text", "string", 1),
        out("expectedWaitDays", "integer"),
        out("crisisContact", "string", 1, "*"),
    ),
}

# --------------------------------------------------------------------------- care plans

AGREEMENT = P(
    "agreement",
    None,
    doc="The person's agreement (FR-37a)",
    parts=(
        P("when", "dateTime", 1, also=DATETIME_OR_DATE),
        P("method", "code", 1, binding="agreement-method", also=CODE_OR_CODING),
        P("by", "Reference", targets=("Patient",), doc="The plan's subject (the default)"),
    ),
)
CAPACITY = P(
    "capacityAssessment",
    None,
    doc="Instead of agreement: the person lacks capacity for this decision (FR-37b)",
    parts=(
        P("assessment", "Reference", 1),
        P("bestInterests", "string", 1),
        P("consulted", "Reference", 1, "*", targets=("RelatedPerson", "Practitioner", "PractitionerRole")),
        P("decision", "string"),
        P("date", "dateTime", also=DATETIME_OR_DATE),
    ),
)

CAREPLANS: dict[str, tuple[P, ...]] = {
    "Observation-dialog-trend": (
        P("subject", "string", doc="Patient/<id> (required, or patient)"),
        P("patient", "string", doc="The same as subject"),
        P("based-on", "string", doc="ServiceRequest/<id>: one referral's measures"),
        out("subject", "Reference", 1),
        out("measures", "integer", 1),
        out(
            "referral",
            None,
            0,
            "*",
            parts=(out("referral", "Reference", 1), out("measures", "integer", 1), out("paired", "boolean", 1)),
        ),
        out(
            "series",
            None,
            0,
            "*",
            "Each item and both scores over time",
            parts=(
                out("code", "code", 1),
                out("display", "string", 1),
                out("baseline", "decimal"),
                out(
                    "point",
                    None,
                    0,
                    "*",
                    parts=(
                        out("time", "dateTime", 1),
                        out("value", "decimal", 1),
                        out("response", "Reference", 1),
                        out("change", "decimal"),
                    ),
                ),
            ),
        ),
    ),
    "CarePlan-dialog-plus-session": (
        P(
            "response",
            "Reference",
            1,
            targets=("QuestionnaireResponse",),
            also=("QuestionnaireResponse",),
            doc="The session's DIALOG: a recorded one, or a new QuestionnaireResponse as `resource` (FR-35)",
        ),
        P("episode", "Reference", 1, targets=("EpisodeOfCare",)),
        P("clinician", "Reference", 1, targets=("PractitionerRole",), doc="A worker in the directory"),
        P("date", "dateTime", also=DATETIME_OR_DATE, doc="When the session was held (now by default)"),
        P(
            "domain",
            None,
            0,
            "3",
            "A domain the person chose to discuss: the four DIALOG+ steps",
            parts=(
                P("item", "code", 1, binding="dialog-item", also=CODE_OR_CODING),
                P("understanding", "string", 1),
                P("lookingForward", "string", 1),
                P("exploringOptions", "string", 1),
                P("goalKind", "code", binding="goal-kind", also=CODE_OR_CODING, doc="recovery by default"),
                P(
                    "action",
                    None,
                    1,
                    "*",
                    "An agreed action (step 4)",
                    parts=(
                        P("description", "string", 1),
                        P("who", "code", 1, binding="dialog-action-performer", also=CODE_OR_CODING),
                        P("performer", "Reference", targets=(*PEOPLE, "Organization"), doc="Required when who=other"),
                        P("by", "date", 1, also=("dateTime",)),
                    ),
                ),
            ),
        ),
        P(
            "review",
            None,
            0,
            "*",
            "The review of an open action (every open action is reviewed before new ones are added)",
            parts=(
                P("action", "string", 1, doc="The activity id"),
                P("outcome", "code", 1, binding="dialog-action-review", also=CODE_OR_CODING),
                P("note", "string", 1),
            ),
        ),
        AGREEMENT,
        CAPACITY,
        P(
            "section",
            None,
            0,
            "*",
            "A plan section (FR-38)",
            parts=(P("code", "code", 1, binding="careplan-section", also=CODE_OR_CODING), P("text", "string", 1)),
        ),
        P("periodStart", "dateTime", also=DATETIME_OR_DATE),
        P("periodEnd", "dateTime", also=DATETIME_OR_DATE),
        P("longTerm", "boolean"),
        P(
            "careTeamMember",
            None,
            0,
            "*",
            parts=(
                P("role", "code", 1, binding="care-team-role", also=CODE_OR_CODING),
                P("member", "Reference", 1),
                P("sharingConsent", "Reference", targets=("Consent",)),
                P("carerAssessmentDate", "date", also=("dateTime",)),
                P("carerAssessmentOutcome", "string"),
            ),
        ),
        P("complexNeeds", "boolean"),
        returns("CarePlan", "The episode's co-produced plan (201 when new, 200 when revised with If-Match)"),
    ),
    "CarePlan-activate": (AGREEMENT, CAPACITY, returns("CarePlan", "The plan, active")),
    "CarePlan-review": (
        P("date", "dateTime", also=DATETIME_OR_DATE),
        P("participant", "Reference", 1, "*", doc="Who took part; the person among them (FR-42)"),
        P("outcome", "code", 1, binding="careplan-review-outcome", also=CODE_OR_CODING),
        P("note", "string"),
        P("nextReview", "date", 1, doc="After this review"),
        P("dialog", "Reference", targets=("QuestionnaireResponse",)),
        returns("CarePlan", "The plan, reviewed"),
    ),
    "CarePlan-complete": (
        P("reason", "code", 1, binding="careplan-completion-reason", also=CODE_OR_CODING),
        P(
            "pathwayBack",
            None,
            doc="Required (complete) for goals-achieved and discharged (FR-39)",
            parts=(
                P("reaccess", "string"),
                P("contact", "string"),
                P("selfReferral", "string"),
                P("communityResource", "string", 0, "*"),
            ),
        ),
        returns("CarePlan", "The plan, completed"),
    ),
}

# --------------------------------------------------------------------------- transitions

DESTINATION = P(
    "destination",
    None,
    0,
    "*",
    "A destination of the plan (FR-61)",
    parts=(
        P("kind", "code", 1, binding="transition-destination", also=("Coding",)),
        P("service", "Reference", targets=TEAM, doc="Required unless the kind is remain-in-cyp-0-25"),
        P("reason", "code", binding="transitions-clinical-service-reason", also=("Coding",)),
    ),
)


def _case(*params: P) -> tuple[P, ...]:
    return (*params, ACTOR, returns("Task", "The transition case Task"))


TRANSITIONS: dict[str, tuple[P, ...]] = {
    "Task-open-transition": (
        P("patient", "Reference", 1, targets=("Patient",)),
        P("referringWorker", "Reference", 1, targets=("PractitionerRole",)),
        P("episode", "Reference", targets=("EpisodeOfCare",), doc="The CYPMHS episode (found when not given)"),
        P("highRisk", "boolean"),
        P("highRiskReason", "code", 0, "*", binding="transition-high-risk-reason", also=CODE_OR_CODING),
        P("highRiskNote", "string"),
        returns("Task", "The transition case Task (201)"),
    ),
    "Task-transition-worklist": (
        P("borough", "code", binding="borough"),
        P("service", "string", doc="HealthcareService/<id>"),
        *PAGING,
        out("total", "integer", 1),
        out(
            "row",
            None,
            0,
            "*",
            parts=(
                out("patient", "Reference", 1),
                out("birthDate", "date", 1),
                out("age", "string", 1),
                out("phase1Deadline", "date", 1),
                out("daysToDeadline", "integer", 1),
                out("pastDeadline", "boolean", 1),
                out("highRisk", "boolean", 1),
                out("service", "Reference", 1),
                out("episode", "Reference", 1),
                out("case", "Reference"),
            ),
        ),
    ),
    "Task-transition-overdue": (
        P("borough", "code", binding="borough"),
        *PAGING,
        out("total", "integer", 1),
        out(
            "row",
            None,
            0,
            "*",
            parts=(
                out("case", "Reference", 1),
                out("patient", "Reference", 1),
                out("plannedActionDate", "date", 1),
                out("daysOverdue", "integer", 1),
                out("highRisk", "boolean", 1),
                out("borough", "code"),
            ),
        ),
    ),
    "Task-transition-status": (
        out("case", "Reference", 1),
        out("patient", "Reference", 1),
        out("phase", "Coding", 1, binding="transition-phase"),
        out("phaseNumber", "integer"),
        out("ageToday", "string", 1),
        out("ageBand", "string"),
        out("cyp", "boolean", 1),
        out("highRisk", "boolean", 1),
        out("phase1Deadline", "date"),
        out("discussionDate", "date"),
        out("lateInitiation", "boolean"),
        out("eighteenthBirthday", "date", 1),
        out("plannedActionDate", "date"),
        out("actioned", "dateTime"),
        out("overdue", "boolean", 1),
        out("plan", "Reference"),
        out("planStatus", "code"),
        out("openEscalations", "integer", 1),
        out("continuityGapDays", "integer"),
    ),
    "Task-record-discussion": _case(
        P("date", "date", doc="Today by default"),
        P("participant", "Reference", 0, "*"),
        NOTE,
    ),
    "Task-decide-support": _case(
        P("supportNeeded", "boolean", 1),
        P("agreedBy", "Reference", 0, "*", doc="Who agreed; the young person among them"),
        P("reason", "string", doc="Required when support is not needed"),
    ),
    "Task-reopen": _case(P("reason", "string", 1)),
    "Task-flag-high-risk": _case(
        P("highRisk", "boolean", doc="true by default"),
        P("highRiskReason", "code", 0, "*", binding="transition-high-risk-reason", also=CODE_OR_CODING),
        P("highRiskNote", "string"),
    ),
    "Task-record-meeting": _case(
        P("date", "dateTime", 1, also=("instant",)),
        P("invitee", "Reference", 0, "*", doc="A reference, or a display for an agency without a record"),
        P("attendee", "Reference", 0, "*", doc="A reference, or a display for an agency without a record"),
        DESTINATION,
        P("summary", "string"),
        P("author", "Reference", targets=("PractitionerRole",)),
        NOTE,
    ),
    "Task-share-plan": _case(P("date", "dateTime", also=("instant",), doc="Now by default; not in the future")),
    "Task-record-agreement": _case(
        P("decision", "code", 1, binding="transition-plan-agreement", also=CODE_OR_CODING),
        P("decidedBy", "Reference", 1, doc="The young person"),
        NOTE,
    ),
    "Task-set-action-date": _case(
        P("date", "date", 1),
        P("agreedBy", "Reference", 0, "*", doc="Who agreed; the young person among them"),
        P("rationale", "string"),
    ),
    "Task-action-plan": _case(P("cypSummary", "string", 1, doc="The young person's CYPMHS history (FR-64)")),
    "Task-record-feedback": _case(
        P("respondent", "code", 1, binding="transition-feedback-respondent", also=CODE_OR_CODING),
        P("source", "Reference", doc="Who gave it (the young person by default for young-person)"),
        P("declined", "boolean"),
        P("experience", "code", binding="transition-experience", also=CODE_OR_CODING),
        P("comment", "string"),
    ),
    "Task-record-handover": _case(
        P("cypEnd", "date", 1),
        P("adultStart", "date"),
        P("rationale", "string", doc="Required when there is a gap"),
    ),
    "Task-record-alternative": _case(
        P(
            "destination",
            None,
            0,
            "1",
            "Another destination",
            parts=DESTINATION.parts,
        ),
        P("choice", "string", doc="Or the young person's own choice"),
        P("decidedBy", "Reference"),
    ),
    "Task-review": _case(
        P("outcome", "code", 1, binding="transition-effectiveness", also=CODE_OR_CODING),
        P("actions", "string"),
        P("reviewer", "Reference", 1, targets=("PractitionerRole",)),
    ),
    "Task-close": _case(NOTE),
}

VALIDATE: tuple[P, ...] = (
    P(
        "resource",
        "Resource",
        doc="The resource to check (or send the resource itself as the body); nothing is stored",
    ),
    P(
        "profile",
        "uri",
        doc="At the gateway: a StructureDefinition URL to check against instead of meta.profile and the default "
        "profile (also a query parameter)",
    ),
    P(
        "mode",
        "code",
        doc="At the gateway: create (the default: Continuum's checks, then the owning service's rules that need "
        "its records) or profile (Continuum's checks only)",
    ),
    returns("OperationOutcome", "Every problem found, or one information issue when the resource is valid"),
)
# The gateway's `$validate` on every resource type (gateway/conformance_routes.py): the same, plus the
# operation whose Parameters a `Parameters/$validate` body is.
RESOURCE_VALIDATE = "Resource-validate"
GATEWAY_VALIDATE: tuple[P, ...] = (
    *VALIDATE[:-1],
    P(
        "operation",
        "string",
        doc="On Parameters/$validate: the operation the Parameters are for (Task-decline, Task/$decline or its "
        "OperationDefinition URL), checked against its definition",
    ),
    VALIDATE[-1],
)

PARAMETERS: dict[str, dict[str, tuple[P, ...]]] = {
    "referrals": REFERRALS,
    "careplans": CAREPLANS,
    "transitions": TRANSITIONS,
}

# --------------------------------------------------------------------------- from the routes

_OPERATION = re.compile(r"^/fhir/(?P<type>[A-Z][A-Za-z]+)(?P<instance>/\{id\})?/\$(?P<code>[a-z-]+)$")


@dataclass(frozen=True)
class Route:
    """An operation route of a service."""

    service: str
    resource_type: str
    code: str
    instance: bool
    method: str
    summary: str
    description: str

    @property
    def id(self) -> str:
        """The OperationDefinition id: `<Type>-<code>`."""
        return f"{self.resource_type}-{self.code}"


def _routers(service: str) -> list[Any]:
    module = {"referrals": referrals_routes, "careplans": careplans_routes, "transitions": transitions_routes}[service]
    measures = {"referrals": referrals_measures, "careplans": careplans_measures, "transitions": transitions_measures}
    return [module.operations, module.router, measures[service].router]


def routes(service: str) -> Iterator[Route]:
    """Every `$operation` route a service has."""
    for router in _routers(service):
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            found = _OPERATION.match(route.path)
            if found is None:
                continue
            for method in sorted(route.methods or ()):
                yield Route(
                    service,
                    found["type"],
                    found["code"],
                    bool(found["instance"]),
                    method,
                    route.summary or "",
                    " ".join((route.endpoint.__doc__ or "").split()),
                )


def capability_definitions(service: str) -> set[str]:
    """The OperationDefinition canonicals a service's CapabilityStatement points at."""
    module = {
        "referrals": referrals_metadata,
        "careplans": careplans_metadata,
        "transitions": transitions_metadata,
    }[service]
    statement = module.capability_statement()
    return {op["definition"] for r in statement["rest"][0]["resource"] for op in r.get("operation", [])}


def _name(id_: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in re.split(r"[-_]", id_))


def _by_id() -> dict[str, list[Route]]:
    found: dict[str, list[Route]] = {}
    for service in SERVICES:
        for route in routes(service):
            found.setdefault(route.id, []).append(route)
    return found


def definitions(common: dict[str, Any]) -> list[dict[str, Any]]:
    """Every OperationDefinition, sorted by id."""
    resources = []
    for id_, found in sorted(_by_id().items()):
        first = found[0]
        services = sorted({r.service for r in found})
        if first.code == "validate":
            params: Iterable[P] = VALIDATE
            description = (
                f"Check a {first.resource_type} without storing it: structure, codes, and the rules a create "
                "would enforce. Answers 200 with an OperationOutcome either way."
            )
        elif id_ == MEASURE_EVALUATE:
            params = EVALUATE_MEASURE
            description = "Evaluate one of the service's KPIs over a period of whole days."
        else:
            tables = [PARAMETERS[s][id_] for s in services if id_ in PARAMETERS[s]]
            assert len(tables) == 1, f"{id_}: exactly one service's table describes it ({services})"
            params = tables[0]
            description = first.description or first.summary
        methods = sorted({r.method for r in found})
        resources.append(
            {
                "resourceType": "OperationDefinition",
                "id": id_,
                "url": f"{OD}/{id_}",
                **common,
                "name": _name(id_),
                "title": first.summary or id_,
                "status": "active",
                "kind": "operation",
                "experimental": False,
                "description": f"{description} {' '.join(methods)}; served by the "
                f"{' and '.join(services)} service{'s' if len(services) > 1 else ''}.",
                "affectsState": methods != ["GET"] and first.code != "validate",
                "code": first.code,
                "resource": [first.resource_type],
                "system": False,
                "type": not first.instance,
                "instance": first.instance,
                "parameter": [p.to_json() for p in params],
            }
        )
    resources.append(
        {
            "resourceType": "OperationDefinition",
            "id": RESOURCE_VALIDATE,
            "url": f"{OD}/{RESOURCE_VALIDATE}",
            **common,
            "name": _name(RESOURCE_VALIDATE),
            "title": "Validate a resource without storing it",
            "status": "active",
            "kind": "operation",
            "experimental": False,
            "description": "Check any resource at the gateway without storing it: structure, Continuum's codes, "
            "profiles and operation parameters (the offline validator's checks), then, unless mode is profile, "
            "the rules of the service that holds the type. Answers 200 with an OperationOutcome either way. "
            "POST; served by the gateway.",
            "affectsState": False,
            "code": "validate",
            "resource": ["Resource"],
            "system": False,
            "type": True,
            "instance": False,
            "parameter": [p.to_json() for p in GATEWAY_VALIDATE],
        }
    )
    return sorted(resources, key=lambda r: str(r["id"]))
