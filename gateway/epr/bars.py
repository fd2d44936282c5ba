"""The Booking and Referral Standard (BaRS) vocabulary the simulated senders speak.

Codes and rules from the BaRS API and implementation guide (`../shared/spec/standards.md`
section 1.1): a message Bundle whose first entry is a MessageHeader, the event
`servicerequest-request`, a synchronous answer, and errors as OperationOutcomes whose
`issue.details` carry a code from `https://fhir.nhs.uk/CodeSystem/http-error-codes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from services.kit.errors import FhirError, Issue
from services.kit.http import FHIR_JSON

MESSAGE_EVENTS = "https://fhir.nhs.uk/CodeSystem/message-events-bars"
MESSAGE_REASONS = "https://fhir.nhs.uk/CodeSystem/message-reason-bars"
MESSAGE_CATEGORY = "https://fhir.nhs.uk/CodeSystem/message-category-servicerequest"
HTTP_ERROR_CODES = "https://fhir.nhs.uk/CodeSystem/http-error-codes"
ODS_CODE = "https://fhir.nhs.uk/Id/ods-organization-code"
EVENT_REFERRAL = "servicerequest-request"
BUNDLE_PROFILE = "https://fhir.nhs.uk/StructureDefinition/BARSBundleMessage"
HEADER_PROFILE = "https://fhir.nhs.uk/StructureDefinition/BARSMessageHeader-servicerequest-request"
OUTCOME_PROFILE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-OperationOutcome"
REFERRAL_DEFINITION = "https://fhir.nhs.uk/MessageDefinition/bars-message-servicerequest-request-referral"
# The identifier the gateway gives a referral created from a message: the sender and the
# message's Bundle.id. A retry of the same message finds the same referral (If-None-Exist).
MESSAGE_IDENTIFIER = "https://continuum.example.org/fhir/Id/bars-message"
# Major versions of the BaRS message the receiver understands (Bundle.meta.versionId).
SUPPORTED_MAJOR_VERSIONS = ("1",)

# Receiver ("REC_") error codes by HTTP status, as the BaRS failure-scenario tables use them.
_BY_STATUS = {
    400: "REC_BAD_REQUEST",
    401: "REC_UNAUTHORIZED",
    403: "REC_FORBIDDEN",
    404: "REC_NOT_FOUND",
    405: "REC_METHOD_NOT_ALLOWED",
    406: "REC_NOT_ACCEPTABLE",
    409: "REC_CONFLICT",
    422: "REC_UNPROCESSABLE_ENTITY",
    500: "REC_SERVER_ERROR",
    501: "REC_NOT_IMPLEMENTED",
    503: "REC_SERVICE_UNAVAILABLE",
    504: "REC_TIMEOUT",
}


def error_code(status: int) -> str:
    """The BaRS http-error-code for a receiver's HTTP status."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return "REC_BAD_REQUEST" if status < 500 else "REC_SERVER_ERROR"


@dataclass(frozen=True)
class Answer:
    """A synchronous BaRS answer: what the HTTP response carries (and what a repeat gets)."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body as JSON."""
        return orjson.loads(self.body)


def outcome(status: int, issues: list[Issue]) -> dict[str, Any]:
    """A UK Core OperationOutcome whose issues carry the BaRS error code for `status`."""
    code = error_code(status)
    rendered = []
    for issue in issues:
        body = issue.to_json()
        if issue.severity in ("error", "fatal"):
            body["details"] = {"coding": [{"system": HTTP_ERROR_CODES, "code": code}], "text": code}
        rendered.append(body)
    return {"resourceType": "OperationOutcome", "meta": {"profile": [OUTCOME_PROFILE]}, "issue": rendered}


def error_answer(error: FhirError) -> Answer:
    """The BaRS answer for an error: an upstream outage is 503 REC_SERVICE_UNAVAILABLE."""
    status = error.status
    issues = list(error.issues)
    headers = dict(error.headers)
    if status == 502:
        status = 503
        issues = [Issue("transient", i.diagnostics, i.expression, i.severity) for i in issues]
        headers.setdefault("Retry-After", "5")
    headers["Content-Type"] = FHIR_JSON
    return Answer(status, orjson.dumps(outcome(status, issues)), headers)


def relocate(error: FhirError, prefixes: dict[str, str]) -> FhirError:
    """Rewrite an error's expressions from a resource's own paths to its place in the message.

    `ServiceRequest.subject` becomes `Bundle.entry[1].resource.subject` when `prefixes` maps
    "ServiceRequest" to "Bundle.entry[1].resource"; other expressions are kept.
    """

    def move(expression: str) -> str:
        for old, new in prefixes.items():
            if expression == old or expression.startswith((f"{old}.", f"{old}[")):
                return new + expression[len(old) :]
        return expression

    error.issues = [
        Issue(i.code, i.diagnostics, tuple(move(e) for e in i.expression), i.severity) for i in error.issues
    ]
    error.expression = tuple(move(e) for e in error.expression)
    return error
