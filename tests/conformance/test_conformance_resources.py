"""The conformance resources match the code (run `python -m conformance.build` after changing it).

The committed files are what the generator writes; every resource is valid R4; every operation
route has its OperationDefinition and every OperationDefinition a route, and the services'
CapabilityStatements point at exactly these; the parameter table names exactly the parameters the
service code reads; every code the services define is published; every invariant the profiles
state is checked by the offline validator.
"""

from __future__ import annotations

import importlib
import json
from enum import StrEnum
from typing import Any

import pytest

from conformance import BASE, RESOURCES, build, operations, scan
from conformance.operations import PARAMETERS, P
from gateway.validate import DEFAULTS, INVARIANTS, Conformance, is_resource_type
from services.kit.resources import validate as check_structure

Json = dict[str, Any]
CODE_MODULES = (
    "services.referrals.domain.codes",
    "services.referrals.service.referrals",
    "services.careplans.domain.codes",
    "services.transitions.domain.codes",
    "services.transitions.domain.phases",
    "gateway.tables",
    "gateway.directory",
    "reference.partnership",
)


def committed() -> dict[str, Json]:
    """Every committed conformance resource by file name."""
    return {p.name: json.loads(p.read_text()) for p in sorted(RESOURCES.glob("*.json"))}


def of_type(resource_type: str) -> list[Json]:
    """The committed resources of one type."""
    return [r for r in committed().values() if r["resourceType"] == resource_type]


def test_the_committed_resources_are_what_the_generator_writes() -> None:
    problems = build.differences(build.generate())
    assert problems == [], "conformance/resources is stale: run `python -m conformance.build`\n" + "\n".join(problems)


def test_the_check_mode_of_the_generator_agrees() -> None:
    assert build.main(["--check"]) == 0


@pytest.mark.parametrize("name", sorted(committed()))
def test_every_conformance_resource_is_valid_r4(name: str) -> None:
    resource = committed()[name]
    check_structure(resource, resource["resourceType"])
    assert name == f"{resource['resourceType']}-{resource['id']}.json"
    if "url" in resource:
        assert resource["url"] == f"{BASE}/{resource['resourceType']}/{resource['id']}"


def test_the_counts() -> None:
    counts = {kind: len(of_type(kind)) for kind in ("CodeSystem", "ValueSet", "OperationDefinition")}
    assert counts["CodeSystem"] >= 50
    assert counts["ValueSet"] == counts["CodeSystem"] + 9
    assert {p["id"] for p in of_type("StructureDefinition")} == {
        "referral-servicerequest",
        "referral-task",
        "dialog-questionnaireresponse",
        "coproduced-careplan",
        "nhs-patient",
        "caseload-episodeofcare",
        "contact-encounter",
    }


# ---------------------------------------------------------------- operations


def test_every_operation_route_has_an_operation_definition_and_every_definition_a_route() -> None:
    routes = {r.id for service in operations.SERVICES for r in operations.routes(service)}
    published = {d["id"] for d in of_type("OperationDefinition")}
    assert routes == published


def test_the_capability_statements_point_at_exactly_the_published_definitions() -> None:
    pointed = set().union(*(operations.capability_definitions(s) for s in operations.SERVICES))
    published = {d["url"] for d in of_type("OperationDefinition")}
    assert pointed == published


def test_every_operation_definition_says_where_it_runs() -> None:
    for service in operations.SERVICES:
        for route in operations.routes(service):
            definition = committed()[f"OperationDefinition-{route.id}.json"]
            assert definition["instance"] is route.instance, route
            assert definition["type"] is not route.instance, route
            assert definition["resource"] == [route.resource_type]


def test_the_parameter_table_describes_exactly_the_operations_routed() -> None:
    for service in operations.SERVICES:
        routed = {r.id for r in operations.routes(service) if r.code != "validate"}
        assert set(PARAMETERS[service]) == routed, service


def _names(params: tuple[P, ...]) -> set[str]:
    found = set()
    for p in params:
        if p.use == "in":
            found.add(p.name)
            found |= _names(p.parts)
    return found


@pytest.mark.parametrize("service", operations.SERVICES)
def test_the_parameter_table_names_exactly_what_the_service_code_reads(service: str) -> None:
    posted = {r.id for r in operations.routes(service) if r.method == "POST" and r.code != "validate"}
    table = set().union(*(_names(PARAMETERS[service][op]) for op in posted))
    read = scan.parameter_names(scan.package_modules(f"services.{service}.service"))
    assert table == read, {"in the table, never read": table - read, "read, not in the table": read - table}


# ---------------------------------------------------------------- codes


def _published_code_sets() -> list[set[str]]:
    sets = [{c["code"] for c in cs["concept"]} for cs in of_type("CodeSystem")]
    sets += [{c["code"] for i in vs["compose"]["include"] for c in i.get("concept", [])} for vs in of_type("ValueSet")]
    return sets


@pytest.mark.parametrize("module", CODE_MODULES)
def test_every_code_enum_is_published(module: str) -> None:
    found = importlib.import_module(module)
    sets = _published_code_sets()
    for name, value in vars(found).items():
        if isinstance(value, type) and issubclass(value, StrEnum) and value is not StrEnum:
            if value.__module__ != module or name in ("Verb", "Step"):  # operations, not codes
                continue
            codes = {m.value for m in value}
            assert any(codes <= s for s in sets), f"{module}.{name} is not published as a CodeSystem or ValueSet"


@pytest.mark.parametrize("module", CODE_MODULES)
def test_every_codesystem_url_the_code_uses_is_published(module: str) -> None:
    urls = {cs["url"] for cs in of_type("CodeSystem")}
    found = importlib.import_module(module)
    for name, value in vars(found).items():
        if name.startswith("CS_") and isinstance(value, str) and value.startswith(f"{BASE}/CodeSystem/"):
            assert value in urls, f"{module}.{name} = {value} is not published"


def test_prohibited_decline_reasons_are_flagged_and_left_out_of_decisions() -> None:
    from services.referrals.domain.codes import CS_DECLINE, PROHIBITED_DECLINE_REASONS

    data = Conformance()
    flagged = {
        c["code"]
        for c in data.by_url[CS_DECLINE]["concept"]
        if any(p["code"] == "prohibited" and p["valueBoolean"] for p in c.get("property", []))
    }
    assert flagged == {r.value for r in PROHIBITED_DECLINE_REASONS}
    allowed = {code for _, code in data.expand(f"{BASE}/ValueSet/decline-reason-allowed")}
    assert not allowed & flagged
    assert allowed | flagged == {c["code"] for c in data.by_url[CS_DECLINE]["concept"]}


def test_every_binding_names_a_published_valueset_and_every_target_a_resource_type() -> None:
    valuesets = {vs["url"] for vs in of_type("ValueSet")}
    bound: list[str] = []
    targets: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("binding"), dict):
                bound.append(node["binding"]["valueSet"])
            for key, value in node.items():
                if key == "targetProfile":
                    targets.extend(value)
                collect(value)
        elif isinstance(node, list):
            for item in node:
                collect(item)

    for resource in [*of_type("StructureDefinition"), *of_type("OperationDefinition")]:
        collect(resource)
    assert bound
    assert set(bound) <= valuesets
    assert targets
    assert all(is_resource_type(t.rsplit("/", 1)[1]) for t in targets)
    for vs in of_type("ValueSet"):
        assert Conformance().expand(vs["url"]), vs["id"]


# ---------------------------------------------------------------- profiles and the offline validator


def test_every_invariant_of_the_profiles_is_checked_offline() -> None:
    keys = {
        c["key"]
        for sd in of_type("StructureDefinition")
        for e in sd["differential"]["element"]
        for c in e.get("constraint", [])
    }
    assert keys == set(INVARIANTS)


def test_every_profile_has_a_default_use() -> None:
    assert set(DEFAULTS) == {sd["id"] for sd in of_type("StructureDefinition")}
    for id_, (kind, _) in DEFAULTS.items():
        assert committed()[f"StructureDefinition-{id_}.json"]["type"] == kind


def test_the_dialog_profile_uses_the_questionnaire_the_service_publishes() -> None:
    from services.careplans.domain.dialog import questionnaire

    assert committed()["Questionnaire-dialog.json"] == questionnaire()
