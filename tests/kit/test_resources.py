"""`services.kit.resources.validate`: is a body a well-formed R4 resource, and where is it not?"""

from __future__ import annotations

from typing import Any

import pytest

from services.kit.errors import FhirError, InvalidStructure, RequiredMissing
from services.kit.resources import fhirpath, is_resource_type, validate


def service_request(**changes: Any) -> dict[str, Any]:
    """A minimal valid ServiceRequest; keyword arguments replace (or, with None, remove) elements."""
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
    }
    for key, value in changes.items():
        if value is None:
            resource.pop(key, None)
        else:
            resource[key] = value
    return resource


def raised(resource: dict[str, Any], resource_type: str | None = None) -> FhirError:
    """The FhirError validate raises for `resource`."""
    with pytest.raises(FhirError) as caught:
        validate(resource, resource_type)
    return caught.value


def expressions(error: FhirError) -> list[str]:
    """Every expression of every issue of an error."""
    return [e for issue in error.issues for e in issue.expression]


def test_a_valid_resource_passes() -> None:
    validate(service_request(), "ServiceRequest")
    validate(service_request(performer=[{"reference": "PractitionerRole/r1"}]))


def test_a_valid_resource_passes_without_an_expected_type() -> None:
    validate({"resourceType": "Patient", "name": [{"family": "Okafor"}]}, None)


def test_a_missing_required_element_is_422_required_naming_it() -> None:
    error = raised(service_request(subject=None), "ServiceRequest")
    assert isinstance(error, RequiredMissing)
    assert error.status == 422
    assert error.issues[0].code == "required"
    assert expressions(error) == ["ServiceRequest.subject"]
    assert error.outcome()["resourceType"] == "OperationOutcome"


def test_a_missing_required_primitive_is_also_422_required() -> None:
    error = raised(service_request(status=None), "ServiceRequest")
    assert isinstance(error, RequiredMissing)
    assert error.status == 422
    assert error.issues[0].code == "required"
    assert expressions(error) == ["ServiceRequest.status"]


def test_every_missing_element_gets_an_issue() -> None:
    error = raised(service_request(status=None, intent=None), "ServiceRequest")
    assert isinstance(error, RequiredMissing)
    assert sorted(expressions(error)) == ["ServiceRequest.intent", "ServiceRequest.status"]


def test_an_unknown_element_is_400_structure_naming_it() -> None:
    error = raised(service_request(colour="blue"), "ServiceRequest")
    assert isinstance(error, InvalidStructure)
    assert error.status == 400
    assert error.issues[0].code == "structure"
    assert expressions(error) == ["ServiceRequest.colour"]
    assert "not a known element" in error.diagnostics


def test_an_unknown_element_deep_inside_is_named_with_its_path() -> None:
    error = raised(service_request(performer=[{"reference": "PractitionerRole/r1", "colour": "blue"}]))
    assert error.status == 400
    assert expressions(error) == ["ServiceRequest.performer[0].colour"]


@pytest.mark.parametrize("bad", [5, {"a": 1}, ["PractitionerRole/r1"]])
def test_a_wrong_type_in_a_nested_list_is_400_naming_the_element(bad: object) -> None:
    error = raised(service_request(performer=[{"reference": bad}]), "ServiceRequest")
    assert isinstance(error, InvalidStructure)
    assert error.status == 400
    assert error.issues[0].code == "structure"
    assert expressions(error) == ["ServiceRequest.performer[0].reference"]


def test_the_index_of_the_bad_list_item_is_named() -> None:
    error = raised(service_request(performer=[{"display": "ok"}, {"reference": 7}]))
    assert expressions(error) == ["ServiceRequest.performer[1].reference"]


def test_a_single_object_where_a_list_belongs_is_400() -> None:
    error = raised({"resourceType": "Patient", "name": {"family": "Okafor"}})
    assert error.status == 400
    assert expressions(error) == ["Patient.name"]


def test_a_malformed_primitive_is_400_naming_it() -> None:
    error = raised({"resourceType": "Patient", "birthDate": "5th of May"})
    assert error.status == 400
    assert error.issues[0].code == "structure"
    assert expressions(error) == ["Patient.birthDate"]


def test_every_problem_gets_an_issue() -> None:
    error = raised(service_request(colour="blue", performer=[{"reference": 5}]))
    assert set(expressions(error)) == {"ServiceRequest.colour", "ServiceRequest.performer[0].reference"}
    assert len(error.outcome()["issue"]) == 2  # type: ignore[arg-type]


def test_the_wrong_resource_type_for_the_endpoint_is_400_naming_resource_type() -> None:
    error = raised(service_request(), "Patient")
    assert isinstance(error, InvalidStructure)
    assert error.status == 400
    assert error.issues[0].code == "structure"
    assert expressions(error) == ["resourceType"]
    assert "'ServiceRequest'" in error.diagnostics
    assert "'Patient'" in error.diagnostics


@pytest.mark.parametrize(
    "resource_type",
    ["Referral", "patient", "", 5, None, ["Patient"], "OperationOutcomes"],
    ids=["unknown", "lower-case", "empty", "number", "null", "list", "near-miss"],
)
def test_an_unknown_or_malformed_resource_type_is_400_naming_resource_type(resource_type: object) -> None:
    error = raised({"resourceType": resource_type, "status": "active"})
    assert isinstance(error, InvalidStructure)
    assert error.status == 400
    assert expressions(error) == ["resourceType"]


def test_a_missing_resource_type_is_400_naming_resource_type() -> None:
    error = raised({"status": "active"}, "ServiceRequest")
    assert isinstance(error, InvalidStructure)
    assert error.status == 400
    assert expressions(error) == ["resourceType"]


def test_choice_elements_may_not_be_given_twice() -> None:
    error = raised({"resourceType": "Patient", "deceasedBoolean": True, "deceasedDateTime": "2020-01-01"})
    assert error.status == 400
    assert error.issues[0].code == "structure"


def test_validate_does_not_change_the_resource() -> None:
    resource = service_request(performer=[{"reference": "PractitionerRole/r1"}])
    before = repr(resource)
    validate(resource, "ServiceRequest")
    assert repr(resource) == before


@pytest.mark.parametrize(
    ("resource", "canonical"),
    [
        ({"resourceType": "Patient", "active": "false"}, {"resourceType": "Patient", "active": False}),
        ({"resourceType": "Patient", "active": 1}, {"resourceType": "Patient", "active": True}),
        (
            {"resourceType": "Patient", "multipleBirthInteger": "3"},
            {"resourceType": "Patient", "multipleBirthInteger": 3},
        ),
    ],
    ids=["boolean-as-string", "boolean-as-number", "integer-as-string"],
)
def test_leniently_read_primitives_come_back_as_proper_json(
    resource: dict[str, Any], canonical: dict[str, Any]
) -> None:
    assert validate(resource) == canonical


def test_validate_returns_the_resource_as_canonical_json() -> None:
    resource = service_request(performer=[{"reference": "PractitionerRole/r1"}])
    assert validate(resource, "ServiceRequest") == resource


def test_is_resource_type() -> None:
    assert is_resource_type("ServiceRequest")
    assert is_resource_type("Parameters")
    assert not is_resource_type("serviceRequest")
    assert not is_resource_type("Referral")
    assert not is_resource_type("")


def test_fhirpath_turns_a_location_into_fhirpath() -> None:
    assert fhirpath("ServiceRequest", ("performer", 0, "reference")) == "ServiceRequest.performer[0].reference"
    assert fhirpath("Patient", ("function-after[x]", "birthDate__ext")) == "Patient.birthDate"
    assert fhirpath("Patient", ()) == "Patient"
