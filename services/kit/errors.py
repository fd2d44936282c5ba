"""The FhirError family: every error a client can see, with its HTTP status and FHIR issue type.

Raise these from any layer; `services.kit.handlers.install` is the only code that turns them
into an OperationOutcome body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome issue: what went wrong and where (FHIRPath expressions)."""

    code: str
    diagnostics: str
    expression: tuple[str, ...] = ()
    severity: str = "error"

    def to_json(self) -> dict[str, object]:
        """The issue as FHIR JSON."""
        body: dict[str, object] = {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            body["expression"] = list(self.expression)
        return body


@dataclass
class FhirError(Exception):
    """Base of every client-visible error; carries its status and FHIR issue type."""

    diagnostics: str
    expression: tuple[str, ...] | list[str] | str = ()
    issues: list[Issue] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    status: ClassVar[int] = 500
    code: ClassVar[str] = "exception"

    def __post_init__(self) -> None:
        super().__init__(self.diagnostics)
        if isinstance(self.expression, str):
            self.expression = (self.expression,)
        else:
            self.expression = tuple(self.expression)
        if not self.issues:
            self.issues = [Issue(self.code, self.diagnostics, tuple(self.expression))]

    def outcome(self) -> dict[str, object]:
        """The OperationOutcome for this error."""
        return operation_outcome(self.issues)


def operation_outcome(issues: list[Issue]) -> dict[str, object]:
    """An OperationOutcome resource built from issues."""
    return {"resourceType": "OperationOutcome", "issue": [i.to_json() for i in issues]}


class BadRequest(FhirError):
    """400: the request could not be parsed or is structurally invalid."""

    status = 400
    code = "invalid"


class InvalidStructure(FhirError):
    """400: the resource does not match the FHIR R4 structure."""

    status = 400
    code = "structure"


class Unauthorized(FhirError):
    """401: no valid credentials."""

    status = 401
    code = "login"


class Forbidden(FhirError):
    """403: authenticated, but not allowed."""

    status = 403
    code = "forbidden"


class NotFound(FhirError):
    """404: no such resource or route."""

    status = 404
    code = "not-found"


class MethodNotAllowed(FhirError):
    """405: the interaction is not supported on this resource."""

    status = 405
    code = "not-supported"


class NotAcceptable(FhirError):
    """406: the client asked for a format this server does not produce."""

    status = 406
    code = "not-supported"


class Conflict(FhirError):
    """409: the request conflicts with the resource's current state (for example an illegal move)."""

    status = 409
    code = "conflict"


class Gone(FhirError):
    """410: the resource was deleted."""

    status = 410
    code = "deleted"


class PreconditionFailed(FhirError):
    """412: `If-Match` or a conditional create did not hold."""

    status = 412
    code = "conflict"


class PayloadTooLarge(FhirError):
    """413: the body is over the configured limit."""

    status = 413
    code = "too-costly"


class UnsupportedMediaType(FhirError):
    """415: the body is not FHIR JSON."""

    status = 415
    code = "not-supported"


class Unprocessable(FhirError):
    """422: the resource is valid FHIR but breaks a business rule."""

    status = 422
    code = "business-rule"


class RequiredMissing(Unprocessable):
    """422: an element the rule needs is absent."""

    code = "required"


class UnknownCode(Unprocessable):
    """422: a code is not in the CodeSystem the element is bound to."""

    code = "code-invalid"


class TooManyRequests(FhirError):
    """429: the client is over its rate limit."""

    status = 429
    code = "throttled"


class BadGateway(FhirError):
    """502: an upstream service failed."""

    status = 502
    code = "transient"


class ServiceUnavailable(FhirError):
    """503: a dependency (usually the database) is unavailable; retry later."""

    status = 503
    code = "transient"


class GatewayTimeout(FhirError):
    """504: an upstream service did not answer in time."""

    status = 504
    code = "timeout"
