"""Every example against the running services (in-process, on SQLite and PostgreSQL).

A valid example is accepted with its documented status, and what the API answers conforms to
Continuum's profiles offline and to the official R4 schema; an invalid one is refused with the
documented status, issue type and element. The services' own `$validate` agrees with the offline
validator on every resource example: valid or not, and with the same issue type.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from gateway.validate import validate
from services.kit.testing import assert_outcome
from tests.conformance import schema
from tests.conformance.catalogue import EXAMPLES_LIST, VALIDATE_ROUTES, Example

pytestmark = pytest.mark.usefixtures("engine")

FHIR = {"Content-Type": "application/fhir+json"}
PLACEHOLDER = "ServiceRequest/example-referral"
Json = dict[str, Any]


def load(name: str, valid: bool = True) -> Json:
    """An example's JSON."""
    folder = "valid" if valid else "invalid"
    body: Json = json.loads((EXAMPLES_LIST[0].file.parents[1] / folder / f"{name}.json").read_text())
    return body


def substitute(body: Json, referral: str | None) -> Json:
    """The example with its placeholder referral replaced by the one the setup created."""
    if referral is None:
        return body
    replaced: Json = json.loads(json.dumps(body).replace(PLACEHOLDER, referral))
    return replaced


def if_match(version: str) -> dict[str, str]:
    """Headers of a change to a version."""
    return {**FHIR, "If-Match": f'W/"{version}"'}


def conforms(resource: Json) -> None:
    """What the API emits passes the offline validator and the official R4 schema."""
    outcome = validate(resource)
    problems = [i for i in outcome["issue"] if i["severity"] in ("error", "fatal")]
    assert not problems, json.dumps(outcome, indent=1)
    if schema.available():
        assert schema.errors(resource) == [], resource


# ---------------------------------------------------------------- what must exist first


async def _referral(client: httpx.AsyncClient) -> dict[str, str]:
    created = await client.post("/fhir/ServiceRequest", json=load("ServiceRequest.gp-referral"), headers=FHIR)
    assert created.status_code == 201, created.text
    referral = created.json()
    found = await client.get("/fhir/Task", params={"focus": f"ServiceRequest/{referral['id']}", "code": "referral"})
    task = found.json()["entry"][0]["resource"]
    conforms(referral)
    conforms(task)
    return {
        "referral": f"ServiceRequest/{referral['id']}",
        "task": task["id"],
        "version": task["meta"]["versionId"],
    }


async def _accepted(client: httpx.AsyncClient) -> dict[str, str]:
    values = await _referral(client)
    accepted = await client.post(
        f"/fhir/Task/{values['task']}/$accept", json=load("Task-accept"), headers=if_match(values["version"])
    )
    assert accepted.status_code == 200, accepted.text
    return {**values, "version": accepted.json()["meta"]["versionId"]}


async def _concern(client: httpx.AsyncClient) -> dict[str, str]:
    raised = await client.post("/fhir/Task/$raise-concern", json=load("Task-raise-concern"), headers=FHIR)
    assert raised.status_code == 201, raised.text
    return {"task": raised.json()["id"], "version": raised.json()["meta"]["versionId"]}


async def _episode(client: httpx.AsyncClient) -> dict[str, str]:
    opened = await client.post("/fhir/EpisodeOfCare", json=load("EpisodeOfCare.caseload"), headers=FHIR)
    assert opened.status_code == 201, opened.text
    return {"episode": opened.json()["id"], "version": opened.json()["meta"]["versionId"]}


async def _draft_plan(client: httpx.AsyncClient) -> dict[str, str]:
    session = await client.post(
        "/fhir/CarePlan/$dialog-plus-session", json=load("CarePlan-dialog-plus-session"), headers=FHIR
    )
    assert session.status_code == 201, session.text
    return {"plan": session.json()["id"], "version": session.json()["meta"]["versionId"]}


async def _active_plan(client: httpx.AsyncClient) -> dict[str, str]:
    values = await _draft_plan(client)
    activated = await client.post(
        f"/fhir/CarePlan/{values['plan']}/$activate",
        json=load("CarePlan-activate"),
        headers=if_match(values["version"]),
    )
    assert activated.status_code == 200, activated.text
    conforms(activated.json())
    return {**values, "version": activated.json()["meta"]["versionId"]}


TRANSITION_STEPS = ("record-discussion", "decide-support", "record-meeting", "share-plan")


def _transition_case(steps: int) -> Any:
    """A transition case opened with the examples and taken through its first `steps` steps."""

    async def setup(client: httpx.AsyncClient) -> dict[str, str]:
        opened = await client.post("/fhir/Task/$open-transition", json=load("Task-open-transition"), headers=FHIR)
        assert opened.status_code == 201, opened.text
        case = opened.json()
        for name in TRANSITION_STEPS[:steps]:
            answered = await client.post(
                f"/fhir/Task/{case['id']}/${name}",
                json=load(f"Task-{name}"),
                headers=if_match(case["meta"]["versionId"]),
            )
            assert answered.status_code == 200, answered.text
            case = answered.json()
        conforms(case)
        return {"task": case["id"], "version": case["meta"]["versionId"]}

    return setup


SETUPS = {
    "transition-case": _transition_case(0),
    "transition-discussed": _transition_case(1),
    "transition-supported": _transition_case(2),
    "transition-planned": _transition_case(3),
    "transition-shared": _transition_case(4),
    "referral": _referral,
    "accepted-referral": _accepted,
    "concern": _concern,
    "episode": _episode,
    "draft-plan": _draft_plan,
    "active-plan": _active_plan,
}


# ---------------------------------------------------------------- the round trip


async def _send(example: Example, client: httpx.AsyncClient) -> tuple[httpx.Response, Json]:
    values = await SETUPS[example.setup](client) if example.setup else {}
    body = substitute(json.loads(example.file.read_text()), values.get("referral"))
    operation = example.name.split(".")[0].split("-", 1)[-1]
    path = example.path.format(op=operation, **values)
    headers = if_match(values["version"]) if "version" in values and "{" in example.path else FHIR
    response = await client.request(example.method, path, json=body, headers=headers)
    return response, body


async def _round_trip(example: Example, client: httpx.AsyncClient) -> None:
    response, body = await _send(example, client)
    if example.valid:
        assert response.status_code == example.status, response.text
        answer = response.json()
        if answer["resourceType"] != "OperationOutcome":
            conforms(answer)
    else:
        assert_outcome(response, example.status, example.code, example.expression)
    kind = body.get("resourceType")
    if kind in VALIDATE_ROUTES and VALIDATE_ROUTES[kind] == example.service:
        checked = await client.post(f"/fhir/{kind}/$validate", json=body, headers=FHIR)
        assert checked.status_code == 200, checked.text
        errors = [i for i in checked.json()["issue"] if i["severity"] in ("error", "fatal")]
        if example.valid:
            assert errors == [], checked.text
        else:
            assert errors, checked.text
            assert errors[0]["code"] == example.code, checked.text


def _of(service: str) -> list[Example]:
    return [e for e in EXAMPLES_LIST if e.service == service]


@pytest.mark.parametrize("example", _of("referrals"), ids=lambda e: e.id)
async def test_the_referrals_service_answers_each_example_as_documented(
    example: Example, referrals_client: httpx.AsyncClient
) -> None:
    await _round_trip(example, referrals_client)


@pytest.mark.parametrize("example", _of("careplans"), ids=lambda e: e.id)
async def test_the_careplans_service_answers_each_example_as_documented(
    example: Example, careplans_client: httpx.AsyncClient
) -> None:
    await _round_trip(example, careplans_client)


@pytest.mark.parametrize("example", _of("transitions"), ids=lambda e: e.id)
async def test_the_transitions_service_answers_each_example_as_documented(
    example: Example, transitions_client: httpx.AsyncClient
) -> None:
    await _round_trip(example, transitions_client)


@pytest.mark.parametrize("example", _of("gateway"), ids=lambda e: e.id)
async def test_the_gateway_answers_each_example_as_documented(
    example: Example, gateway_client: httpx.AsyncClient
) -> None:
    await _round_trip(example, gateway_client)


def test_every_example_is_sent_to_a_service() -> None:
    assert {e.service for e in EXAMPLES_LIST} == {"referrals", "careplans", "transitions", "gateway"}


async def test_a_transition_plan_the_service_develops_and_formalises_conforms_to_its_profile(
    transitions_client: httpx.AsyncClient,
) -> None:
    values = await SETUPS["transition-shared"](transitions_client)
    case = (await transitions_client.get(f"/fhir/Task/{values['task']}")).json()
    draft = (await transitions_client.get(f"/fhir/{case['focus']['reference']}")).json()
    agreed = await transitions_client.post(
        f"/fhir/Task/{values['task']}/$record-agreement",
        json=load("Task-record-agreement"),
        headers=if_match(values["version"]),
    )
    assert agreed.status_code == 200, agreed.text
    active = (await transitions_client.get(f"/fhir/{case['focus']['reference']}")).json()
    assert (draft["status"], active["status"]) == ("draft", "active")
    for plan in (draft, active):
        conforms(plan)
        outcome = validate(plan)
        assert "profile transition-plan" in outcome["issue"][-1]["diagnostics"]
        checked = await transitions_client.post("/fhir/CarePlan/$validate", json=plan, headers=FHIR)
        assert [i["severity"] for i in checked.json()["issue"]] == ["information"], checked.text
    # What the profile refuses, the service refuses too: an active plan without the young person's agreement.
    unagreed = {**active, "extension": [e for e in active["extension"] if "agreement" not in e["url"]]}
    offline = [i for i in validate(unagreed)["issue"] if i["severity"] == "error"]
    online = await transitions_client.post("/fhir/CarePlan/$validate", json=unagreed, headers=FHIR)
    assert offline
    assert offline[0]["code"] == online.json()["issue"][0]["code"] == "business-rule"


async def test_a_referral_the_api_created_and_moved_still_conforms(referrals_client: httpx.AsyncClient) -> None:
    values = await _accepted(referrals_client)
    task = (await referrals_client.get(f"/fhir/Task/{values['task']}")).json()
    referral = (await referrals_client.get(f"/fhir/{values['referral']}")).json()
    conforms(task)
    conforms(referral)
    history = (await referrals_client.get(f"/fhir/Task/{values['task']}/_history")).json()
    conforms(history)


async def test_a_transition_case_conforms_to_its_profile_at_every_step(
    transitions_client: httpx.AsyncClient, transitions_gateway: Any
) -> None:
    from tests.transitions.builders import PATIENT, WALK, WORKER, open_case, params, step

    transitions_gateway.young_person(PATIENT.removeprefix("Patient/"))
    case = await open_case(transitions_client, patient=PATIENT)
    extras = {
        "record-meeting": ("flag-high-risk", params(highRiskReason=["complex-needs"], actor=WORKER)),
        "action-plan": (
            "set-action-date",
            params(date="2026-12-01", agreedBy=[PATIENT, WORKER], rationale="After her exams"),
        ),
    }
    seen = []
    for _, name, body in WALK:
        if name in extras:
            extra, extra_body = extras[name]
            case = await step(transitions_client, case, extra, extra_body)
            seen.append(case)
        case = await step(transitions_client, case, name, body)
        seen.append(case)
    assert case["businessStatus"]["coding"][0]["code"] == "closed"
    urls = {e["url"].rsplit("/", 1)[1] for c in seen for e in c.get("extension", [])}
    assert {"transition-high-risk", "transition-agreed-alternative-time", "changed-by"} <= urls
    for version in seen:
        conforms(version)
        assert "profile transition-case-task" in validate(version)["issue"][-1]["diagnostics"]
    # The profile refuses what the service never writes: a phase that does not exist.
    wrong = {**case, "businessStatus": {"coding": [{**case["businessStatus"]["coding"][0], "code": "phase-6"}]}}
    assert validate(wrong)["issue"][0]["code"] == "code-invalid"
    checked = await transitions_client.post("/fhir/Task/$validate", json=wrong, headers=FHIR)
    assert checked.json()["issue"][0]["code"] == "code-invalid"
