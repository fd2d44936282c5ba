"""Clinical coding (FR-48) and the DIALOG trend for the client's chart."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from services.careplans.domain.codes import CS, SNOMED
from services.kit.resources import validate
from services.kit.testing import assert_outcome
from tests.careplans.builders import (
    PATIENT,
    active_plan,
    create_plan,
    crisis_plan,
    dialog,
    record,
    waiting_support_plan,
)

KINDS = ("Questionnaire", "QuestionnaireResponse", "Observation", "CarePlan", "Goal")
DECLARED = (SNOMED, f"{CS}/", "http://terminology.hl7.org/CodeSystem/", "http://unitsofmeasure.org")


def codings(value: Any) -> Iterator[dict[str, Any]]:
    """Every Coding inside a resource (anything with a system and a code)."""
    if isinstance(value, dict):
        if "system" in value and "code" in value:
            yield value
        for child in value.values():
            yield from codings(child)
    elif isinstance(value, list):
        for child in value:
            yield from codings(child)


async def everything(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    found = []
    for kind in KINDS:
        bundle = (await client.get(f"/fhir/{kind}", params={"_count": 200})).json()
        found += [e["resource"] for e in bundle["entry"]]
    return found


async def test_every_code_is_snomed_or_a_declared_code_system(client: httpx.AsyncClient) -> None:
    """FR-48: SNOMED CT where a concept exists, otherwise a declared Continuum (or HL7) code system."""
    await active_plan(client)
    await create_plan(client, crisis_plan())
    await create_plan(client, waiting_support_plan())
    resources = await everything(client)
    assert {r["resourceType"] for r in resources} == set(KINDS)
    for resource in resources:
        for coding in codings(resource):
            assert coding["system"].startswith(DECLARED), (resource["resourceType"], coding)


async def test_items_plans_and_goals_carry_snomed_concepts(client: httpx.AsyncClient) -> None:
    await active_plan(client)
    await create_plan(client, crisis_plan())
    resources = await everything(client)
    snomed: dict[str, set[str]] = {}
    for r in resources:
        snomed.setdefault(r["resourceType"], set()).update(c["code"] for c in codings(r) if c["system"] == SNOMED)
    assert len(snomed["Questionnaire"]) == 11
    assert {"734163000", "2181441000000107", "736253002"} <= snomed["CarePlan"]
    assert "1037681000000106" in snomed["Goal"]


async def test_every_stored_resource_is_valid_canonical_r4(client: httpx.AsyncClient) -> None:
    await active_plan(client)
    await create_plan(client, crisis_plan())
    for resource in await everything(client):
        content = {k: v for k, v in resource.items() if k != "meta"}
        assert validate(content) == content, resource["resourceType"]


# ---------------------------------------------------------------- $dialog-trend


def series(trend: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for p in trend["parameter"]:
        if p["name"] == "series":
            parts = p["part"]
            code = parts[0]["valueCode"]
            baseline = next((x["valueDecimal"] for x in parts if x["name"] == "baseline"), None)
            points = [
                {x["name"]: next(v for k, v in x.items() if k.startswith("value")) for x in pt["part"]}
                for pt in parts
                if pt["name"] == "point"
            ]
            found[code] = {"baseline": baseline, "points": points}
    return found


async def test_the_trend_shows_each_item_and_both_scores_with_the_change_from_baseline(
    client: httpx.AsyncClient,
) -> None:
    await record(client, dialog((3, 4, 4, 4, 4, 4, 4, 4, 2, 2, 2), authored="2026-01-05T09:00:00Z"))
    await record(client, dialog((6, 4, 4, 4, 4, 4, 4, 5, 5, 5, 6), authored="2026-03-05T09:00:00Z"))
    await record(client, dialog((7,) * 11, subject="Patient/p-2"))
    response = await client.get("/fhir/Observation/$dialog-trend", params={"subject": PATIENT})
    assert response.status_code == 200
    trend = response.json()
    found = series(trend)
    assert list(found)[:2] == ["sqol", "treatment-satisfaction"]
    assert len(found) == 13
    assert found["sqol"]["baseline"] == 3.88
    assert [(p["value"], p["change"]) for p in found["sqol"]["points"]] == [(3.88, 0), (4.38, 0.5)]
    assert [(p["value"], p["change"]) for p in found["treatment-satisfaction"]["points"]] == [(2, 0), (5.33, 3.33)]
    assert [(p["value"], p["change"]) for p in found["mental-health"]["points"]] == [(3, 0), (6, 3)]
    assert [p["time"] for p in found["meetings"]["points"]] == ["2026-01-05T09:00:00.000Z", "2026-03-05T09:00:00.000Z"]
    assert trend["parameter"][1] == {"name": "measures", "valueInteger": 2}


async def test_the_trend_can_be_narrowed_to_a_referral(client: httpx.AsyncClient) -> None:
    await record(client, dialog(based_on="ServiceRequest/r-1"))
    await record(client, dialog((6,) * 11, based_on="ServiceRequest/r-2"))
    trend = (
        await client.get(
            "/fhir/Observation/$dialog-trend", params={"subject": PATIENT, "based-on": "ServiceRequest/r-2"}
        )
    ).json()
    assert series(trend)["sqol"]["baseline"] == 6


async def test_the_trend_names_a_person(client: httpx.AsyncClient) -> None:
    assert_outcome(await client.get("/fhir/Observation/$dialog-trend"), 422, "required", "subject")
    assert_outcome(
        await client.get("/fhir/Observation/$dialog-trend", params={"subject": "Group/g"}), 422, None, "subject"
    )
    assert_outcome(
        await client.get("/fhir/Observation/$dialog-trend", params={"subject": PATIENT, "colour": "blue"}),
        400,
        "invalid",
        "colour",
    )
    empty = (await client.get("/fhir/Observation/$dialog-trend", params={"subject": "p-9"})).json()
    assert empty["parameter"][1] == {"name": "measures", "valueInteger": 0}
