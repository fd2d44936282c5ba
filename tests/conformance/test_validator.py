"""The offline validator (`gateway.validate`): the library and the command give the documented answer
on every example, and agree with the services on where and what the problem is."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.identity import NHS_NUMBER
from gateway.validate import Validator, has_errors, main, operation_of_file, validate, validate_file
from services.careplans.domain.dialog import read_ratings
from services.kit.errors import FhirError
from tests.conformance.catalogue import EXAMPLES, EXAMPLES_LIST, INVALID, ROOT, VALID, Example

Json = dict[str, Any]


def errors(outcome: Json) -> list[Json]:
    """The error issues of an OperationOutcome."""
    return [i for i in outcome["issue"] if i["severity"] in ("error", "fatal")]


# ---------------------------------------------------------------- the examples


def test_every_example_file_is_catalogued_and_every_invalid_one_has_its_outcome() -> None:
    files = {p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.glob("*/*.json")}
    catalogued = {e.file.relative_to(EXAMPLES).as_posix() for e in EXAMPLES_LIST}
    outcomes = {e.outcome_file.relative_to(EXAMPLES).as_posix() for e in INVALID}
    assert files == catalogued | outcomes


@pytest.mark.parametrize("example", VALID, ids=lambda e: e.id)
def test_the_library_accepts_every_valid_example(example: Example) -> None:
    outcome = validate_file(example.file)
    assert not has_errors(outcome), json.dumps(outcome, indent=1)
    assert outcome["issue"][-1]["severity"] == "information"


@pytest.mark.parametrize("example", INVALID, ids=lambda e: e.id)
def test_the_library_gives_each_invalid_example_its_stored_outcome(example: Example) -> None:
    outcome = validate_file(example.file)
    assert outcome == json.loads(example.outcome_file.read_text())
    # The same problem the API reports: its issue type, at (or within) the element the API names.
    assert any(
        issue["code"] == example.code and any(example.expression in e for e in issue.get("expression", []))
        for issue in errors(outcome)
    ), json.dumps(outcome, indent=1)


@pytest.mark.parametrize("example", EXAMPLES_LIST, ids=lambda e: e.id)
def test_the_command_answers_each_example(example: Example, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["--json", str(example.file)])
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == (0 if example.valid else 1)
    assert printed == [{"file": str(example.file), "outcome": validate_file(example.file)}]


def test_the_command_prints_each_issue_with_severity_type_and_location(capsys: pytest.CaptureFixture[str]) -> None:
    example = next(e for e in INVALID if e.name == "ServiceRequest.missing-performer")
    assert main([str(example.file)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{example.file}: error [required] ServiceRequest.performer: ServiceRequest.performer is required by the "
        "Continuum referral (ServiceRequest) profile"
    ]


def _run(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.validate", *arguments], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_the_command_validates_folders_and_exits_non_zero_on_errors() -> None:
    valid = _run("examples/valid")
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert len([line for line in valid.stdout.splitlines() if " is valid" in line]) == len(VALID)
    invalid = _run("examples/invalid")
    assert invalid.returncode == 1
    assert ".outcome.json" not in invalid.stdout  # expected outcomes are not validated themselves
    missing = _run("examples/no-such-file.json")
    assert missing.returncode == 1
    assert "does not exist" in missing.stdout


def test_an_unreadable_file_is_a_fatal_issue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert main([str(broken)]) == 1
    assert "fatal [structure]" in capsys.readouterr().out


# ---------------------------------------------------------------- operations and profiles


def test_the_operation_comes_from_the_argument_or_the_file_name(tmp_path: Path) -> None:
    body = json.loads((EXAMPLES / "invalid" / "Task-decline.missing-rationale.json").read_text())
    assert operation_of_file(Path("Task-decline.missing-rationale.json")) == "Task-decline"
    assert operation_of_file(Path("my-decline.json")) is None
    for name in (
        "Task-decline",
        "Task/$decline",
        "https://continuum.example.org/fhir/OperationDefinition/Task-decline",
    ):
        assert has_errors(validate(body, operation=name)), name
    loose = tmp_path / "my-decline.json"
    loose.write_text(json.dumps(body))
    assert not has_errors(validate_file(loose))  # no operation named: structure only
    assert has_errors(validate_file(loose, operation="Task-decline"))


def test_an_unknown_operation_or_a_resource_for_an_operation_is_an_error() -> None:
    body = json.loads((EXAMPLES / "valid" / "Task-cancel.json").read_text())
    assert errors(validate(body, operation="Task-vanish"))[0]["code"] == "not-found"
    referral = json.loads((EXAMPLES / "valid" / "ServiceRequest.gp-referral.json").read_text())
    assert errors(validate(referral, operation="Task-cancel"))[0]["code"] == "invalid"


def test_an_unknown_parameter_is_a_warning_not_an_error() -> None:
    body = json.loads((EXAMPLES / "valid" / "Task-cancel.json").read_text())
    body["parameter"].append({"name": "reasn", "valueCode": "x"})
    outcome = validate(body, operation="Task-cancel")
    assert not has_errors(outcome)
    assert outcome["issue"][0]["severity"] == "warning"
    assert outcome["issue"][0]["expression"] == ["Parameters.parameter.where(name='reasn')"]


def test_a_profile_can_be_named_and_must_fit_the_type() -> None:
    referral = json.loads((EXAMPLES / "valid" / "ServiceRequest.gp-referral.json").read_text())
    wrong = "https://continuum.example.org/fhir/StructureDefinition/nhs-patient"
    assert errors(validate(referral, profile=wrong))[0]["code"] == "invalid"
    other = validate(referral, profile="http://example.org/StructureDefinition/not-ours")
    assert not has_errors(other)
    assert "not checked offline" in other["issue"][0]["diagnostics"]


def test_the_default_profile_applies_whatever_a_resource_claims() -> None:
    task = json.loads((EXAMPLES / "valid" / "Task.referral.json").read_text())
    task["status"] = "completed"
    assert errors(validate(task))[0]["expression"] == ["Task.status"]  # cont-task-status (received → requested)
    task["meta"] = {"profile": ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Task"]}
    outcome = validate(task)
    assert [i["code"] for i in errors(outcome)] == ["business-rule"]
    assert "UKCore-Task is not checked offline" in outcome["issue"][0]["diagnostics"]
    task["meta"] = {"profile": ["https://continuum.example.org/fhir/StructureDefinition/referral-servicerequest"]}
    assert errors(validate(task))[0]["code"] == "invalid"


# ---------------------------------------------------------------- codes, references, NHS numbers


@pytest.mark.parametrize(
    ("value", "valid"),
    [("9000000009", True), ("9476719931", True), ("9476719932", False), ("900000000", False), ("90000000 9", False)],
)
def test_the_nhs_number_check_digit(value: str, valid: bool) -> None:
    patient = {"resourceType": "Patient", "identifier": [{"system": NHS_NUMBER, "value": value}]}
    outcome = validate(patient)
    assert has_errors(outcome) is not valid
    if not valid:
        assert errors(outcome)[0]["expression"] == ["Patient.identifier[0].value"]


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        ("Patient/example-patient", None),
        ("https://fhir.example.org/R4/Patient/123/_history/2", None),
        ("urn:uuid:3b2e4b1c-0d6f-4a53-9b6a-1f1f5a4b7c01", None),
        ("Patient p-1", "value"),
        ("patient/p-1", "value"),
        ("Reference/p-1", "value"),
        ("Patient/p_1", "value"),
        ("#nowhere", "value"),
    ],
)
def test_references_are_well_formed(reference: str, problem: str | None) -> None:
    referral = json.loads((EXAMPLES / "valid" / "ServiceRequest.gp-referral.json").read_text())
    referral["supportingInfo"] = [{"reference": reference}]
    found = [i for i in errors(validate(referral)) if i["expression"] == ["ServiceRequest.supportingInfo[0].reference"]]
    assert [i["code"] for i in found] == ([problem] if problem else [])


def test_an_unknown_worker_is_refused_and_an_unknown_organisation_warned_about() -> None:
    referral = json.loads((EXAMPLES / "valid" / "ServiceRequest.gp-referral.json").read_text())
    referral["requester"] = {"reference": "PractitionerRole/nobody"}
    referral["supportingInfo"] = [{"reference": "Organization/nowhere"}]
    outcome = validate(referral)
    assert [(i["severity"], i["code"]) for i in outcome["issue"]] == [
        ("error", "business-rule"),
        ("warning", "not-found"),
    ]


def test_a_code_from_a_continuum_codesystem_is_checked_anywhere() -> None:
    consent = json.loads((EXAMPLES / "valid" / "Consent.carer-sharing.json").read_text())
    consent["category"].append(
        {"coding": [{"system": "https://continuum.example.org/fhir/CodeSystem/borough", "code": "soho"}]}
    )
    assert errors(validate(consent))[0]["expression"] == ["Consent.category[1].coding[0].code"]


def test_the_referral_task_status_follows_its_state() -> None:
    task = json.loads((EXAMPLES / "valid" / "Task.referral.json").read_text())
    task["businessStatus"]["coding"][0]["code"] = "accepted-waiting"
    assert errors(validate(task))[0]["diagnostics"].startswith(
        "A referral that is accepted-waiting has Task.status accepted"
    )
    task["status"] = "accepted"
    assert not has_errors(validate(task))


def test_an_active_plan_must_be_coproduced() -> None:
    plan = json.loads((EXAMPLES / "valid" / "CarePlan.crisis.json").read_text())
    plan["status"] = "active"
    assert errors(validate(plan))[0]["expression"] == ["CarePlan.extension('coproduction-agreement')"]


def test_a_finished_contact_says_how_and_when() -> None:
    contact = json.loads((EXAMPLES / "valid" / "Encounter.contact.json").read_text())
    contact["type"] = contact["type"][1:]
    del contact["period"]
    assert [i["expression"] for i in errors(validate(contact))] == [["Encounter.type"], ["Encounter.period.start"]]


# ---------------------------------------------------------------- the same DIALOG rules as the care-plans service


def _dialog() -> Json:
    found: Json = json.loads((EXAMPLES / "valid" / "QuestionnaireResponse.dialog.json").read_text())
    return found


def _breakages() -> list[tuple[str, Json]]:
    cases = []

    def broken(name: str, change: Any) -> None:
        body = copy.deepcopy(_dialog())
        change(body)
        cases.append((name, body))

    def life(body: Json) -> list[Json]:
        items: list[Json] = body["item"][0]["item"]
        return items

    broken("unknown item", lambda b: life(b).append({"linkId": "housing", "item": []}))
    broken("repeated item", lambda b: life(b).append(copy.deepcopy(life(b)[0])))
    broken("missing group", lambda b: b["item"].pop(1))
    broken("rating 9", lambda b: life(b)[0]["item"][0]["answer"][0]["valueCoding"].update(code="9"))
    broken("rating text", lambda b: life(b)[0]["item"][0]["answer"][0]["valueCoding"].update(code="good"))
    broken("wrong system", lambda b: life(b)[0]["item"][0]["answer"][0]["valueCoding"].update(system="http://x"))
    broken("two answers", lambda b: life(b)[0]["item"][0]["answer"].append({"valueCoding": {}}))
    broken("no rating", lambda b: life(b)[0]["item"].pop(0))
    broken(
        "rated and not answered",
        lambda b: life(b)[0].update(
            extension=[
                {
                    "url": "https://continuum.example.org/fhir/StructureDefinition/dialog-item-not-answered",
                    "valueCode": "not-applicable",
                }
            ]
        ),
    )
    broken(
        "help not boolean", lambda b: life(b)[0]["item"][1]["answer"][0].update(valueBoolean=None, valueString="yes")
    )
    return cases


@pytest.mark.parametrize(("name", "response"), _breakages(), ids=[n for n, _ in _breakages()])
def test_the_dialog_checks_match_the_careplans_service(name: str, response: Json) -> None:
    with pytest.raises(FhirError) as raised:
        read_ratings(response)
    service = {(i.code, i.expression[0]) for i in raised.value.issues}
    offline = {(i["code"], i["expression"][0]) for i in errors(Validator().validate(response)) if "expression" in i}
    assert service <= offline, (service, offline)


def test_the_guide_lists_every_common_mistake_as_the_api_answers_it() -> None:
    guide = (ROOT / "docs" / "interface-engineers.md").read_text()
    for example in INVALID:
        row = next((line for line in guide.splitlines() if f"| `{example.name}` |" in line), None)
        assert row is not None, f"docs/interface-engineers.md does not list {example.name}"
        assert f"{example.status} `{example.code}`" in row, row
