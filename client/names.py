"""Names instead of references: people from the gateway's Patient records, workers and teams from
the partnership directory the client already has. A reference that cannot be named is shown as it is."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from client import vocabulary as words
from client.gateway import ApiError, Gateway

MOST_PEOPLE = 100
"""How many people one page names (a longer list shows the rest as references)."""


def person_name(patient: dict[str, Any]) -> str:
    """A Patient's usual (or first) name as "Given Family"; "" when it has none."""
    names = patient.get("name") or []
    chosen = next((n for n in names if n.get("use") == "usual"), names[0] if names else None)
    if not chosen:
        return ""
    if chosen.get("text"):
        return str(chosen["text"])
    return " ".join([*(str(g) for g in chosen.get("given", [])), str(chosen.get("family", ""))]).strip()


async def patient_names(gateway: Gateway, token: str, references: Iterable[str]) -> dict[str, str]:
    """`Patient/{id}` → name. Each Patient is read on its own: the gateway lets a clinician read the
    people their team knows (and audits each read), but not search people by id."""
    wanted = sorted({r for r in references if r.startswith("Patient/") and len(r) > len("Patient/")})[:MOST_PEOPLE]

    async def read(reference: str) -> tuple[str, str]:
        try:
            return reference, person_name(await gateway.get(token, reference))
        except ApiError:
            return reference, ""

    found = await asyncio.gather(*(read(r) for r in wanted))
    return {reference: name for reference, name in found if name}


def display(reference: dict[str, Any] | str | None, people: dict[str, str] | None = None) -> str:
    """What to show for a reference: a person's, worker's or team's name, else its display, else itself."""
    if isinstance(reference, dict):
        target, given = str(reference.get("reference", "")), str(reference.get("display", ""))
    else:
        target, given = reference or "", ""
    kind, _, ident = target.partition("/")
    if kind == "Patient" and people and target in people:
        return people[target]
    if kind == "PractitionerRole":
        role = words.role(ident)
        if role is not None:
            return f"{role.practitioner_name}, {words.team_name(role.team)}"
    if kind == "HealthcareService":
        name = words.team_name(ident)
        if name != ident:
            return name
    return given or target
