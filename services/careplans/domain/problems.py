"""Collecting every problem of a resource, so one 422 names them all."""

from __future__ import annotations

from services.kit.errors import Issue, Unprocessable


class Problems:
    """Issues found while checking one resource; `raise_any` turns them into one 422."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def add(self, code: str, diagnostics: str, where: str) -> None:
        """Record one problem at a FHIRPath."""
        self.issues.append(Issue(code, diagnostics, (where,)))

    def raise_any(self) -> None:
        """Raise a 422 carrying every problem, if there are any."""
        if self.issues:
            first = self.issues[0].diagnostics
            summary = first if len(self.issues) == 1 else f"{first} (and {len(self.issues) - 1} more)"
            raise Unprocessable(summary, issues=self.issues)
