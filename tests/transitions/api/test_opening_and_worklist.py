"""Opening a case (FR-52) and the phase-1 worklist (FR-53, FR-60), with the gateway faked."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from services.kit.clock import FixedClock
from services.kit.testing import assert_outcome
from tests.transitions.builders import (
    DISCUSSION,
    FHIR,
    PATIENT,
    WORKER,
    open_case,
    outputs,
    params,
    phase_of,
    read,
    step,
)
from tests.transitions.fakes import FakeGateway


async def nothing_stored(client: httpx.AsyncClient) -> None:
    assert (await client.get("/fhir/Task")).json()["total"] == 0


def rows(worklist: dict[str, object]) -> list[dict[str, object]]:
    """The worklist's rows as {name: value}."""
    found = []
    for parameter in worklist["parameter"]:  # type: ignore[attr-defined]
        if parameter["name"] == "row":
            found.append({p["name"]: next(v for k, v in p.items() if k.startswith("value")) for p in parameter["part"]})
    return found


async def worklist(client: httpx.AsyncClient, **query: str) -> list[dict[str, object]]:
    response = await client.get("/fhir/Task/$transition-worklist", params=query)
    assert response.status_code == 200, response.text
    return rows(response.json())


# ---------------------------------------------------------------- FR-52


async def test_a_case_opens_at_phase_1_with_its_17_and_a_half_deadline(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    gateway.young_person(birth_date="2008-10-01")
    response = await client.post(
        "/fhir/Task/$open-transition", json=params(patient=PATIENT, referringWorker=WORKER), headers=FHIR
    )
    assert response.status_code == 201, response.text
    case = response.json()
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["location"].endswith(f"/fhir/Task/{case['id']}/_history/1")
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert phase_of(case) == "pre-transition-discussion"
    assert case["status"] == "in-progress"
    assert case["code"]["coding"][0]["code"] == "transition-case"
    assert case["requester"]["reference"] == WORKER
    assert case["owner"]["reference"] == "HealthcareService/barnet-cypmhs"
    assert {"url": "https://continuum.example.org/fhir/StructureDefinition/transition-phase1-deadline",
            "valueDate": "2026-04-01"} in case["extension"]  # fmt: skip
    phases = (await client.get("/fhir/Task", params={"part-of": f"Task/{case['id']}"})).json()
    assert [e["resource"]["businessStatus"]["coding"][0]["code"] for e in phases["entry"]] == [
        "pre-transition-discussion"
    ]
    assert phases["entry"][0]["resource"]["restriction"]["period"]["end"] == "2026-04-01"


async def test_a_person_with_no_cypmhs_episode_cannot_have_a_case(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    """FR-52: creating a case for a person with no CYPMHS episode returns 422."""
    patient = gateway.add_patient("yp-1", "2008-10-01")
    gateway.add_episode(patient, "barnet-core-north")
    gateway.add_episode(patient, "barnet-cypmhs", status="finished")
    response = await client.post(
        "/fhir/Task/$open-transition", json=params(patient=PATIENT, referringWorker=WORKER), headers=FHIR
    )
    assert_outcome(response, 422, "business-rule", "Parameters.parameter.where(name='patient')")
    await nothing_stored(client)


async def test_unknown_people_and_people_without_a_birth_date_are_refused(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    body = params(patient=PATIENT, referringWorker=WORKER)
    response = await client.post("/fhir/Task/$open-transition", json=body, headers=FHIR)
    assert_outcome(response, 422, None, "Parameters.parameter.where(name='patient')")
    gateway.add_episode(gateway.add_patient("yp-1", None))
    response = await client.post("/fhir/Task/$open-transition", json=body, headers=FHIR)
    assert_outcome(response, 422, None, "Parameters.parameter.where(name='patient')")
    assert "birth date" in response.json()["issue"][0]["diagnostics"]
    await nothing_stored(client)


async def test_the_referring_worker_is_the_cypmhs_teams(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    gateway.young_person()
    for worker in (
        "PractitionerRole/barnet-core-north-worker",
        "PractitionerRole/barnet-gp-gp",
        "PractitionerRole/nobody",
    ):
        response = await client.post(
            "/fhir/Task/$open-transition", json=params(patient=PATIENT, referringWorker=worker), headers=FHIR
        )
        assert_outcome(response, 422, None, "Parameters.parameter.where(name='referringWorker')")
    await nothing_stored(client)


async def test_a_person_has_one_open_case(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    gateway.young_person()
    first = await open_case(client)
    response = await client.post(
        "/fhir/Task/$open-transition", json=params(patient=PATIENT, referringWorker=WORKER), headers=FHIR
    )
    body = assert_outcome(response, 409, "duplicate", "Parameters.parameter.where(name='patient')")
    assert first["id"] in body["issue"][0]["diagnostics"]
    assert (await client.get("/fhir/Task", params={"code": "transition-case"})).json()["total"] == 1


async def test_an_external_cyp_provider_can_send_a_transition(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    """Q-TR-25: Camden's CYPMHS is Whittington Health's; its referrals are not internal-team referrals."""
    gateway.young_person(team="camden-cypmhs")
    case = await open_case(client, worker="PractitionerRole/camden-cypmhs-worker")
    case = await step(client, case, "record-discussion", DISCUSSION)
    case = await step(
        client,
        case,
        "decide-support",
        params(supportNeeded=True, agreedBy=[PATIENT, "PractitionerRole/camden-cypmhs-worker"]),
    )
    (referral,) = gateway.referrals.values()
    assert referral["performer"][0]["reference"] == "HealthcareService/camden-transitions"
    assert referral["category"][0]["coding"][0]["code"] == "other-health-professional"


async def test_a_high_risk_flag_on_the_patient_record_carries_over(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    gateway.young_person(high_risk=True)
    case = await open_case(client)
    found = (await client.get("/fhir/Task", params={"high-risk": "true", "code": "transition-case"})).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [case["id"]]


async def test_the_gateway_being_down_is_a_502_and_stores_nothing(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    gateway.young_person()
    gateway.down = True
    response = await client.post(
        "/fhir/Task/$open-transition", json=params(patient=PATIENT, referringWorker=WORKER), headers=FHIR
    )
    assert_outcome(response, 502, "transient", "Parameters.parameter.where(name='patient')")
    await nothing_stored(client)


# ---------------------------------------------------------------- FR-53, FR-60


async def test_the_worklist_starts_at_the_lead_in_age(
    client: httpx.AsyncClient, gateway: FakeGateway, clock: FixedClock
) -> None:
    """P-6: at or past 17y0m; the day before the 17th birthday they are not on it yet."""
    gateway.young_person("yp-1", "2008-09-02")
    clock.moment = datetime(2025, 9, 1, 9, 0, tzinfo=UTC)
    assert await worklist(client) == []
    clock.moment = datetime(2025, 9, 2, 9, 0, tzinfo=UTC)
    (row,) = await worklist(client)
    assert row["patient"] == {"reference": PATIENT}
    assert row["age"] == "17y 0m"
    assert row["phase1Deadline"] == "2026-03-02"


async def test_the_worklist_gives_the_17_and_a_half_deadline(
    client: httpx.AsyncClient, gateway: FakeGateway, clock: FixedClock
) -> None:
    """FR-53: DOB 2008-03-15 gives deadline 2025-09-15 (calendar months)."""
    gateway.young_person("yp-1", "2008-03-15")
    gateway.young_person("yp-2", "2008-02-29", team="enfield-cypmhs")
    clock.moment = datetime(2025, 9, 1, 9, 0, tzinfo=UTC)
    found = {r["patient"]["reference"]: r for r in await worklist(client)}  # type: ignore[index]
    assert found["Patient/yp-1"]["phase1Deadline"] == "2025-09-15"
    assert found["Patient/yp-1"]["daysToDeadline"] == 14
    assert found["Patient/yp-1"]["pastDeadline"] is False
    assert found["Patient/yp-2"]["phase1Deadline"] == "2025-08-29"
    assert found["Patient/yp-2"]["pastDeadline"] is True


async def test_high_risk_young_people_come_first(
    client: httpx.AsyncClient, gateway: FakeGateway, clock: FixedClock
) -> None:
    """FR-60: the worklist ordering puts high-risk first, then the nearest deadline."""
    clock.moment = datetime(2025, 9, 1, 9, 0, tzinfo=UTC)
    gateway.young_person("early", "2008-01-01")
    gateway.young_person("risky", "2008-08-01", high_risk=True)
    gateway.young_person("later", "2008-05-01")
    gateway.young_person("flagged-on-case", "2008-07-01")
    await open_case(client, patient="Patient/flagged-on-case")
    found = await worklist(client)
    assert [r["patient"] for r in found] == [
        {"reference": "Patient/risky"},
        {"reference": "Patient/early"},
        {"reference": "Patient/later"},
        {"reference": "Patient/flagged-on-case"},
    ]
    case = (await client.get("/fhir/Task", params={"code": "transition-case"})).json()["entry"][0]["resource"]
    await step(client, case, "flag-high-risk", params(highRiskReason="multi-agency-involvement"))
    found = await worklist(client)
    # Both high risk now: the nearer deadline (2026-01-01 before 2026-02-01) comes first.
    assert [r["patient"] for r in found][:2] == [
        {"reference": "Patient/flagged-on-case"},
        {"reference": "Patient/risky"},
    ]
    assert found[0]["highRisk"] is True


async def test_a_recorded_discussion_takes_the_young_person_off_the_worklist(
    client: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    gateway.young_person()
    case = await open_case(client)
    (row,) = await worklist(client)
    assert row["case"] == {"reference": f"Task/{case['id']}"}
    case = await step(client, case, "record-discussion", DISCUSSION)
    assert await worklist(client) == []
    assert outputs(case, "late-initiation") == [False]


async def test_the_worklist_reads_every_page_of_the_caseload(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    gateway.page_size = 2
    for n in range(5):
        gateway.young_person(f"yp-{n}", "2008-06-01")
    found = await worklist(client)
    assert len(found) == 5
    page = (await client.get("/fhir/Task/$transition-worklist", params={"_count": "2", "_offset": "4"})).json()
    assert page["parameter"][0] == {"name": "total", "valueInteger": 5}
    assert len(rows(page)) == 1


async def test_the_worklist_can_be_cut_by_borough_and_team(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    gateway.young_person("b", team="barnet-cypmhs")
    gateway.young_person("e", team="enfield-cypmhs")
    assert [r["patient"] for r in await worklist(client, borough="enfield")] == [{"reference": "Patient/e"}]
    found = await worklist(client, service="HealthcareService/barnet-cypmhs")
    assert [r["patient"] for r in found] == [{"reference": "Patient/b"}]


async def test_the_worklist_refuses_what_it_does_not_understand(client: httpx.AsyncClient) -> None:
    response = await client.get("/fhir/Task/$transition-worklist", params={"colour": "blue"})
    assert_outcome(response, 400, "invalid", "colour")
    response = await client.get("/fhir/Task/$transition-worklist", params={"borough": "atlantis"})
    assert_outcome(response, 422, "code-invalid", "borough")
    response = await client.get("/fhir/Task/$transition-worklist", params={"service": "barnet-core-north"})
    assert_outcome(response, 422, None, "service")
    response = await client.get("/fhir/Task/$transition-worklist", params={"_count": "lots"})
    assert_outcome(response, 400, "invalid", "_count")


async def test_a_case_is_read_back_as_stored(client: httpx.AsyncClient, gateway: FakeGateway) -> None:
    gateway.young_person()
    case = await open_case(client)
    assert await read(client, f"Task/{case['id']}") == case
