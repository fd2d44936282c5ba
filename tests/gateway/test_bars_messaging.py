"""BaRS messaging: simulated external senders refer people with `POST /fhir/$process-message` (FR-75).

The gateway registers or links the person in the master patient index, creates the referral at
the referrals service with the source its sender stands for, and answers synchronously: a
response message naming the request, or an OperationOutcome carrying the BaRS error code.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.epr.bars import HTTP_ERROR_CODES, MESSAGE_IDENTIFIER
from gateway.epr.senders import CS_SOURCE, KINDS, default_performer, referral_message, sender_of
from gateway.identity import LOCAL_MRN, NHS_NUMBER
from services.kit.clock import FixedClock
from services.kit.resources import validate
from services.kit.testing import assert_outcome
from tests.gateway.conftest import Network
from tests.referrals.builders import FHIR

pytestmark = pytest.mark.usefixtures("engine")

NHS = "9476719931"
FHIR_JSON = "application/fhir+json"


def person(nhs: str = NHS, **extra: Any) -> dict[str, Any]:
    """A Patient as an external sender knows them (no local EPR number)."""
    return {
        "resourceType": "Patient",
        "identifier": [{"system": NHS_NUMBER, "value": nhs}],
        "name": [{"family": "Chalmers", "given": ["Peter"]}],
        "gender": "male",
        "birthDate": "1974-12-25",
        **extra,
    }


def message(
    clock: FixedClock,
    kind: str = "emergency-department",
    bundle_id: str = "3b2e4b1c-0d6f-4a53-9b6a-1f1f5a4b7c01",
    patient: dict[str, Any] | None = None,
    performer: str | None = None,
) -> dict[str, Any]:
    """A referral message from a simulated sender (an ED to hospital liaison by default)."""
    return referral_message(
        sender_of(kind, "camden"),
        patient or person(),
        performer or default_performer(kind, "camden"),
        "Attended after an overdose; medically fit; low mood and hopelessness",
        now=clock.now(),
        bundle_id=bundle_id,
        priority="stat" if kind == "emergency-department" else None,
    )


async def send(client: httpx.AsyncClient, body: Any, **headers: str) -> httpx.Response:
    return await client.post("/fhir/$process-message", json=body, headers={**FHIR, **headers})


def bars_outcome(
    response: httpx.Response, status: int, code: str | None, error: str, expression: str | None = None
) -> None:
    """A BaRS error: the status, the FHIR issue type, the http-error-code and the element named."""
    body = assert_outcome(response, status, code, expression)
    details = body["issue"][0]["details"]["coding"][0]
    assert details == {"system": HTTP_ERROR_CODES, "code": error}, body
    assert body["meta"]["profile"] == ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-OperationOutcome"]


async def referrals_at(referrals_client: httpx.AsyncClient, **query: str) -> list[dict[str, Any]]:
    response = await referrals_client.get("/fhir/ServiceRequest", params=query)
    assert response.status_code == 200, response.text
    return [e["resource"] for e in response.json().get("entry", [])]


async def patients(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/fhir/Patient", params={"identifier": f"{NHS_NUMBER}|{NHS}"})
    return [e["resource"] for e in response.json().get("entry", [])]


# ---------------------------------------------------------------- referrals that arrive


async def test_an_emergency_department_referral_reaches_liaison_with_its_source(
    client: httpx.AsyncClient, referrals_client: httpx.AsyncClient, clock: FixedClock
) -> None:
    """FR-75: a simulated ED sends a liaison referral; the referrals service has it with source ED."""
    sent = message(clock)
    response = await send(client, sent)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    answer = response.json()
    validate(answer, "Bundle")  # well-formed R4
    assert answer["type"] == "message"
    header = answer["entry"][0]["resource"]
    assert header["resourceType"] == "MessageHeader"
    assert header["response"] == {"identifier": sent["id"], "code": "ok"}
    assert header["eventCoding"]["code"] == "servicerequest-request"
    created = answer["entry"][1]["resource"]
    assert header["focus"][0]["reference"] == answer["entry"][1]["fullUrl"]
    assert answer["entry"][1]["fullUrl"] == f"http://gateway.test/fhir/ServiceRequest/{created['id']}"

    [received] = await referrals_at(referrals_client, category="emergency-department")
    assert received["id"] == created["id"]
    assert received["performer"][0]["reference"] == "HealthcareService/ncl-liaison"
    assert received["requester"]["reference"] == "Organization/royal-free"
    assert received["priority"] == "stat"
    assert received["identifier"][0]["system"] == MESSAGE_IDENTIFIER
    [patient] = await patients(client)
    assert received["subject"] == {"reference": f"Patient/{patient['id']}"}
    assert patient["name"][0]["family"] == "Chalmers"
    # the message's own references are not carried into the partnership's records
    assert "urn:uuid:" not in str(received)


@pytest.mark.parametrize("kind", KINDS)
async def test_each_simulated_sender_refers_with_its_own_source(
    kind: str, client: httpx.AsyncClient, referrals_client: httpx.AsyncClient, clock: FixedClock
) -> None:
    response = await send(client, message(clock, kind=kind, bundle_id=f"message-from-{kind}"))
    assert response.status_code == 200, response.text
    [received] = await referrals_at(referrals_client, category=kind)
    assert received["performer"][0]["reference"] == default_performer(kind, "camden")
    assert received["requester"]["reference"] == sender_of(kind, "camden").requester


async def test_the_sender_decides_the_source_not_the_message(
    client: httpx.AsyncClient, referrals_client: httpx.AsyncClient, clock: FixedClock
) -> None:
    sent = message(clock, kind="police")
    sent["entry"][1]["resource"]["category"].append({"coding": [{"system": CS_SOURCE, "code": "self"}]})
    assert (await send(client, sent)).status_code == 200
    [received] = await referrals_at(referrals_client)
    sources = [c["code"] for cat in received["category"] for c in cat["coding"] if c["system"] == CS_SOURCE]
    assert sources == ["police"]


async def test_a_repeated_message_gets_the_first_answer_and_creates_nothing_twice(
    client: httpx.AsyncClient, referrals_client: httpx.AsyncClient, clock: FixedClock
) -> None:
    sent = message(clock)
    first = await send(client, sent)
    again = await send(client, sent)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert len(await referrals_at(referrals_client)) == 1
    assert len(await patients(client)) == 1
    # a new message (new Bundle.id) about the same person is a new referral for the same Patient
    other = await send(client, message(clock, bundle_id="second-message"))
    assert other.status_code == 200
    assert len(await referrals_at(referrals_client)) == 2
    assert len(await patients(client)) == 1


async def test_a_person_the_index_knows_is_linked_not_duplicated(
    client: httpx.AsyncClient, referrals_client: httpx.AsyncClient, clock: FixedClock
) -> None:
    known = person(identifier=[{"system": LOCAL_MRN["ci"], "value": "CI0001"}, {"system": NHS_NUMBER, "value": NHS}])
    registered = await client.post("/epr/ci/Patient", json=known, headers=FHIR)
    assert registered.status_code == 201, registered.text
    response = await send(client, message(clock, kind="gp"))
    assert response.status_code == 200, response.text
    assert response.json()["entry"][1]["resource"]["subject"]["reference"] == f"Patient/{registered.json()['id']}"
    assert len(await patients(client)) == 1


async def test_a_subject_that_is_a_known_patient_reference_is_accepted(
    client: httpx.AsyncClient, referrals_client: httpx.AsyncClient, clock: FixedClock
) -> None:
    registered = await client.post("/fhir/Patient", json=person(), headers=FHIR)
    assert registered.status_code == 201, registered.text
    sent = message(clock, kind="vcse")
    sent["entry"][1]["resource"]["subject"] = {"reference": f"Patient/{registered.json()['id']}"}
    del sent["entry"][2]
    response = await send(client, sent)
    assert response.status_code == 200, response.text
    sent["id"] = "unknown-subject"
    sent["entry"][1]["resource"]["subject"] = {"reference": "Patient/nobody"}
    refused = await send(client, sent)
    bars_outcome(refused, 422, "business-rule", "REC_UNPROCESSABLE_ENTITY", "Bundle.entry[1].resource.subject")


# ---------------------------------------------------------------- messages that are refused


async def test_a_message_without_a_message_header_is_400(client: httpx.AsyncClient, clock: FixedClock) -> None:
    sent = message(clock)
    sent["entry"] = sent["entry"][1:]
    bars_outcome(await send(client, sent), 400, "invalid", "REC_BAD_REQUEST", "Bundle.entry[0].resource")


async def test_a_message_with_another_event_is_422(client: httpx.AsyncClient, clock: FixedClock) -> None:
    sent = message(clock)
    sent["entry"][0]["resource"]["eventCoding"]["code"] = "booking-request"
    response = await send(client, sent)
    bars_outcome(response, 422, "not-supported", "REC_UNPROCESSABLE_ENTITY", "Bundle.entry[0].resource.eventCoding")
    assert "booking-request" in response.json()["issue"][0]["diagnostics"]


async def test_an_invalid_nhs_number_is_422_naming_the_identifier(
    client: httpx.AsyncClient, referrals_client: httpx.AsyncClient, clock: FixedClock
) -> None:
    response = await send(client, message(clock, patient=person(nhs="9476719932")))
    bars_outcome(response, 422, "value", "REC_UNPROCESSABLE_ENTITY", "Bundle.entry[2].resource.identifier[0].value")
    assert "9476719932" in response.json()["issue"][0]["diagnostics"]
    assert await referrals_at(referrals_client) == []
    assert (await client.get("/fhir/Patient")).json()["total"] == 0


@pytest.mark.parametrize(
    ("change", "status", "code", "error", "expression"),
    [
        (lambda m: m.update(resourceType="Parameters"), 400, "invalid", "REC_BAD_REQUEST", "resourceType"),
        (lambda m: m.update(type="collection"), 400, "invalid", "REC_BAD_REQUEST", "Bundle.type"),
        (lambda m: m.pop("id"), 400, "invalid", "REC_BAD_REQUEST", "Bundle.id"),
        (lambda m: m.update(entry=[]), 400, "invalid", "REC_BAD_REQUEST", "Bundle.entry[0].resource"),
        (lambda m: m.update(unknownElement=1), 400, "structure", "REC_BAD_REQUEST", "Bundle.unknownElement"),
        (
            lambda m: m["entry"][0]["resource"]["source"].pop("endpoint"),
            422,
            "required",
            "REC_UNPROCESSABLE_ENTITY",
            "Bundle.entry[0].resource.source.endpoint",
        ),
        (
            lambda m: m["entry"][0]["resource"].pop("focus"),
            400,
            "invalid",
            "REC_BAD_REQUEST",
            "Bundle.entry[0].resource.focus",
        ),
        (
            lambda m: m["entry"][0]["resource"].update(focus=[{"reference": "urn:uuid:not-in-the-message"}]),
            400,
            "invalid",
            "REC_BAD_REQUEST",
            "Bundle.entry[0].resource.focus[0]",
        ),
        (
            lambda m: m["entry"][0]["resource"].update(focus=[{"reference": m["entry"][2]["fullUrl"]}]),
            422,
            "not-supported",
            "REC_UNPROCESSABLE_ENTITY",
            "Bundle.entry[0].resource.focus[0]",
        ),
        (
            lambda m: m["entry"][0]["resource"]["reason"]["coding"][0].update(code="update"),
            422,
            "not-supported",
            "REC_UNPROCESSABLE_ENTITY",
            "Bundle.entry[0].resource.reason",
        ),
        (
            lambda m: m["meta"].update(versionId="2.0.0"),
            422,
            "not-supported",
            "REC_UNPROCESSABLE_ENTITY",
            "Bundle.meta.versionId",
        ),
        (
            lambda m: m["entry"][0]["resource"].update(sender={"reference": "Organization/unknown-sender"}),
            422,
            "business-rule",
            "REC_UNPROCESSABLE_ENTITY",
            "Bundle.entry[0].resource.sender",
        ),
        (
            lambda m: m["entry"][0]["resource"].pop("sender"),
            400,
            "invalid",
            "REC_BAD_REQUEST",
            "Bundle.entry[0].resource.sender",
        ),
        (
            lambda m: m["entry"][1]["resource"].pop("subject"),
            422,
            "required",
            "REC_UNPROCESSABLE_ENTITY",
            "Bundle.entry[1].resource.subject",
        ),
        (
            lambda m: m["entry"][1]["resource"].update(subject={"reference": m["entry"][3]["fullUrl"]}),
            422,
            "business-rule",
            "REC_UNPROCESSABLE_ENTITY",
            "Bundle.entry[1].resource.subject",
        ),
        (
            lambda m: m["entry"][1]["resource"].update(status="revoked"),
            422,
            "business-rule",
            "REC_UNPROCESSABLE_ENTITY",
            "Bundle.entry[1].resource.status",
        ),
    ],
)
async def test_a_malformed_message_is_refused_naming_the_element(
    change: Any,
    status: int,
    code: str,
    error: str,
    expression: str,
    client: httpx.AsyncClient,
    referrals_client: httpx.AsyncClient,
    clock: FixedClock,
) -> None:
    sent = copy.deepcopy(message(clock))
    change(sent)
    bars_outcome(await send(client, sent), status, code, error, expression)
    assert await referrals_at(referrals_client) == []


async def test_a_body_that_is_not_json_or_not_fhir_json_is_refused(client: httpx.AsyncClient) -> None:
    not_json = await client.post("/fhir/$process-message", content=b"{nope", headers=FHIR)
    bars_outcome(not_json, 400, "invalid", "REC_BAD_REQUEST")
    wrong_type = await client.post("/fhir/$process-message", content=b"<Bundle/>", headers={"Content-Type": "text/xml"})
    assert wrong_type.status_code == 415
    assert wrong_type.json()["issue"][0]["details"]["coding"][0]["system"] == HTTP_ERROR_CODES


async def test_a_referral_the_service_refuses_is_answered_with_its_reason_and_leaves_nothing(
    client: httpx.AsyncClient, referrals_client: httpx.AsyncClient, clock: FixedClock
) -> None:
    """The referrals service's 422 comes back with the element located in the message."""
    response = await send(client, message(clock, performer="HealthcareService/no-such-team"))
    bars_outcome(response, 422, None, "REC_UNPROCESSABLE_ENTITY", "Bundle.entry[1].resource.performer[0]")
    assert await patients(client) == []  # the person registered for it was rolled back
    # the answer is kept for the Bundle.id: the same message is answered the same way
    assert (await send(client, message(clock, performer="HealthcareService/no-such-team"))).json() == response.json()


async def test_when_the_referrals_service_is_down_the_message_can_be_sent_again(
    client: httpx.AsyncClient, referrals_client: httpx.AsyncClient, network: Network, clock: FixedClock
) -> None:
    network.down.add("referrals.internal")
    down = await send(client, message(clock))
    bars_outcome(down, 503, "transient", "REC_SERVICE_UNAVAILABLE")
    assert down.headers["retry-after"]
    network.down.clear()
    again = await send(client, message(clock))
    assert again.status_code == 200, again.text
    assert len(await referrals_at(referrals_client)) == 1
    assert len(await patients(client)) == 1


async def test_two_copies_of_a_message_at_once_make_one_referral(
    client: httpx.AsyncClient, referrals_client: httpx.AsyncClient, clock: FixedClock
) -> None:
    sent = message(clock)
    first, second = await asyncio.gather(send(client, sent), send(client, sent))
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert first.json() == second.json()
    assert len(await referrals_at(referrals_client)) == 1


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every element of a JSON document, as the keys and indexes that reach it."""
    found: list[tuple[Any, ...]] = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def mutated(document: dict[str, Any], path: tuple[Any, ...], replacement: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    target: Any = changed
    for step in path[:-1]:
        target = target[step]
    if replacement is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = replacement
    return changed


DELETE = object()


async def test_no_damaged_message_makes_the_gateway_fail(client: httpx.AsyncClient, clock: FixedClock) -> None:
    """Every element removed, or replaced by a number or an object: an answer, never a 500."""
    original = message(clock)
    for number, path in enumerate(paths(original)):
        for replacement in (DELETE, 42, {"unexpected": True}):
            sent = mutated(original, path, replacement)
            if path != ("id",):
                sent["id"] = f"damaged-{number}-{id(replacement) % 1000}"
            response = await send(client, sent)
            assert response.status_code < 500, (path, replacement, response.text)
            assert response.headers["content-type"].startswith(FHIR_JSON)
            body = response.json()
            assert body["resourceType"] in ("Bundle", "OperationOutcome"), body
            if response.status_code >= 400:
                assert body["issue"][0]["details"]["coding"][0]["system"] == HTTP_ERROR_CODES


def documented(marker: str) -> Any:
    """A JSON example from docs/epr-simulation.md (the block after `<!-- example:{marker} -->`)."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "epr-simulation.md").read_text()
    block = text.split(f"<!-- example:{marker} -->", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    return json.loads(block)


def normalised(value: Any) -> Any:
    """JSON with UUIDs and the gateway's address replaced, so two runs can be compared."""
    text = json.dumps(value, sort_keys=True).replace("http://gateway.test", "http://127.0.0.1:8080")
    return json.loads(re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>", text))


async def test_the_documented_example_is_what_the_gateway_answers(client: httpx.AsyncClient) -> None:
    response = await send(client, documented("request"))
    assert response.status_code == 200, response.text
    assert normalised(response.json()) == normalised(documented("response"))


async def test_a_message_is_audited_with_the_person_it_was_about(client: httpx.AsyncClient, clock: FixedClock) -> None:
    """FR-71: the AuditEvent of a message names the Patient it registered or linked."""
    response = await send(client, message(clock))
    subject = response.json()["entry"][1]["resource"]["subject"]["reference"]
    audit = (await client.get("/fhir/AuditEvent", params={"patient": subject})).json()
    assert [e["resource"]["entity"][0]["what"]["display"] for e in audit["entry"]] == ["POST /fhir/$process-message"]


async def test_the_receiving_service_may_be_an_entry_or_the_destination(
    client: httpx.AsyncClient, referrals_client: httpx.AsyncClient, clock: FixedClock
) -> None:
    """BaRS names the receiving HealthcareService in the message; other entries are kept as displays."""
    sent = message(clock, kind="gp")
    service = {"resourceType": "HealthcareService", "id": "camden-core-north", "name": "Camden core team North"}
    encounter = {"resourceType": "Encounter", "id": "gp-consultation", "status": "finished", "class": {"code": "AMB"}}
    sent["entry"] += [
        {"fullUrl": "urn:uuid:0f6a1d1e-8b1e-4a4e-9a55-000000000001", "resource": service},
        {"fullUrl": "urn:uuid:0f6a1d1e-8b1e-4a4e-9a55-000000000002", "resource": encounter},
    ]
    request = sent["entry"][1]["resource"]
    request["performer"] = [{"reference": "urn:uuid:0f6a1d1e-8b1e-4a4e-9a55-000000000001"}]
    request["encounter"] = {"reference": "urn:uuid:0f6a1d1e-8b1e-4a4e-9a55-000000000002"}
    assert (await send(client, sent)).status_code == 200
    [received] = await referrals_at(referrals_client)
    assert received["performer"] == [{"reference": "HealthcareService/camden-core-north"}]
    assert received["encounter"] == {"display": f"Encounter carried in BaRS message {sent['id']}"}

    by_destination = message(clock, kind="vcse", bundle_id="by-destination")
    del by_destination["entry"][1]["resource"]["performer"]
    by_destination["entry"][0]["resource"]["destination"][0]["receiver"] = {
        "reference": "HealthcareService/islington-spa"
    }
    assert (await send(client, by_destination)).status_code == 200
    vcse = await referrals_at(referrals_client, category="vcse")
    assert vcse[0]["performer"] == [{"reference": "HealthcareService/islington-spa"}]
