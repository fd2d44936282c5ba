"""The DIALOG Questionnaire (FR-32), validated responses (FR-33), scores and baselines (FR-34, FR-35)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.careplans.domain.codes import CS_SATISFACTION, DIALOG_URL
from services.careplans.domain.dialog import questionnaire
from services.careplans.main import publish_definitions
from services.kit.testing import assert_outcome
from tests.careplans.builders import FHIR, PATIENT, REFERRAL, dialog, find_item, record, scores


async def nothing_stored(client: httpx.AsyncClient) -> None:
    for kind in ("QuestionnaireResponse", "Observation"):
        assert (await client.get(f"/fhir/{kind}")).json()["total"] == 0


# ---------------------------------------------------------------- FR-32


async def test_the_dialog_questionnaire_is_served_with_eleven_items_in_two_groups(client: httpx.AsyncClient) -> None:
    response = await client.get("/fhir/Questionnaire/dialog")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert response.headers["etag"] == 'W/"1"'
    body = response.json()
    assert body["url"] == DIALOG_URL
    groups = {g["linkId"]: [i["linkId"] for i in g["item"]] for g in body["item"]}
    assert [len(items) for items in groups.values()] == [8, 3]
    assert groups["treatment-aspects"] == ["medication", "practical-help", "meetings"]


async def test_the_questionnaire_is_found_by_url_and_name(client: httpx.AsyncClient) -> None:
    for query in ({"url": DIALOG_URL}, {"url": f"{DIALOG_URL}|1.0.0"}, {"name": "dial"}, {"status": "active"}):
        bundle = (await client.get("/fhir/Questionnaire", params=query)).json()
        assert [e["resource"]["id"] for e in bundle["entry"]] == ["dialog"], query
    assert (await client.get("/fhir/Questionnaire", params={"url": "https://x.org/q"})).json()["total"] == 0


async def test_publishing_again_makes_no_new_version(app: FastAPI, client: httpx.AsyncClient) -> None:
    await publish_definitions(app)
    await publish_definitions(app)
    history = (await client.get("/fhir/Questionnaire/dialog/_history")).json()
    assert history["total"] == 1


async def test_changed_content_is_published_as_a_new_version(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    revised = {**questionnaire(), "description": "DIALOG, with the wording confirmed by clinical leads"}
    monkeypatch.setattr("services.careplans.service.definitions.questionnaire", lambda: revised)
    await publish_definitions(app)
    current = await client.get("/fhir/Questionnaire/dialog")
    assert current.headers["etag"] == 'W/"2"'
    assert current.json()["description"] == revised["description"]
    assert (await client.get("/fhir/Questionnaire/dialog/_history/1")).json()["description"] != revised["description"]


async def test_clients_do_not_write_the_questionnaire(client: httpx.AsyncClient) -> None:
    body = (await client.get("/fhir/Questionnaire/dialog")).json()
    assert_outcome(await client.post("/fhir/Questionnaire", json=body, headers=FHIR), 405, "not-supported")
    assert_outcome(await client.put("/fhir/Questionnaire/dialog", json=body, headers=FHIR), 405, "not-supported")
    assert_outcome(await client.delete("/fhir/Questionnaire/dialog"), 405, "not-supported")


# ---------------------------------------------------------------- FR-33


async def test_a_valid_dialog_is_recorded(client: httpx.AsyncClient) -> None:
    response = await client.post("/fhir/QuestionnaireResponse", json=dialog(), headers=FHIR)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"].endswith(f"/fhir/QuestionnaireResponse/{body['id']}/_history/1")
    assert response.headers["etag"] == 'W/"1"'
    read = (await client.get(f"/fhir/QuestionnaireResponse/{body['id']}")).json()
    assert read == body


async def refused(client: httpx.AsyncClient, body: dict[str, Any], expression: str, code: str | None = None) -> None:
    response = await client.post("/fhir/QuestionnaireResponse", json=body, headers=FHIR)
    assert_outcome(response, 422, code, expression)
    await nothing_stored(client)


async def test_ten_items_are_refused_naming_the_missing_one(client: httpx.AsyncClient) -> None:
    body = dialog()
    body["item"][1]["item"].pop()
    await refused(client, body, "item.where(linkId='meetings')", "required")


async def test_a_value_of_eight_or_zero_is_refused_naming_the_item(client: httpx.AsyncClient) -> None:
    for code in ("8", "0", "4.5"):
        body = dialog()
        find_item(body, "physical-health.satisfaction")["answer"] = [
            {"valueCoding": {"system": CS_SATISFACTION, "code": code}}
        ]
        await refused(client, body, "item.where(linkId='physical-health.satisfaction')", "value")


async def test_duplicate_and_unknown_link_ids_are_refused(client: httpx.AsyncClient) -> None:
    body = dialog()
    body["item"][0]["item"].append(find_item(dialog(), "leisure"))
    await refused(client, body, "item.where(linkId='leisure')", "duplicate")
    body = dialog()
    body["item"][0]["item"].append({"linkId": "dialog-12"})
    await refused(client, body, "item.where(linkId='dialog-12')")


async def test_a_response_to_another_questionnaire_or_not_completed_is_refused(client: httpx.AsyncClient) -> None:
    await refused(
        client, {**dialog(), "questionnaire": "https://x.org/Questionnaire/phq9"}, "QuestionnaireResponse.questionnaire"
    )
    await refused(client, {**dialog(), "status": "in-progress"}, "QuestionnaireResponse.status")
    await refused(client, {**dialog(), "authored": "2026-01"}, "QuestionnaireResponse.authored")


async def test_validate_checks_a_response_and_stores_nothing(client: httpx.AsyncClient) -> None:
    good = await client.post("/fhir/QuestionnaireResponse/$validate", json=dialog(), headers=FHIR)
    assert [i["severity"] for i in good.json()["issue"]] == ["information"]
    body = dialog()
    find_item(body, "leisure.satisfaction")["answer"] = [{"valueInteger": 9}]
    outcome = (await client.post("/fhir/QuestionnaireResponse/$validate", json=body, headers=FHIR)).json()
    assert outcome["issue"][0]["severity"] == "error"
    assert "leisure.satisfaction" in outcome["issue"][0]["expression"][0]
    await nothing_stored(client)


# ---------------------------------------------------------------- FR-34


def value(observation: dict[str, Any]) -> float:
    return observation["valueQuantity"]["value"]  # type: ignore[no-any-return]


async def test_two_score_observations_derive_from_each_response(client: httpx.AsyncClient) -> None:
    recorded = await record(client, dialog((4,) * 8 + (2,) * 3))
    found = await scores(client, recorded["id"])
    sqol, ts = found["sqol"], found["treatment-satisfaction"]
    assert (value(sqol), value(ts)) == (4.0, 2.0)
    assert sqol["interpretation"][0]["coding"][0]["code"] == "neutral"
    assert ts["interpretation"][0]["coding"][0]["code"] == "dissatisfied"
    for observation in (sqol, ts):
        assert observation["derivedFrom"] == [{"reference": f"QuestionnaireResponse/{recorded['id']}"}]
        assert observation["subject"] == {"reference": PATIENT}
        assert observation["basedOn"] == [{"reference": REFERRAL}]
        assert observation["effectiveDateTime"] == "2026-01-05T09:00:00Z"
        assert observation["category"][0]["coding"][0]["code"] == "survey"
        assert observation["valueQuantity"]["unit"] == "{score}"
    assert sqol["component"][0]["valueInteger"] == 8
    assert ts["component"][0]["valueInteger"] == 3


async def test_scores_are_hand_checked_through_the_api(client: httpx.AsyncClient) -> None:
    cases = [
        ((1,) * 11, 1.0, 1.0),
        ((7,) * 11, 7.0, 7.0),
        ((4, 5, 5, 6, 3, 2, 7, 4, 5, 6, 6), 4.5, 5.67),
        ((4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 6), 4.13, 5.33),
    ]
    for ratings, sqol, ts in cases:
        found = await scores(client, (await record(client, dialog(ratings)))["id"])
        assert (value(found["sqol"]), value(found["treatment-satisfaction"])) == (sqol, ts), ratings


async def test_too_few_answered_items_give_no_score_but_say_why(client: httpx.AsyncClient) -> None:
    recorded = await record(client, dialog((4,) * 8 + (None, None, 5)))
    ts = (await scores(client, recorded["id"]))["treatment-satisfaction"]
    assert "valueQuantity" not in ts
    assert ts["dataAbsentReason"]["coding"][0]["code"] == "not-performed"
    assert ts["component"][0]["valueInteger"] == 1


def timepoint(observation: dict[str, Any]) -> str:
    return observation["extension"][0]["valueCode"]  # type: ignore[no-any-return]


async def test_the_first_dialog_of_a_referral_is_its_baseline(client: httpx.AsyncClient) -> None:
    first = await scores(client, (await record(client))["id"])
    second = await scores(client, (await record(client))["id"])
    other = await scores(client, (await record(client, dialog(based_on="ServiceRequest/r-2")))["id"])
    unreferred = await scores(client, (await record(client, dialog(based_on=None)))["id"])
    assert [timepoint(s["sqol"]) for s in (first, second, other, unreferred)] == [
        "baseline",
        "follow-up",
        "baseline",
        "baseline",
    ]
    baselines = await client.get("/fhir/Observation", params={"code": "sqol", "based-on": REFERRAL})
    assert baselines.json()["total"] == 2


async def test_concurrent_first_dialogs_make_exactly_one_baseline(client: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(
        *(client.post("/fhir/QuestionnaireResponse", json=dialog(), headers=FHIR) for _ in range(6))
    )
    assert {r.status_code for r in responses} == {201}
    points = [timepoint((await scores(client, r.json()["id"]))["sqol"]) for r in responses]
    assert sorted(points) == ["baseline"] + ["follow-up"] * 5


async def test_authored_defaults_to_now(client: httpx.AsyncClient) -> None:
    recorded = await record(client, dialog(authored=None))
    assert recorded["authored"] == "2026-01-05T09:00:00Z"


async def test_observations_and_responses_are_not_written_by_clients(client: httpx.AsyncClient) -> None:
    recorded = await record(client)
    observation = next(iter((await scores(client, recorded["id"])).values()))
    assert_outcome(await client.post("/fhir/Observation", json=observation, headers=FHIR), 405, "not-supported")
    assert_outcome(
        await client.put(f"/fhir/Observation/{observation['id']}", json=observation, headers=FHIR), 405, "not-supported"
    )
    assert_outcome(
        await client.put(f"/fhir/QuestionnaireResponse/{recorded['id']}", json=recorded, headers=FHIR),
        405,
        "not-supported",
    )
