"""The conformance resources through the gateway, and the gateway's `$validate` (SQLite and PostgreSQL).

The four conformance types are read and searched like any other type (searchset Bundles, paging,
400 for an unknown parameter, 404 for an unknown id, 405 for a write); the CapabilityStatement
lists them and points at every profile and Continuum operation definition, each of which resolves.
`$validate` at the gateway answers exactly what the offline validator CLI answers on every example,
honours `profile`, and adds the owning service's findings that need its records.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from conformance import BASE, RESOURCES
from gateway.validate import main as cli
from gateway.validate import operation_of_file, validate, validate_file
from services.kit.auth import Principal, authorize
from services.kit.errors import Forbidden
from services.kit.testing import assert_outcome
from tests.conformance.catalogue import EXAMPLES_LIST, Example
from tests.conformance.test_examples_api import SETUPS, substitute
from tests.gateway.conftest import Network

pytestmark = pytest.mark.usefixtures("engine")

FHIR = {"Content-Type": "application/fhir+json"}
KINDS = ("StructureDefinition", "CodeSystem", "ValueSet", "OperationDefinition")
Json = dict[str, Any]


def committed(kind: str) -> dict[str, Json]:
    """The committed conformance resources of one type, by id."""
    found = (json.loads(p.read_text()) for p in sorted(RESOURCES.glob(f"{kind}-*.json")))
    return {r["id"]: r for r in found}


# ---------------------------------------------------------------- read and search


@pytest.mark.parametrize("kind", KINDS)
async def test_every_conformance_resource_is_read_by_id_as_published(
    kind: str, gateway_client: httpx.AsyncClient
) -> None:
    for id_, resource in committed(kind).items():
        answer = await gateway_client.get(f"/fhir/{kind}/{id_}")
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/fhir+json")
        assert answer.json() == resource


@pytest.mark.parametrize("kind", KINDS)
async def test_a_search_without_parameters_pages_through_all_of_a_type(
    kind: str, gateway_client: httpx.AsyncClient
) -> None:
    published = committed(kind)
    seen: list[str] = []
    url: str | None = f"/fhir/{kind}?_count=7"
    while url:
        page = (await gateway_client.get(url)).json()
        assert page["resourceType"] == "Bundle"
        assert page["type"] == "searchset"
        assert page["total"] == len(published)
        seen += [e["resource"]["id"] for e in page.get("entry", [])]
        assert all(e["search"]["mode"] == "match" for e in page.get("entry", []))
        assert all(e["fullUrl"] == f"http://gateway.test/fhir/{kind}/{e['resource']['id']}" for e in page["entry"])
        url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
    assert seen == sorted(published)


async def test_search_by_url_name_and_id(gateway_client: httpx.AsyncClient) -> None:
    url = f"{BASE}/StructureDefinition/referral-servicerequest"
    by_url = (await gateway_client.get("/fhir/StructureDefinition", params={"url": url})).json()
    assert [e["resource"]["url"] for e in by_url["entry"]] == [url]
    versioned = (await gateway_client.get("/fhir/StructureDefinition", params={"url": f"{url}|0.1.0"})).json()
    assert versioned["total"] == 1
    wrong_version = (await gateway_client.get("/fhir/StructureDefinition", params={"url": f"{url}|9"})).json()
    assert wrong_version["total"] == 0
    by_name = (await gateway_client.get("/fhir/CodeSystem", params={"name": "decline"})).json()
    assert {e["resource"]["id"] for e in by_name["entry"]} == {"decline-next-step", "decline-reason"}
    exact = (await gateway_client.get("/fhir/CodeSystem", params={"name:exact": "DeclineReason"})).json()
    assert [e["resource"]["id"] for e in exact["entry"]] == ["decline-reason"]
    by_id = (await gateway_client.get("/fhir/ValueSet", params={"_id": "borough,referral-source"})).json()
    assert {e["resource"]["id"] for e in by_id["entry"]} == {"borough", "referral-source"}
    by_type = (await gateway_client.get("/fhir/StructureDefinition", params={"type": "Task"})).json()
    assert {e["resource"]["type"] for e in by_type["entry"]} == {"Task"}
    by_code = (await gateway_client.get("/fhir/OperationDefinition", params={"code": "decline"})).json()
    assert [e["resource"]["id"] for e in by_code["entry"]] == ["Task-decline"]
    counted = (await gateway_client.get("/fhir/ValueSet", params={"_summary": "count"})).json()
    assert counted["total"] == len(committed("ValueSet"))
    assert "entry" not in counted


async def test_unknown_parameters_ids_and_writes_are_refused_with_an_outcome(
    gateway_client: httpx.AsyncClient,
) -> None:
    assert_outcome(await gateway_client.get("/fhir/CodeSystem", params={"publisher": "x"}), 400, "invalid", "publisher")
    assert_outcome(await gateway_client.get("/fhir/CodeSystem", params={"_sort": "date"}), 400, "invalid", "_sort")
    assert_outcome(await gateway_client.get("/fhir/ValueSet", params={"name:below": "x"}), 400, "invalid")
    assert_outcome(await gateway_client.get("/fhir/ValueSet", params={"_count": "many"}), 400, "invalid", "_count")
    assert_outcome(await gateway_client.get("/fhir/StructureDefinition/no-such-profile"), 404, "not-found")
    assert_outcome(await gateway_client.get("/fhir/CodeSystem/not%20an%20id"), 400)
    sd = committed("StructureDefinition")["nhs-patient"]
    assert_outcome(await gateway_client.post("/fhir/StructureDefinition", json=sd, headers=FHIR), 405)
    assert_outcome(await gateway_client.put("/fhir/StructureDefinition/nhs-patient", json=sd, headers=FHIR), 405)
    assert_outcome(await gateway_client.delete("/fhir/ValueSet/borough"), 405)


def test_the_validate_scope_may_read_what_validate_checks_against_and_nothing_else() -> None:
    engineer = Principal("interface-engineer", frozenset({"validate"}))
    for kind in KINDS:
        authorize(engineer, "GET", f"/fhir/{kind}")
        authorize(engineer, "GET", f"/fhir/{kind}/some-id")
        with pytest.raises(Forbidden):
            authorize(engineer, "POST", f"/fhir/{kind}")
    with pytest.raises(Forbidden):
        authorize(engineer, "GET", "/fhir/Patient")


# ---------------------------------------------------------------- the CapabilityStatement


async def test_the_capability_statement_lists_the_conformance_types_and_points_at_every_profile(
    full_gateway_client: httpx.AsyncClient,
) -> None:
    statement = (await full_gateway_client.get("/fhir/metadata")).json()
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    for kind in KINDS:
        assert {i["code"] for i in resources[kind]["interaction"]} == {"read", "search-type"}
        assert {"_id", "url", "name"} <= {p["name"] for p in resources[kind]["searchParam"]}
    profiles = committed("StructureDefinition").values()
    pointed = {url for r in resources.values() for url in r.get("supportedProfile", [])}
    assert pointed == {sd["url"] for sd in profiles}
    for sd in profiles:
        assert sd["url"] in resources[sd["type"]]["supportedProfile"]
    for url in pointed:
        found = (await full_gateway_client.get("/fhir/StructureDefinition", params={"url": url})).json()
        assert found["total"] == 1, url


async def test_every_continuum_operation_the_capability_statement_names_resolves(
    full_gateway_client: httpx.AsyncClient,
) -> None:
    statement = (await full_gateway_client.get("/fhir/metadata")).json()
    definitions = {
        op["definition"]
        for r in statement["rest"][0]["resource"]
        for op in r.get("operation", [])
        if op["definition"].startswith(BASE)
    }
    assert definitions == {od["url"] for od in committed("OperationDefinition").values()}
    for url in definitions:
        found = (await full_gateway_client.get("/fhir/OperationDefinition", params={"url": url})).json()
        assert found["total"] == 1, url
    for resource in statement["rest"][0]["resource"]:
        assert any(op["name"] == "validate" for op in resource.get("operation", [])), resource["type"]


# ---------------------------------------------------------------- $validate: the same answer as the CLI


def _validate_call(example: Example) -> tuple[str, dict[str, str]]:
    body = json.loads(example.file.read_text())
    kind = body["resourceType"]
    operation = operation_of_file(example.file) if kind == "Parameters" else None
    return f"/fhir/{kind}/$validate", ({"operation": operation} if operation else {})


@pytest.mark.parametrize("example", EXAMPLES_LIST, ids=lambda e: e.id)
async def test_validate_at_the_gateway_answers_what_the_cli_answers(
    example: Example, full_gateway_client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    path, params = _validate_call(example)
    body = json.loads(example.file.read_text())
    if example.setup and body["resourceType"] != "Parameters":
        # The records a resource refers to exist, as they would where it is sent (the service checks them).
        values = await SETUPS[example.setup](full_gateway_client)
        body = substitute(body, values.get("referral"))
    answer = await full_gateway_client.post(path, params=params, json=body, headers=FHIR)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/fhir+json")
    assert cli(["--json", str(example.file)]) == (0 if example.valid else 1)
    printed = json.loads(capsys.readouterr().out)
    assert answer.json() == printed["outcome"] == validate_file(example.file)
    if not example.valid:
        assert answer.json() == json.loads(example.outcome_file.read_text())


async def test_a_profile_given_to_validate_is_the_one_checked(full_gateway_client: httpx.AsyncClient) -> None:
    patient = json.loads((RESOURCES.parents[1] / "examples/valid/Patient.nhs-number.json").read_text())
    del patient["identifier"]
    plain = (await full_gateway_client.post("/fhir/Patient/$validate", json=patient, headers=FHIR)).json()
    assert [i["severity"] for i in plain["issue"]] == ["information"]
    profile = f"{BASE}/StructureDefinition/nhs-patient"
    by_query = await full_gateway_client.post(
        "/fhir/Patient/$validate", params={"profile": profile}, json=patient, headers=FHIR
    )
    wrapped = {
        "resourceType": "Parameters",
        "parameter": [{"name": "resource", "resource": patient}, {"name": "profile", "valueUri": profile}],
    }
    by_parameter = await full_gateway_client.post("/fhir/Patient/$validate", json=wrapped, headers=FHIR)
    for answer in (by_query, by_parameter):
        assert answer.status_code == 200
        issue = answer.json()["issue"][0]
        assert (issue["severity"], issue["code"], issue["expression"]) == ("error", "required", ["Patient.identifier"])
    assert by_query.json() == by_parameter.json() == validate_file_with_profile(patient, profile)
    other = await full_gateway_client.post(
        "/fhir/Patient/$validate",
        params={"profile": f"{BASE}/StructureDefinition/referral-task"},
        json=patient,
        headers=FHIR,
    )
    assert other.json()["issue"][0]["code"] == "invalid"


def validate_file_with_profile(resource: Json, profile: str) -> Json:
    """The offline validator's answer with a profile."""
    return validate(resource, profile=profile)


async def test_the_owning_services_rules_are_added_unless_only_the_profile_is_asked_for(
    full_gateway_client: httpx.AsyncClient,
) -> None:
    # Valid offline, but the referrals service knows of no such referral to record a contact against.
    contact = json.loads((RESOURCES.parents[1] / "examples/valid/Encounter.contact.json").read_text())
    contact["basedOn"] = [{"reference": "ServiceRequest/no-such-referral"}]
    offline = validate_file_with_profile(contact, f"{BASE}/StructureDefinition/contact-encounter")
    assert [i["severity"] for i in offline["issue"]] == ["information"]
    merged = (await full_gateway_client.post("/fhir/Encounter/$validate", json=contact, headers=FHIR)).json()
    direct = await full_gateway_client.post(
        "/fhir/Encounter/$validate", params={"mode": "profile"}, json=contact, headers=FHIR
    )
    errors = [i for i in merged["issue"] if i["severity"] == "error"]
    assert errors, merged
    assert any("no-such-referral" in i["diagnostics"] for i in errors), merged
    assert not any(i["severity"] == "information" for i in merged["issue"])
    assert [i["severity"] for i in direct.json()["issue"]] == ["information"]


async def test_a_service_that_cannot_be_reached_leaves_a_warning_not_an_error(
    full_gateway_client: httpx.AsyncClient, network: Network
) -> None:
    network.down.add("referrals.internal")
    referral = (RESOURCES.parents[1] / "examples/valid/ServiceRequest.gp-referral.json").read_bytes()
    answer = await full_gateway_client.post("/fhir/ServiceRequest/$validate", content=referral, headers=FHIR)
    assert answer.status_code == 200
    issues = answer.json()["issue"]
    assert [(i["severity"], i["code"]) for i in issues] == [("warning", "incomplete"), ("information", "informational")]


async def test_validate_refuses_what_is_not_a_validate_request(full_gateway_client: httpx.AsyncClient) -> None:
    referral = json.loads((RESOURCES.parents[1] / "examples/valid/ServiceRequest.gp-referral.json").read_text())
    assert_outcome(
        await full_gateway_client.post("/fhir/Nothing/$validate", json=referral, headers=FHIR), 404, "not-found"
    )
    assert_outcome(
        await full_gateway_client.post("/fhir/ServiceRequest/$validate", content=b"{not json", headers=FHIR), 400
    )
    assert_outcome(
        await full_gateway_client.post(
            "/fhir/ServiceRequest/$validate", content=json.dumps(referral), headers={"Content-Type": "text/plain"}
        ),
        415,
    )
    assert_outcome(
        await full_gateway_client.post(
            "/fhir/ServiceRequest/$validate", params={"strict": "true"}, json=referral, headers=FHIR
        ),
        400,
        "invalid",
        "strict",
    )
    assert_outcome(
        await full_gateway_client.post(
            "/fhir/ServiceRequest/$validate", params={"mode": "delete"}, json=referral, headers=FHIR
        ),
        400,
        "invalid",
        "mode",
    )
    empty = {"resourceType": "Parameters", "parameter": [{"name": "profile", "valueUri": "x"}]}
    assert_outcome(await full_gateway_client.post("/fhir/ServiceRequest/$validate", json=empty, headers=FHIR), 400)
    assert_outcome(
        await full_gateway_client.post("/fhir/ServiceRequest/some-id/$validate", json=referral, headers=FHIR), 405
    )
    mismatch = await full_gateway_client.post("/fhir/Task/$validate", json=referral, headers=FHIR)
    assert mismatch.status_code == 200
    assert mismatch.json()["issue"][0]["code"] == "structure"


async def test_validate_checks_an_operations_parameters_named_by_the_operation_parameter(
    full_gateway_client: httpx.AsyncClient,
) -> None:
    body = (RESOURCES.parents[1] / "examples/invalid/Task-decline.missing-rationale.json").read_bytes()
    plain = (await full_gateway_client.post("/fhir/Parameters/$validate", content=body, headers=FHIR)).json()
    assert [i["severity"] for i in plain["issue"]] == ["information"]
    named = await full_gateway_client.post(
        "/fhir/Parameters/$validate", params={"operation": "Task/$decline"}, content=body, headers=FHIR
    )
    assert any(i["code"] == "required" for i in named.json()["issue"])
    unknown = await full_gateway_client.post(
        "/fhir/Parameters/$validate", params={"operation": "Task-nothing"}, content=body, headers=FHIR
    )
    assert unknown.json()["issue"][0]["code"] == "not-found"


async def test_the_gateways_own_create_rules_are_added_for_the_types_it_holds(
    full_gateway_client: httpx.AsyncClient,
) -> None:
    subscription = json.loads((RESOURCES.parents[1] / "examples/valid/Subscription.referral-accepted.json").read_text())
    subscription["channel"]["type"] = "email"  # valid R4, but the gateway only delivers rest-hooks
    offline = validate(subscription)  # Continuum publishes no Subscription profile: nothing to find offline
    assert [i["severity"] for i in offline["issue"]] == ["information"]
    answer = (await full_gateway_client.post("/fhir/Subscription/$validate", json=subscription, headers=FHIR)).json()
    assert [(i["severity"], i["code"], i["expression"]) for i in answer["issue"]] == [
        ("error", "invalid", ["Subscription.channel"])
    ]
    created = await full_gateway_client.post("/fhir/Subscription", json=subscription, headers=FHIR)
    assert_outcome(created, 400, "invalid", "Subscription.channel")  # the create refuses it the same way
    profile_only = await full_gateway_client.post(
        "/fhir/Subscription/$validate", params={"mode": "profile"}, json=subscription, headers=FHIR
    )
    assert [i["severity"] for i in profile_only.json()["issue"]] == ["information"]
