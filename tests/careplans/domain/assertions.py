"""Shared checks for the domain tests: a kit error's status, issue code and FHIRPath expression."""

from __future__ import annotations

from services.kit.errors import FhirError


def assert_issue(error: FhirError, *, status: int, code: str, expression: tuple[str, ...]) -> None:
    """The error has this HTTP status, one issue of this code, and names exactly these elements."""
    assert error.status == status
    assert len(error.issues) == 1
    assert error.issues[0].code == code
    assert error.issues[0].expression == expression
    assert error.expression == expression
