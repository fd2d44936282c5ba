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
        "transition-plan",
        "transition-case-task",
    }


# ---------------------------------------------------------------- operations


def _gateway_operation_routes() -> set[str]:
    """The gateway's own Continuum-defined operations: `$validate` on every type (`Resource-validate`)."""
    from fastapi.routing import APIRoute

    from gateway.conformance_routes import router

    paths = {r.path for r in router.routes if isinstance(r, APIRoute) and r.include_in_schema}
    return {"Resource-validate"} if "/fhir/{resource_type}/$validate" in paths else set()


def test_every_operation_route_has_an_operation_definition_and_every_definition_a_route() -> None:
    routes = {r.id for service in operations.SERVICES for r in operations.routes(service)}
    published = {d["id"] for d in of_type("OperationDefinition")}
    assert routes | _gateway_operation_routes() == published


def test_the_capability_statements_point_at_exactly_the_published_definitions() -> None:
    from gateway.capability import gateway_resources
    from gateway.conformance_routes import capability_resources

    pointed = set().union(*(operations.capability_definitions(s) for s in operations.SERVICES))
    gateway = {op["definition"] for r in gateway_resources() + capability_resources() for op in r["operation"]}
    published = {d["url"] for d in of_type("OperationDefinition")}
    assert pointed | {d for d in gateway if d.startswith(BASE)} == published
    assert f"{BASE}/OperationDefinition/Resource-validate" in gateway


def test_every_operation_definition_says_where_it_runs() -> None:
    for service in operations.SERVICES:
        for route in operations.routes(service):
            definition = committed()[f"OperationDefinition-{route.id}.json"]
            assert definition["instance"] is route.instance, route
            assert definition["type"] is not route.instance, route
            assert definition["resource"] == [route.resource_type]


def test_the_parameter_table_describes_exactly_the_operations_routed() -> None:
    for service in operations.SERVICES:
        routed = {r.id for r in operations.routes(service) if r.code != "validate"} - {operations.MEASURE_EVALUATE}
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


def _parsed_by_the_services() -> dict[str, frozenset[str]]:
    """What the services accept where a binding is not one code enum: the constants they check against."""
    from services.careplans.domain import dialog
    from services.referrals.domain import codes as rf
    from services.referrals.service import clock, referrals
    from services.transitions.domain import codes as tr

    modules = scan.package_modules("services.referrals.service")
    outputs = scan.literal_arguments(modules, ("_output", "_output_code"), 1) | scan.concept_codes(modules, "CS_OUTPUT")
    # The transitions service writes these codes as literals in its service code (concept(CS_..., "code")).
    transitions = scan.package_modules("services.transitions.service")
    transition_outputs = (
        scan.value_items(transitions)
        | scan.literal_arguments(transitions, ("add_output", "outputs"), 1)
        | {f"{r.value}-feedback" for r in tr.Respondent}
    )
    return {
        "transition-status-reason": frozenset(scan.concept_codes(transitions, "CS_STATUS_REASON")),
        "transition-task-input": frozenset(scan.concept_codes(transitions, "CS_INPUT")),
        "transition-task-output": frozenset(transition_outputs),
        "contact-encounter-status": frozenset(clock._ENCOUNTER_STATUSES),
        "referral-intent": frozenset(referrals._INTENTS),
        "referral-task-status": frozenset(rf.TASK_STATUS.values()),
        "referral-task-status-reason": frozenset(rf.DeclineReason) | frozenset(rf.ClosureReason),
        "decline-reason-allowed": frozenset(rf.DeclineReason) - frozenset(rf.PROHIBITED_DECLINE_REASONS),
        "dialog-item": frozenset(i.link_id for i in dialog.ITEMS),
        "referral-task-output": frozenset(outputs),
    }


def test_every_binding_is_exactly_the_codes_a_service_parses() -> None:
    """A profile or operation bound to a value set names the codes the service accepts there, no more, no less:
    one of its code enums, or the constant it checks against."""
    enums: list[frozenset[str]] = []
    for module in CODE_MODULES:
        found = importlib.import_module(module)
        for value in vars(found).values():
            if isinstance(value, type) and issubclass(value, StrEnum) and value is not StrEnum:
                enums.append(frozenset(m.value for m in value))
    derived = _parsed_by_the_services()
    bound: set[str] = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("binding"), dict):
                bound.add(node["binding"]["valueSet"])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for item in node:
                collect(item)

    for resource in [*of_type("StructureDefinition"), *of_type("OperationDefinition")]:
        collect(resource)
    data = Conformance()
    for url in sorted(bound):
        codes = frozenset(code for _, code in data.expand(url))
        name = url.rsplit("/", 1)[1]
        if name in derived:
            assert codes == derived[name], name
        else:
            assert codes in enums, f"{name}: {sorted(codes)} is not the values of any code enum the services parse"
    assert set(derived) <= {u.rsplit("/", 1)[1] for u in bound}


def test_the_transition_plan_profile_names_what_the_transitions_service_writes() -> None:
    from services.transitions.domain import codes as tr

    plan = committed()["StructureDefinition-transition-plan.json"]
    urls = {p for e in plan["differential"]["element"] for t in e.get("type", []) for p in t.get("profile", [])}
    assert {tr.EXT_CASE, tr.EXT_SHARED, tr.EXT_AGREEMENT} <= urls
    agreement = [e for e in plan["differential"]["element"] if e["id"].startswith("CarePlan.extension:youngPerson")]
    parts = {e["fixedUri"] for e in agreement if "fixedUri" in e}
    assert parts == {"decision", "decidedBy", "recorded", "note"}  # planning.record_agreement writes these
    patterns = [e["patternCodeableConcept"] for e in plan["differential"]["element"] if "patternCodeableConcept" in e]
    assert patterns == [{"coding": [{"system": tr.CS_CAREPLAN_CATEGORY, "code": "transition-plan"}]}]
