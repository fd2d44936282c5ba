"""DIALOG+ sessions (FR-35, FR-36): one living co-produced plan per episode, revised session by session."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from services.kit.testing import assert_outcome
from tests.careplans.builders import (
    CARER,
    CLINICIAN,
    EPISODE,
    PATIENT,
    action,
    active_plan,
    agreement,
    dialog,
    domain,
    first_session,
    parameters,
    record,
    reference,
    review,
    run_session,
    session,
    value,
)

SESSION = "Parameters.parameter.where(name="


async def count(client: httpx.AsyncClient, kind: str) -> int:
    total: int = (await client.get(f"/fhir/{kind}")).json()["total"]
    return total


async def nothing_stored(client: httpx.AsyncClient) -> None:
    for kind in ("CarePlan", "Goal", "QuestionnaireResponse", "Observation"):
        assert await count(client, kind) == 0, kind


# ---------------------------------------------------------------- FR-35


async def test_a_session_without_a_dialog_is_refused(client: httpx.AsyncClient) -> None:
    response = await run_session(client, session(None, domain()))
    assert_outcome(response, 422, "required", f"{SESSION}'response')")
    await nothing_stored(client)


async def test_a_session_may_use_a_dialog_recorded_on_its_own(client: httpx.AsyncClient) -> None:
    recorded = await record(client)
    response = await run_session(client, session(f"QuestionnaireResponse/{recorded['id']}", domain()), status=201)
    plan = response.json()
    assert {"reference": f"QuestionnaireResponse/{recorded['id']}"} in plan["supportingInfo"]
    assert await count(client, "QuestionnaireResponse") == 1


async def test_a_reference_to_an_unknown_dialog_is_refused(client: httpx.AsyncClient) -> None:
    response = await run_session(client, session("QuestionnaireResponse/nope", domain()))
    assert_outcome(response, 422, None, f"{SESSION}'response')")
    response = await run_session(client, session("Observation/nope", domain()))
    assert_outcome(response, 422, None, f"{SESSION}'response')")


async def test_an_invalid_dialog_in_a_session_stores_nothing(client: httpx.AsyncClient) -> None:
    body = dialog()
    body["item"][0]["item"].pop(0)
    assert_outcome(await run_session(client, session(body, domain())), 422, "required", "linkId='mental-health'")
    await nothing_stored(client)


# ---------------------------------------------------------------- FR-36


async def test_a_session_with_two_actions_makes_a_plan_with_two_activities_and_the_dialog(
    client: httpx.AsyncClient,
) -> None:
    response = await run_session(
        client,
        session(
            dialog(), domain("accommodation", action()), domain("leisure", action("Try the walking group", "clinician"))
        ),
        status=201,
    )
    plan = response.json()
    assert response.headers["location"].endswith(f"/fhir/CarePlan/{plan['id']}/_history/1")
    assert response.headers["etag"] == 'W/"1"'
    assert plan["status"] == "draft"
    assert [c["coding"][0]["code"] for c in plan["category"]] == [
        "734163000",
        "2181441000000107",
        "dialog-plus-personalised-plan",
    ]
    assert plan["subject"] == {"reference": PATIENT}
    assert plan["author"] == {"reference": CLINICIAN}
    assert len(plan["activity"]) == 2
    kinds = {ref["reference"].split("/")[0] for ref in plan["supportingInfo"]}
    assert kinds == {"QuestionnaireResponse", "Observation"}
    assert len(plan["supportingInfo"]) == 3
    performers = [a["detail"]["performer"][0]["reference"] for a in plan["activity"]]
    assert performers == [PATIENT, CLINICIAN]


async def test_goals_are_linked_to_the_domains_they_address(client: httpx.AsyncClient) -> None:
    plan = await first_session(client, domain("accommodation"), domain("friendships"))
    goals = (await client.get("/fhir/Goal", params={"subject": PATIENT})).json()["entry"]
    by_id = {f"Goal/{e['resource']['id']}": e["resource"] for e in goals}
    assert sorted(by_id) == sorted(g["reference"] for g in plan["goal"])
    for activity in plan["activity"]:
        goal = by_id[activity["detail"]["goal"][0]["reference"]]
        domain_code = activity["detail"]["reasonCode"][0]["coding"][1]["code"]
        assert goal["category"][0]["coding"][1]["code"] == domain_code
    by_domain = await client.get("/fhir/Goal", params={"category": "friendships"})
    assert by_domain.json()["total"] == 1


async def test_the_four_steps_are_recorded_for_each_domain(client: httpx.AsyncClient) -> None:
    plan = await first_session(client, domain("accommodation"))
    record_ = next(e for e in plan["extension"] if e["url"].endswith("/dialog-plus-session"))
    discussed = next(e for e in record_["extension"] if e["url"] == "domain")
    assert [e["url"] for e in discussed["extension"]] == [
        "item",
        "understanding",
        "looking-forward",
        "exploring-options",
    ]


async def test_up_to_three_domains_are_discussed(client: httpx.AsyncClient) -> None:
    items = ("accommodation", "leisure", "friendships", "medication")
    response = await run_session(client, session(dialog(), *(domain(i) for i in items)))
    assert_outcome(response, 422, "business-rule", f"{SESSION}'domain')[3]")
    await nothing_stored(client)


async def test_each_step_and_each_action_part_is_required_and_named(client: httpx.AsyncClient) -> None:
    chosen = domain("leisure")
    chosen["part"] = [p for p in chosen["part"] if p["name"] != "exploringOptions"]
    response = await run_session(client, session(dialog(), chosen))
    assert_outcome(response, 422, "required", f"{SESSION}'domain')[0].part.where(name='exploringOptions')")
    broken = action()
    broken["part"] = [p for p in broken["part"] if p["name"] != "by"]
    response = await run_session(client, session(dialog(), domain("leisure", broken)))
    assert_outcome(
        response, 422, "required", f"{SESSION}'domain')[0].part.where(name='action')[0].part.where(name='by')"
    )
    response = await run_session(client, session(dialog(), domain("leisure", action(who="neighbour"))))
    assert_outcome(response, 422, "code-invalid", "part.where(name='who')")
    response = await run_session(client, session(dialog(), domain("gardening")))
    assert_outcome(response, 422, "code-invalid", "part.where(name='item')")
    await nothing_stored(client)


async def test_an_action_for_someone_else_names_them(client: httpx.AsyncClient) -> None:
    response = await run_session(client, session(dialog(), domain("friendships", action(who="other"))))
    assert_outcome(response, 422, "required", f"{SESSION}'domain')[0].part.where(name='action')[0]")
    plan = await first_session(
        client, domain("friendships", action("Sister drives me to the group", "other", performer=CARER))
    )
    assert plan["activity"][0]["detail"]["performer"] == [{"reference": CARER}]


async def test_the_session_names_a_known_clinician_and_an_episode(client: httpx.AsyncClient) -> None:
    response = await run_session(client, session(dialog(), domain(), clinician="PractitionerRole/nobody"))
    assert_outcome(response, 422, None, f"{SESSION}'clinician')")
    response = await run_session(client, session(dialog(), domain(), episode="Encounter/e-1"))
    assert_outcome(response, 422, None, f"{SESSION}'episode')")


# ---------------------------------------------------------------- revising the living plan


async def test_a_second_session_revises_the_same_plan_and_needs_if_match(client: httpx.AsyncClient) -> None:
    plan = await first_session(client)
    action_id = plan["activity"][0]["id"]
    body = session(dialog(), review(action_id), domain("leisure"))
    assert_outcome(await run_session(client, body), 412, "conflict", "If-Match")
    assert_outcome(await run_session(client, body, version="9"), 412, "conflict", "If-Match")
    revised = (await run_session(client, body, version="1", status=200)).json()
    assert revised["id"] == plan["id"]
    assert revised["meta"]["versionId"] == "2"
    assert await count(client, "CarePlan") == 1
    history = (await client.get(f"/fhir/CarePlan/{plan['id']}/_history")).json()
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["2", "1"]
    assert len(revised["supportingInfo"]) == 6


async def test_if_match_without_a_plan_to_revise_is_refused(client: httpx.AsyncClient) -> None:
    assert_outcome(await run_session(client, session(dialog(), domain()), version="1"), 412, None, "If-Match")
    await nothing_stored(client)


async def test_every_open_action_is_reviewed_before_new_actions(client: httpx.AsyncClient) -> None:
    plan = await first_session(client, domain("accommodation", action("Write to the council"), action("Ask the GP")))
    first, second = (a["id"] for a in plan["activity"])
    response = await run_session(client, session(dialog(), review(first), domain("leisure")), version="1")
    body = assert_outcome(response, 422, "business-rule", f"CarePlan.activity.where(id='{second}')")
    assert "Ask the GP" in body["issue"][0]["diagnostics"]
    assert (await client.get(f"/fhir/CarePlan/{plan['id']}")).json()["meta"]["versionId"] == "1"
    assert await count(client, "QuestionnaireResponse") == 1


async def test_reviews_close_done_and_dropped_actions_and_carry_the_rest(client: httpx.AsyncClient) -> None:
    plan = await first_session(client, domain("accommodation", *(action(f"step {n}") for n in range(4))))
    ids = [a["id"] for a in plan["activity"]]
    outcomes = ("done", "partly", "not-done", "dropped")
    reviews = [review(i, o, f"{o} note") for i, o in zip(ids, outcomes, strict=True)]
    revised = (
        await run_session(client, session(dialog(), *reviews, domain("leisure")), version="1", status=200)
    ).json()
    statuses = [a["detail"]["status"] for a in revised["activity"]]
    assert statuses == ["completed", "in-progress", "not-started", "cancelled", "not-started"]
    assert revised["activity"][1]["progress"][0]["text"] == "partly note"
    carried = [ids[1], ids[2]]
    response = await run_session(client, session(dialog(), review(carried[0]), domain("mental-health")), version="2")
    assert_outcome(response, 422, "business-rule", f"CarePlan.activity.where(id='{carried[1]}')")


async def test_a_review_of_an_unknown_or_closed_action_is_refused(client: httpx.AsyncClient) -> None:
    plan = await first_session(client)
    action_id = plan["activity"][0]["id"]
    response = await run_session(client, session(dialog(), review("action-nope")), version="1")
    assert_outcome(response, 422, "business-rule", f"{SESSION}'review')[0]")
    await run_session(client, session(dialog(), review(action_id)), version="1", status=200)
    response = await run_session(client, session(dialog(), review(action_id)), version="2")
    assert_outcome(response, 422, "business-rule", f"{SESSION}'review')[0]")


async def test_the_same_domain_keeps_its_goal(client: httpx.AsyncClient) -> None:
    plan = await first_session(client, domain("accommodation"))
    action_id = plan["activity"][0]["id"]
    revised = (
        await run_session(
            client, session(dialog(), review(action_id), domain("accommodation")), version="1", status=200
        )
    ).json()
    assert revised["goal"] == plan["goal"]
    assert await count(client, "Goal") == 1


async def test_each_episode_has_its_own_living_plan(client: httpx.AsyncClient) -> None:
    await first_session(client)
    other = await run_session(client, session(dialog(), domain(), episode="EpisodeOfCare/e-2"), status=201)
    assert other.json()["extension"][0]["valueReference"] == {"reference": "EpisodeOfCare/e-2"}
    by_episode = (await client.get("/fhir/CarePlan", params={"episode": EPISODE})).json()
    assert by_episode["total"] == 1


async def test_concurrent_first_sessions_make_one_plan(client: httpx.AsyncClient) -> None:
    """One creates the plan; the others find it (412: revise it with If-Match) or collide with it (409)."""
    responses = await asyncio.gather(*(run_session(client, session(dialog(), domain())) for _ in range(5)))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 1
    assert set(codes) <= {201, 409, 412}
    for r in responses:
        if r.status_code != 201:
            assert_outcome(r, r.status_code, "conflict")
    assert await count(client, "CarePlan") == 1
    assert await count(client, "QuestionnaireResponse") == 1


async def test_revising_an_active_plan_needs_the_persons_agreement(client: httpx.AsyncClient) -> None:
    plan = await active_plan(client)
    action_id = plan["activity"][0]["id"]
    body = session(dialog(), review(action_id), domain("leisure"))
    version = plan["meta"]["versionId"]
    assert_outcome(await run_session(client, body, version=version), 422, "required", f"{SESSION}'agreement')")
    body["parameter"].append(agreement("2026-02-01T10:00:00Z"))
    revised = (await run_session(client, body, version=version, status=200)).json()
    assert revised["status"] == "active"
    assert len(revised["activity"]) == 2


async def test_a_session_may_record_the_plans_content(client: httpx.AsyncClient) -> None:
    extra: list[dict[str, Any]] = [
        value("periodStart", "Date", "2026-01-05"),
        value("periodEnd", "Date", "2026-07-05"),
        value("complexNeeds", "Boolean", True),
        {
            "name": "careTeamMember",
            "part": [
                value("role", "Code", "case-manager"),
                reference("member", "PractitionerRole/barnet-core-north-lead"),
            ],
        },
    ]
    plan = await first_session(client, domain(), *extra)
    assert plan["period"] == {"start": "2026-01-05", "end": "2026-07-05"}
    team = plan["contained"][0]
    assert plan["careTeam"] == [{"reference": "#care-team"}]
    assert team["participant"][0]["role"][0]["coding"][0]["code"] == "case-manager"


async def test_a_plan_is_not_created_by_post(client: httpx.AsyncClient) -> None:
    plan = await first_session(client)
    fresh = {k: v for k, v in plan.items() if k not in ("id", "meta")}
    fresh["extension"] = [
        e for e in fresh["extension"] if not e["url"].endswith(("/careplan-episode", "/dialog-plus-session"))
    ]
    response = await client.post("/fhir/CarePlan", json=fresh, headers={"Content-Type": "application/fhir+json"})
    assert_outcome(response, 422, None, "CarePlan.category")


async def test_a_session_body_must_be_parameters(client: httpx.AsyncClient) -> None:
    response = await run_session(client, dialog())
    assert_outcome(response, 400, None, "resourceType")
    response = await run_session(client, parameters(value("episode", "String", "e-1")))
    assert_outcome(response, 400, None, f"{SESSION}'episode')")
