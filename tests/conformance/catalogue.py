"""Every example in `examples/`, how it reaches the API, and what the API answers.

`examples/valid/<name>.json` is accepted; `examples/invalid/<name>.json` is refused with `status`,
the first issue's `code`, and an issue expression containing `expression`; its offline
OperationOutcome is `examples/invalid/<name>.outcome.json`. A Parameters example's name starts with
its OperationDefinition id (`Task-decline.json`), which is how the validator knows the operation.

`setup` names what must exist first (a referral Task to decide on, an active plan to review ...);
references to `ServiceRequest/example-referral` in an example are replaced by the referral the
setup created.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@dataclass(frozen=True)
class Example:
    """One example file and its API round trip."""

    name: str
    valid: bool
    service: str
    method: str
    path: str
    status: int
    setup: str | None = None
    code: str | None = None
    expression: str | None = None

    @property
    def file(self) -> Path:
        """The example's path."""
        return EXAMPLES / ("valid" if self.valid else "invalid") / f"{self.name}.json"

    @property
    def outcome_file(self) -> Path:
        """The expected offline OperationOutcome of an invalid example."""
        return self.file.with_name(f"{self.name}.outcome.json")

    @property
    def id(self) -> str:
        """The test id."""
        return f"{'valid' if self.valid else 'invalid'}/{self.name}"


def ok(name: str, service: str, method: str, path: str, status: int, setup: str | None = None) -> Example:
    """A valid example."""
    return Example(name, True, service, method, path, status, setup)


def refused(
    name: str,
    service: str,
    method: str,
    path: str,
    status: int,
    code: str,
    expression: str,
    setup: str | None = None,
) -> Example:
    """An invalid example and how the API refuses it."""
    return Example(name, False, service, method, path, status, setup, code, expression)


SR = "/fhir/ServiceRequest"
TASK_OP = "/fhir/Task/{task}/${op}"
PARAM = "Parameters.parameter.where(name='{}')"

EXAMPLES_LIST: tuple[Example, ...] = (
    # ---------------------------------------------------------------- referrals
    ok("ServiceRequest.gp-referral", "referrals", "POST", SR, 201),
    ok("ServiceRequest.self-referral", "referrals", "POST", SR, 201),
    ok("Task.referral", "referrals", "POST", "/fhir/Task/$validate", 200),
    ok("EpisodeOfCare.caseload", "referrals", "POST", "/fhir/EpisodeOfCare", 201),
    ok("Encounter.contact", "referrals", "POST", "/fhir/Encounter", 201, "referral"),
    ok("Task-triage", "referrals", "POST", TASK_OP, 200, "referral"),
    ok("Task-accept", "referrals", "POST", TASK_OP, 200, "referral"),
    ok("Task-decline", "referrals", "POST", TASK_OP, 200, "referral"),
    ok("Task-redirect", "referrals", "POST", TASK_OP, 200, "referral"),
    ok("Task-cancel", "referrals", "POST", TASK_OP, 200, "referral"),
    ok("Task-escalate", "referrals", "POST", TASK_OP, 201, "referral"),
    ok("Task-complete", "referrals", "POST", TASK_OP, 200, "accepted-referral"),
    ok("Task-raise-concern", "referrals", "POST", "/fhir/Task/$raise-concern", 201),
    ok("Task-acknowledge", "referrals", "POST", TASK_OP, 200, "concern"),
    ok("EpisodeOfCare-close", "referrals", "POST", "/fhir/EpisodeOfCare/{episode}/$close", 200, "episode"),
    ok("Bundle.transaction", "referrals", "POST", "/fhir", 200),
    refused("ServiceRequest.missing-performer", "referrals", "POST", SR, 422, "required", "ServiceRequest.performer"),
    refused("ServiceRequest.missing-reason", "referrals", "POST", SR, 422, "required", "ServiceRequest.reasonCode"),
    refused("ServiceRequest.missing-source", "referrals", "POST", SR, 422, "required", "ServiceRequest.category"),
    refused("ServiceRequest.unknown-source", "referrals", "POST", SR, 422, "code-invalid", "ServiceRequest.category"),
    refused(
        "ServiceRequest.subject-not-patient", "referrals", "POST", SR, 422, "business-rule", "ServiceRequest.subject"
    ),
    refused("ServiceRequest.unknown-element", "referrals", "POST", SR, 400, "structure", "ServiceRequest.reasonText"),
    refused(
        "ServiceRequest.performer-not-a-list", "referrals", "POST", SR, 400, "structure", "ServiceRequest.performer"
    ),
    refused(
        "ServiceRequest.unknown-performer",
        "referrals",
        "POST",
        SR,
        422,
        "business-rule",
        "ServiceRequest.performer[0]",
    ),
    refused("ServiceRequest.bad-priority", "referrals", "POST", SR, 422, "code-invalid", "ServiceRequest.priority"),
    refused(
        "Task-decline.prohibited-reason",
        "referrals",
        "POST",
        TASK_OP,
        422,
        "business-rule",
        PARAM.format("reason"),
        "referral",
    ),
    refused(
        "Task-decline.missing-rationale",
        "referrals",
        "POST",
        TASK_OP,
        422,
        "required",
        PARAM.format("rationale"),
        "referral",
    ),
    refused(
        "Task-decline.reason-as-string",
        "referrals",
        "POST",
        TASK_OP,
        400,
        "invalid",
        PARAM.format("reason"),
        "referral",
    ),
    refused(
        "Task-triage.unknown-eligibility",
        "referrals",
        "POST",
        TASK_OP,
        422,
        "code-invalid",
        PARAM.format("eligibility"),
        "referral",
    ),
    refused(
        "Task-redirect.missing-destination",
        "referrals",
        "POST",
        TASK_OP,
        422,
        "required",
        PARAM.format("destination"),
        "referral",
    ),
    refused(
        "Task-raise-concern.missing-description",
        "referrals",
        "POST",
        "/fhir/Task/$raise-concern",
        422,
        "required",
        PARAM.format("description"),
    ),
    refused(
        "EpisodeOfCare.missing-team",
        "referrals",
        "POST",
        "/fhir/EpisodeOfCare",
        422,
        "required",
        "EpisodeOfCare.extension('episode-healthcare-service')",
    ),
    refused(
        "Encounter.unknown-contact-mode",
        "referrals",
        "POST",
        "/fhir/Encounter",
        422,
        "code-invalid",
        "Encounter.type",
        "referral",
    ),
    # ---------------------------------------------------------------- care plans
    ok("QuestionnaireResponse.dialog", "careplans", "POST", "/fhir/QuestionnaireResponse", 201),
    ok("CarePlan-dialog-plus-session", "careplans", "POST", "/fhir/CarePlan/$dialog-plus-session", 201),
    ok("CarePlan-activate", "careplans", "POST", "/fhir/CarePlan/{plan}/$activate", 200, "draft-plan"),
    ok("CarePlan-review", "careplans", "POST", "/fhir/CarePlan/{plan}/$review", 200, "active-plan"),
    ok("CarePlan-complete", "careplans", "POST", "/fhir/CarePlan/{plan}/$complete", 200, "active-plan"),
    ok("CarePlan.crisis", "careplans", "POST", "/fhir/CarePlan", 201),
    ok("CarePlan.waiting-support", "careplans", "POST", "/fhir/CarePlan", 201),
    refused(
        "QuestionnaireResponse.wrong-questionnaire",
        "careplans",
        "POST",
        "/fhir/QuestionnaireResponse",
        422,
        "business-rule",
        "QuestionnaireResponse.questionnaire",
    ),
    refused(
        "QuestionnaireResponse.missing-item",
        "careplans",
        "POST",
        "/fhir/QuestionnaireResponse",
        422,
        "required",
        "QuestionnaireResponse.item.where(linkId='life-domains').item.where(linkId='leisure')",
    ),
    refused("CarePlan.intent-not-plan", "careplans", "POST", "/fhir/CarePlan", 422, "business-rule", "CarePlan.intent"),
    refused(
        "CarePlan.unknown-category", "careplans", "POST", "/fhir/CarePlan", 422, "code-invalid", "CarePlan.category"
    ),
    refused(
        "CarePlan-dialog-plus-session.unknown-dialog-item",
        "careplans",
        "POST",
        "/fhir/CarePlan/$dialog-plus-session",
        422,
        "code-invalid",
        "Parameters.parameter.where(name='domain')[0].part.where(name='item')",
    ),
    refused(
        "CarePlan-dialog-plus-session.too-many-domains",
        "careplans",
        "POST",
        "/fhir/CarePlan/$dialog-plus-session",
        422,
        "business-rule",
        PARAM.format("domain"),
    ),
    # ---------------------------------------------------------------- transitions
    ok("Task-open-transition", "transitions", "POST", "/fhir/Task/$open-transition", 201),
    ok("Task-record-discussion", "transitions", "POST", TASK_OP, 200, "transition-case"),
    ok("Task-decide-support", "transitions", "POST", TASK_OP, 200, "transition-discussed"),
    ok("Task-record-meeting", "transitions", "POST", TASK_OP, 200, "transition-supported"),
    ok("Task-share-plan", "transitions", "POST", TASK_OP, 200, "transition-planned"),
    ok("Task-record-agreement", "transitions", "POST", TASK_OP, 200, "transition-shared"),
    ok("CarePlan.transition-plan", "transitions", "POST", "/fhir/CarePlan/$validate", 200),
    refused(
        "Task-record-meeting.unknown-destination",
        "transitions",
        "POST",
        TASK_OP,
        422,
        "code-invalid",
        PARAM.format("destination"),
        "transition-supported",
    ),
    refused(
        "Task-record-agreement.unknown-decision",
        "transitions",
        "POST",
        TASK_OP,
        422,
        "code-invalid",
        PARAM.format("decision"),
        "transition-shared",
    ),
    refused(
        "CarePlan.transition-plan-not-agreed",
        "transitions",
        "POST",
        "/fhir/CarePlan/$validate",
        200,
        "business-rule",
        "CarePlan.extension('transition-plan-young-person-agreement')",
    ),
    # ---------------------------------------------------------------- the gateway
    ok("Patient.nhs-number", "gateway", "POST", "/fhir/Patient", 201),
    ok("Subscription.referral-accepted", "gateway", "POST", "/fhir/Subscription", 201),
    ok("Consent.carer-sharing", "gateway", "POST", "/fhir/Consent", 201),
    ok("Bundle.bars-referral-message", "gateway", "POST", "/fhir/$process-message", 200),
    refused(
        "Patient.invalid-nhs-number", "gateway", "POST", "/fhir/Patient", 422, "value", "Patient.identifier[0].value"
    ),
    refused(
        "Bundle.bars-invalid-nhs-number",
        "gateway",
        "POST",
        "/fhir/$process-message",
        422,
        "value",
        "Bundle.entry[2].resource.identifier[0].value",
    ),
    refused(
        "Bundle.bars-unsupported-event",
        "gateway",
        "POST",
        "/fhir/$process-message",
        422,
        "not-supported",
        "Bundle.entry[0].resource.eventCoding",
    ),
)

VALID = tuple(e for e in EXAMPLES_LIST if e.valid)
INVALID = tuple(e for e in EXAMPLES_LIST if not e.valid)
# The services' own `$validate` (structure plus the create's rules): the resource examples they hold.
VALIDATE_ROUTES = {
    "ServiceRequest": "referrals",
    "Task": "referrals",
    "EpisodeOfCare": "referrals",
    "Encounter": "referrals",
    "QuestionnaireResponse": "careplans",
    "CarePlan": "careplans",
}
