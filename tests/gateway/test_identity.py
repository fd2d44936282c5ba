"""Identity and the directory at the gateway: NHS numbers, the master patient index (FR-68), the seeded
directory (FR-77) and service lookup by borough and type (FR-76)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from gateway.identity import LOCAL_MRN, NHS_NUMBER
from gateway.tables import EXT_BOROUGH, EXT_SELF_REFERRAL
from reference.partnership import Borough
from services.kit.testing import assert_outcome
from tests.gateway.conftest import GATEWAY_BASE
from tests.referrals.builders import FHIR

pytestmark = pytest.mark.usefixtures("engine")

VALID_NHS = "9000000009"
INVALID_NHS = "9000000008"  # fails the Modulus 11 check


def nhs(value: str) -> dict[str, str]:
    return {"system": NHS_NUMBER, "value": value}


def mrn(epr: str, value: str) -> dict[str, str]:
    return {"system": LOCAL_MRN[epr], "value": value}


def new_patient(*identifiers: dict[str, str], family: str = "Okonkwo", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": list(identifiers),
        "name": [{"family": family, "given": ["Ada"]}],
        "birthDate": "1990-04-01",
        "gender": "female",
        **extra,
    }


async def register(client: httpx.AsyncClient, patient: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/fhir/Patient", json=patient, headers=FHIR)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def find(client: httpx.AsyncClient, identifier: dict[str, str]) -> list[str]:
    """The ids of the patients an identifier search returns."""
    response = await client.get("/fhir/Patient", params={"identifier": f"{identifier['system']}|{identifier['value']}"})
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["total"] == len(bundle["entry"])
    return [e["resource"]["id"] for e in bundle["entry"]]


# ------------------------------------------------------------------ NHS numbers


async def test_registering_a_patient_with_a_valid_nhs_number_is_201(client: httpx.AsyncClient) -> None:
    response = await client.post("/fhir/Patient", json=new_patient(nhs(VALID_NHS)), headers=FHIR)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    created = response.json()
    assert response.headers["location"] == f"{GATEWAY_BASE}/Patient/{created['id']}/_history/1"
    assert response.headers["etag"] == 'W/"1"'
    assert created["identifier"] == [nhs(VALID_NHS)]
    read = await client.get(f"/fhir/Patient/{created['id']}")
    assert read.status_code == 200
    assert read.json() == created


@pytest.mark.parametrize("position", [0, 1])
async def test_an_invalid_nhs_number_is_422_naming_the_identifier(client: httpx.AsyncClient, position: int) -> None:
    identifiers = [mrn("beh", "BEH-1"), nhs(INVALID_NHS)] if position == 1 else [nhs(INVALID_NHS)]
    response = await client.post("/fhir/Patient", json=new_patient(*identifiers), headers=FHIR)
    body = assert_outcome(response, 422, "value", f"Patient.identifier[{position}].value")
    assert INVALID_NHS in body["issue"][0]["diagnostics"]
    assert await find(client, nhs(INVALID_NHS)) == []
    assert await find(client, mrn("beh", "BEH-1")) == []


async def test_a_second_patient_with_the_same_nhs_number_is_a_409_duplicate(client: httpx.AsyncClient) -> None:
    first = await register(client, new_patient(nhs(VALID_NHS)))
    response = await client.post("/fhir/Patient", json=new_patient(nhs(VALID_NHS), family="Other"), headers=FHIR)
    body = assert_outcome(response, 409, "duplicate", "Patient.identifier")
    assert first["id"] in body["issue"][0]["diagnostics"]
    assert await find(client, nhs(VALID_NHS)) == [first["id"]]
    everyone = (await client.get("/fhir/Patient")).json()
    assert everyone["total"] == 1


async def test_two_concurrent_registrations_of_one_nhs_number_make_one_patient(client: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(
        *(
            client.post("/fhir/Patient", json=new_patient(nhs(VALID_NHS), family=f"F{i}"), headers=FHIR)
            for i in range(2)
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    created = next(r for r in responses if r.status_code == 201).json()
    assert_outcome(next(r for r in responses if r.status_code == 409), 409, None, "Patient.identifier")
    assert await find(client, nhs(VALID_NHS)) == [created["id"]]
    assert (await client.get("/fhir/Patient")).json()["total"] == 1


async def test_a_local_number_already_held_by_another_patient_is_a_409(client: httpx.AsyncClient) -> None:
    first = await register(client, new_patient(mrn("beh", "BEH-77")))
    response = await client.post("/fhir/Patient", json=new_patient(mrn("beh", "BEH-77")), headers=FHIR)
    assert_outcome(response, 409, "duplicate", "Patient.identifier")
    assert await find(client, mrn("beh", "BEH-77")) == [first["id"]]
    assert (await client.get("/fhir/Patient")).json()["total"] == 1


# ------------------------------------------------------------------ the master patient index (FR-68)


async def test_the_nhs_number_and_both_local_numbers_find_the_same_patient(client: httpx.AsyncClient) -> None:
    identifiers = (nhs(VALID_NHS), mrn("beh", "RIO-BEH-001"), mrn("ci", "RIO-CI-901"))
    patient = await register(client, new_patient(*identifiers))
    await register(client, new_patient(mrn("beh", "RIO-BEH-002"), family="Someone-else"))
    for identifier in identifiers:
        assert await find(client, identifier) == [patient["id"]], identifier


async def test_a_local_number_is_only_matched_in_its_own_epr(client: httpx.AsyncClient) -> None:
    await register(client, new_patient(mrn("beh", "12345")))
    assert await find(client, mrn("ci", "12345")) == []


async def test_updating_a_patient_reindexes_its_identifiers(client: httpx.AsyncClient) -> None:
    patient = await register(client, new_patient(nhs(VALID_NHS), mrn("beh", "OLD-1")))
    changed = {**patient, "identifier": [nhs(VALID_NHS), mrn("beh", "NEW-1"), mrn("ci", "CI-5")]}
    response = await client.put(f"/fhir/Patient/{patient['id']}", json=changed, headers={**FHIR, "If-Match": 'W/"1"'})
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == 'W/"2"'
    assert await find(client, mrn("beh", "OLD-1")) == []
    for identifier in (nhs(VALID_NHS), mrn("beh", "NEW-1"), mrn("ci", "CI-5")):
        assert await find(client, identifier) == [patient["id"]], identifier
    # the old local number is free again
    other = await register(client, new_patient(mrn("beh", "OLD-1"), family="Later"))
    assert await find(client, mrn("beh", "OLD-1")) == [other["id"]]


async def test_an_update_with_a_stale_if_match_is_412_and_changes_nothing(client: httpx.AsyncClient) -> None:
    patient = await register(client, new_patient(mrn("beh", "B-1")))
    changed = {**patient, "identifier": [mrn("beh", "B-2")]}
    response = await client.put(f"/fhir/Patient/{patient['id']}", json=changed, headers={**FHIR, "If-Match": 'W/"9"'})
    assert_outcome(response, 412, "conflict", "If-Match")
    assert await find(client, mrn("beh", "B-1")) == [patient["id"]]


async def test_an_update_cannot_take_another_patients_nhs_number(client: httpx.AsyncClient) -> None:
    holder = await register(client, new_patient(nhs(VALID_NHS)))
    other = await register(client, new_patient(mrn("ci", "CI-1"), family="Other"))
    changed = {**other, "identifier": [mrn("ci", "CI-1"), nhs(VALID_NHS)]}
    response = await client.put(f"/fhir/Patient/{other['id']}", json=changed, headers=FHIR)
    assert_outcome(response, 409, "duplicate", "Patient.identifier")
    assert await find(client, nhs(VALID_NHS)) == [holder["id"]]
    assert await find(client, mrn("ci", "CI-1")) == [other["id"]]
    assert (await client.get(f"/fhir/Patient/{other['id']}")).headers["etag"] == 'W/"1"'


async def test_an_update_with_an_invalid_nhs_number_is_422(client: httpx.AsyncClient) -> None:
    patient = await register(client, new_patient(mrn("beh", "B-9")))
    changed = {**patient, "identifier": [mrn("beh", "B-9"), nhs(INVALID_NHS)]}
    response = await client.put(f"/fhir/Patient/{patient['id']}", json=changed, headers=FHIR)
    assert_outcome(response, 422, None, "Patient.identifier[1].value")
    assert await find(client, mrn("beh", "B-9")) == [patient["id"]]


# ------------------------------------------------------------------ the directory (FR-76, FR-77)


async def test_after_migration_there_are_the_five_ncl_boroughs(client: httpx.AsyncClient) -> None:
    response = await client.get("/fhir/Location", params={"_count": "100"})
    assert response.status_code == 200, response.text
    bundle = response.json()
    ids = {e["resource"]["id"] for e in bundle["entry"]}
    assert {f"borough-{b.value}" for b in Borough} <= ids
    boroughs = [e["resource"] for e in bundle["entry"] if e["resource"]["id"].startswith("borough-")]
    assert len(boroughs) == 5
    assert all(b["mode"] == "kind" for b in boroughs)


@pytest.mark.parametrize("borough", [b.value for b in Borough])
@pytest.mark.parametrize("service_type", ["core-cmht", "transitions", "crisis-cafe"])
async def test_every_ncl_borough_has_a_core_cmht_a_transitions_team_and_a_crisis_cafe(
    client: httpx.AsyncClient, borough: str, service_type: str
) -> None:
    response = await client.get("/fhir/HealthcareService", params={"borough": borough, "service-type": service_type})
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["total"] >= 1
    for entry in bundle["entry"]:
        service = entry["resource"]
        assert {"url": EXT_BOROUGH, "valueCode": borough} in service["extension"]
        assert service["type"][0]["coding"][0]["code"] == service_type
        assert service["coverageArea"] == [{"reference": f"Location/borough-{borough}"}]


async def test_the_camden_crisis_cafe_is_found_by_borough_and_type_and_accepts_self_referral(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/fhir/HealthcareService", params={"borough": "camden", "service-type": "crisis-cafe"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    assert bundle["total"] == 1
    cafe = bundle["entry"][0]["resource"]
    assert cafe["id"] == "camden-crisis-cafe"
    assert bundle["entry"][0]["fullUrl"] == f"{GATEWAY_BASE}/HealthcareService/camden-crisis-cafe"
    assert {"url": EXT_SELF_REFERRAL, "valueBoolean": True} in cafe["extension"]
    core = await client.get("/fhir/HealthcareService", params={"borough": "camden", "service-type": "core-cmht"})
    for entry in core.json()["entry"]:
        assert {"url": EXT_SELF_REFERRAL, "valueBoolean": False} in entry["resource"]["extension"]
