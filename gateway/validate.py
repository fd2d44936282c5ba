"""Validate Continuum payloads offline: `python -m gateway.validate FILE_OR_FOLDER...`.

The same checks are a library function, `validate(resource, profile=..., operation=...)`, which
returns an OperationOutcome (so the gateway's `$validate` can use it). What is checked:

1. structure and cardinality against the FHIR R4 models (`services.kit.resources.validate`, the
   check every service runs first; a structural error stops there, as it does at the API);
2. every coding whose system is a Continuum CodeSystem uses one of its codes;
3. the profiles in `conformance/resources/StructureDefinition-*.json` (the one named with `profile`;
   else those claimed in `meta.profile` and the default for the resource, `DEFAULTS` below, which
   the services apply whatever a resource claims): cardinality, reference targets,
   fixed values and patterns, required bindings to the generated ValueSets, and the profiles'
   invariants (the NHS number's Modulus 11 check digit among them);
4. a `Parameters` body against the OperationDefinition of its operation (`operation`, or the file
   name: `Task-decline.json`, `Task-decline.missing-rationale.json`): required and repeated
   parameters, value types, bindings and reference targets, nested parts and resources;
5. every `Reference.reference` is well-formed (`Type/id`, an absolute URL, `urn:uuid:`, `#contained`),
   and the directory's teams and workers exist;
6. a BaRS message Bundle (`Bundle.type = message`) with the gateway's own `$process-message` checks.

Each issue has a severity, a FHIR issue type and a FHIRPath expression. What needs the stored
records (does Patient/123 exist, does the requester's team hold an episode) is checked only by
the services' own `POST /fhir/{type}/$validate`.

Exit status: 1 when any file has an error (or cannot be read), 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from conformance import BASE, FHIR_SCHEMA, RESOURCES
from gateway.directory import resources as directory_resources
from gateway.identity import NHS_NUMBER, valid_nhs_number
from services.kit.errors import FhirError
from services.kit.resources import validate as check_structure

Json = dict[str, Any]

SD = f"{BASE}/StructureDefinition"
OD = f"{BASE}/OperationDefinition"
CS = f"{BASE}/CodeSystem"
CORE = "http://hl7.org/fhir/StructureDefinition/"
EXT_ALSO = f"{SD}/operation-parameter-also-accepts"
DIALOG_QUESTIONNAIRE = f"{BASE}/Questionnaire/dialog"
FEEDBACK_QUESTIONNAIRE = f"{BASE}/Questionnaire/transition-feedback"
NOT_ANSWERED = f"{SD}/dialog-item-not-answered"
AGREEMENT = f"{SD}/coproduction-agreement"
CAPACITY = f"{SD}/capacity-assessment"
CS_STATE = f"{CS}/referral-state"
CS_TASK = f"{CS}/task-code"
CS_MODE = f"{CS}/contact-mode"
CS_CAREPLAN_CATEGORY = f"{CS}/careplan-category"
TRANSITION_AGREEMENT = f"{SD}/transition-plan-young-person-agreement"
TRANSITION_SHARED = f"{SD}/transition-plan-shared-with-young-person"

_ID = r"[A-Za-z0-9\-\.]{1,64}"
_RELATIVE = re.compile(rf"^(?P<type>[A-Z][A-Za-z]+)/(?P<id>{_ID})(/_history/{_ID})?$")
_ABSOLUTE = re.compile(rf"^https?://[^\s/]+(/[^\s]*)?/(?P<type>[A-Z][A-Za-z]+)/(?P<id>{_ID})(/_history/{_ID})?$")
_URN = re.compile(
    r"^(urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|urn:oid:[0-2](\.(0|[1-9][0-9]*))+)$"
)
# Directory types the services resolve (a missing one is refused); others are only warned about.
_RESOLVED = frozenset({"HealthcareService", "PractitionerRole"})
_DIRECTORY_TYPES = frozenset({"HealthcareService", "PractitionerRole", "Practitioner", "Organization", "Location"})


# ---------------------------------------------------------------- issues


@dataclass(frozen=True)
class Finding:
    """One OperationOutcome issue."""

    severity: str
    code: str
    diagnostics: str
    expression: str | None = None

    def to_json(self) -> Json:
        """The issue as FHIR JSON."""
        body: Json = {"severity": self.severity, "code": self.code, "diagnostics": self.diagnostics}
        if self.expression:
            body["expression"] = [self.expression]
        return body


def error(code: str, diagnostics: str, expression: str | None) -> Finding:
    """An error issue."""
    return Finding("error", code, diagnostics, expression)


class Findings:
    """Issues in the order they were found, without repeats of the same type at the same place."""

    def __init__(self) -> None:
        self.items: list[Finding] = []
        self._seen: set[tuple[str, str, str]] = set()

    def add(self, finding: Finding) -> None:
        """Keep a finding unless one of its type at its place is already kept."""
        key = (finding.severity, finding.code, finding.expression or finding.diagnostics)
        if key not in self._seen:
            self._seen.add(key)
            self.items.append(finding)

    def extend(self, findings: Iterable[Finding]) -> None:
        """Keep several findings."""
        for finding in findings:
            self.add(finding)

    @property
    def errors(self) -> list[Finding]:
        """The errors (and fatal issues)."""
        return [f for f in self.items if f.severity in ("error", "fatal")]


def _relocate(expression: str, resource_type: str, prefix: str) -> str:
    """A resource's own path (`ServiceRequest.subject`) at its place in a bigger one."""
    if prefix == resource_type:
        return expression
    if expression == resource_type or expression.startswith((f"{resource_type}.", f"{resource_type}[")):
        return prefix + expression[len(resource_type) :]
    return expression


# ---------------------------------------------------------------- the conformance resources


class Conformance:
    """The generated conformance resources, indexed by canonical URL."""

    def __init__(self, folder: Path = RESOURCES) -> None:
        self.by_url: dict[str, Json] = {}
        for path in sorted(folder.glob("*.json")):
            resource = json.loads(path.read_text())
            if isinstance(resource.get("url"), str):
                self.by_url[resource["url"]] = resource
        self._expansions: dict[str, dict[tuple[str, str], str | None]] = {}

    def of_type(self, resource_type: str) -> list[Json]:
        """Every resource of one type."""
        return [r for r in self.by_url.values() if r["resourceType"] == resource_type]

    def profile(self, url: str) -> Json | None:
        """A StructureDefinition by URL."""
        found = self.by_url.get(url)
        return found if found and found["resourceType"] == "StructureDefinition" else None

    def operation(self, name: str) -> Json | None:
        """An OperationDefinition by id (`Task-decline`), `Type/$code`, or canonical URL."""
        text = name.strip()
        found = re.fullmatch(r"(?P<type>[A-Z][A-Za-z]+)/\$(?P<code>[a-z-]+)", text)
        if found:
            text = f"{found['type']}-{found['code']}"
        if not text.startswith("http"):
            text = f"{OD}/{text}"
        resource = self.by_url.get(text)
        return resource if resource and resource["resourceType"] == "OperationDefinition" else None

    def concept(self, system: str, code: str) -> Json | None:
        """A Continuum CodeSystem's concept."""
        cs = self.by_url.get(system)
        if cs is None or cs["resourceType"] != "CodeSystem":
            return None
        return next((c for c in cs.get("concept", []) if c.get("code") == code), None)

    def is_local_system(self, system: str) -> bool:
        """Whether a system is one of Continuum's CodeSystems."""
        found = self.by_url.get(system)
        return found is not None and found["resourceType"] == "CodeSystem"

    def _codes(self, part: Json) -> dict[tuple[str, str], str | None]:
        system = part["system"]
        if part.get("concept"):
            codes = {(system, c["code"]): c.get("display") for c in part["concept"]}
        else:
            cs = self.by_url.get(system) or {}
            codes = {(system, c["code"]): c.get("display") for c in cs.get("concept", [])}
        for rule in part.get("filter", []):
            wanted = rule["value"]
            codes = {
                key: display
                for key, display in codes.items()
                if _property(self.concept(system, key[1]) or {}, rule["property"]) == wanted
            }
        return codes

    def expand(self, url: str) -> dict[tuple[str, str], str | None]:
        """A ValueSet's codes as (system, code) → display."""
        if url not in self._expansions:
            vs = self.by_url.get(url)
            if vs is None or vs["resourceType"] != "ValueSet":
                raise KeyError(url)
            codes: dict[tuple[str, str], str | None] = {}
            for part in vs["compose"].get("include", []):
                codes.update(self._codes(part))
            for part in vs["compose"].get("exclude", []):
                for key in self._codes(part):
                    codes.pop(key, None)
            self._expansions[url] = codes
        return self._expansions[url]

    def systems(self, url: str) -> set[str]:
        """The systems a ValueSet draws on."""
        vs = self.by_url[url]
        return {p["system"] for p in vs["compose"].get("include", [])}

    def questionnaire(self, canonical: str) -> Json | None:
        """The Questionnaire a `questionnaire` canonical names (`url` or `url|version`)."""
        url, _, version = canonical.partition("|")
        found = self.by_url.get(url)
        if found is None or found["resourceType"] != "Questionnaire":
            return None
        return found if version in ("", found.get("version")) else None


def _property(concept: Json, code: str) -> str | None:
    for prop in concept.get("property", []):
        if prop.get("code") == code:
            value = next((v for k, v in prop.items() if k.startswith("value")), None)
            return json.dumps(value) if isinstance(value, bool) else str(value)
    return None


@cache
def conformance() -> Conformance:
    """The committed conformance resources (loaded once)."""
    return Conformance()


@cache
def resource_types() -> frozenset[str]:
    """The R4 resource types (from the official FHIR R4 JSON schema's discriminator)."""
    schema = json.loads(FHIR_SCHEMA.read_text())
    return frozenset(schema["discriminator"]["mapping"])


def is_resource_type(name: str) -> bool:
    """Whether `name` is an R4 resource type (not a data type such as Reference)."""
    return name in resource_types()


@cache
def _directory() -> frozenset[str]:
    return frozenset(f"{r['resourceType']}/{r['id']}" for r in directory_resources())


# ---------------------------------------------------------------- walking FHIR JSON with FHIRPath locations


def _short(url: object) -> str:
    text = str(url)
    return text.rstrip("/").rsplit("/", 1)[-1]


def child_paths(path: str, key: str, items: list[Any]) -> list[str]:
    """The FHIRPath of each item of a repeating element.

    Extensions are named by their url (`extension('referral-channel')`, as the services name them),
    Parameters by name (`parameter.where(name='reason')`); other items by position (`category[0]`).
    """
    found = []
    for index, item in enumerate(items):
        if key in ("extension", "modifierExtension") and isinstance(item, dict) and "url" in item:
            same = [i for i in items if isinstance(i, dict) and i.get("url") == item["url"]]
            suffix = f"[{same.index(item)}]" if len(same) > 1 else ""
            found.append(f"{path}.{key}('{_short(item['url'])}'){suffix}")
        elif key in ("parameter", "part") and isinstance(item, dict) and isinstance(item.get("name"), str):
            same = [i for i in items if isinstance(i, dict) and i.get("name") == item["name"]]
            indexed = "part" in item or len(same) > 1
            suffix = f"[{[id(i) for i in same].index(id(item))}]" if indexed else ""
            found.append(f"{path}.{key}.where(name='{item['name']}'){suffix}")
        else:
            found.append(f"{path}.{key}[{index}]")
    return found


def walk(value: Any, path: str) -> Iterator[tuple[Json, str]]:
    """Every object in a resource with its FHIRPath (not descending into contained or nested resources)."""
    if not isinstance(value, dict):
        return
    yield value, path
    for key, child in value.items():
        if isinstance(child, list):
            for item, item_path in zip(child, child_paths(path, key, child), strict=True):
                if not (isinstance(item, dict) and "resourceType" in item):
                    yield from walk(item, item_path)
        elif isinstance(child, dict) and "resourceType" not in child:
            yield from walk(child, f"{path}.{key}")


def reference_type(reference: str) -> str | None:
    """The resource type a literal reference names (None for urn:uuid and contained references)."""
    found = _RELATIVE.match(reference) or _ABSOLUTE.match(reference)
    return found["type"] if found else None


# ---------------------------------------------------------------- generic checks


def check_codings(resource: Json, prefix: str, data: Conformance) -> Iterator[Finding]:
    """Every coding from a Continuum CodeSystem uses one of its codes."""
    for node, path in walk(resource, prefix):
        system, code = node.get("system"), node.get("code")
        if not (isinstance(system, str) and isinstance(code, str) and data.is_local_system(system)):
            continue
        if data.concept(system, code) is None:
            codes = ", ".join(c["code"] for c in data.by_url[system].get("concept", []))
            yield error("code-invalid", f"{code!r} is not a code of {system}; expected one of: {codes}", f"{path}.code")


def check_references(resource: Json, prefix: str) -> Iterator[Finding]:
    """Every reference is well-formed; the directory's teams and workers exist."""
    contained = {f"#{c.get('id')}" for c in resource.get("contained") or [] if isinstance(c, dict)}
    for node, path in walk(resource, prefix):
        reference = node.get("reference")
        if not isinstance(reference, str) or "system" in node:
            continue
        where = f"{path}.reference"
        if reference.startswith("#"):
            if reference != "#" and reference not in contained:
                yield error("value", f"{reference} names no contained resource", where)
            continue
        if _URN.match(reference):
            continue
        found = _RELATIVE.match(reference) or _ABSOLUTE.match(reference)
        if found is None or not is_resource_type(found["type"]):
            yield error(
                "value",
                f"{reference!r} is not a reference: use Type/id (Patient/123), an absolute URL, urn:uuid: or #id",
                where,
            )
            continue
        if _RELATIVE.match(reference) and found["type"] in _DIRECTORY_TYPES and reference not in _directory():
            if found["type"] in _RESOLVED:
                yield error("business-rule", f"{reference} is not in the partnership directory", path)
            else:
                yield Finding("warning", "not-found", f"{reference} is not in the partnership directory", path)


# ---------------------------------------------------------------- bindings


def _codes_of(value: Any) -> list[tuple[str | None, str, str]]:
    """The (system, code, path suffix) of a code, Coding or CodeableConcept."""
    if isinstance(value, str):
        return [(None, value, "")]
    if not isinstance(value, dict):
        return []
    if "coding" in value:
        return [
            (c.get("system"), c["code"], f".coding[{i}].code")
            for i, c in enumerate(value.get("coding") or [])
            if isinstance(c, dict) and isinstance(c.get("code"), str)
        ]
    if isinstance(value.get("code"), str):
        return [(value.get("system"), value["code"], ".code")]
    return []


def check_binding(value: Any, path: str, valueset: str, data: Conformance, *, name: str | None = None) -> list[Finding]:
    """A required binding: the code is in the ValueSet (a prohibited code is a business-rule refusal)."""
    try:
        codes = data.expand(valueset)
    except KeyError:
        return [Finding("warning", "not-supported", f"The ValueSet {valueset} is not known offline", path)]
    systems = data.systems(valueset)
    found = _codes_of(value)
    label = name or path
    if isinstance(value, dict) and "coding" in value:
        found = [f for f in found if f[0] in systems]
        if not found:
            return [
                error(
                    "code-invalid",
                    f"{label} has no coding from {', '.join(sorted(systems))} (ValueSet {_short(valueset)})",
                    path,
                )
            ]
    findings = []
    for system, code, suffix in found:
        where = path if name else path + suffix
        if system is None and any(code == c for _, c in codes):
            continue
        if system is not None and (system, code) in codes:
            continue
        concept = next((data.concept(s, code) for s in ([system] if system else systems) if s), None)
        if concept is not None:
            why = concept.get("definition") or f"it is not in the ValueSet {_short(valueset)}"
            findings.append(error("business-rule", f"{code!r} cannot be used at {label}: {why}", where))
            continue
        valid = ", ".join(c for _, c in codes)
        findings.append(
            error("code-invalid", f"{code!r} is not a known code at {label}; expected one of: {valid}", where)
        )
    return findings


# ---------------------------------------------------------------- profiles


def _pattern_matches(pattern: Any, value: Any) -> bool:
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(_pattern_matches(v, value.get(k)) for k, v in pattern.items())
    if isinstance(pattern, list):
        return isinstance(value, list) and all(any(_pattern_matches(p, v) for v in value) for p in pattern)
    return bool(pattern == value)


def _typed(element: Json, prefix: str) -> Any:
    return next((v for k, v in element.items() if k.startswith(prefix)), None)


class ProfileCheck:
    """One profile applied to one resource."""

    def __init__(self, profile: Json, data: Conformance) -> None:
        self.profile = profile
        self.data = data
        self.elements: list[Json] = profile["differential"]["element"]
        self.by_id = {e["id"]: e for e in self.elements}
        self.title = profile.get("title") or profile["id"]

    def _members(self, parent: Json, segment: str, path: str) -> list[tuple[Any, str]]:
        """The values a segment of an element id selects under one parent, with their paths."""
        name = segment.split(":")[0]
        if name.endswith("[x]"):
            stem = name[:-3]
            return [(v, f"{path}.{k}") for k, v in parent.items() if k.startswith(stem) and k != stem]
        child = parent.get(name)
        if child is None:
            return []
        if isinstance(child, list):
            items = list(zip(child, child_paths(path, name, child), strict=True))
        else:
            items = [(child, f"{path}.{name}")]
        return items

    def _in_slice(self, element: Json, value: Any) -> bool:
        pattern = _typed(element, "pattern")
        if pattern is not None:
            return _pattern_matches(pattern, value)
        profiles = [p for t in element.get("type", []) for p in t.get("profile", [])]
        if profiles:
            return isinstance(value, dict) and value.get("url") in profiles
        fixed_url = self.by_id.get(f"{element['id']}.url", {}).get("fixedUri")
        if fixed_url:
            return isinstance(value, dict) and value.get("url") == fixed_url
        return True

    def resolve(self, resource: Json, id_: str, root: str) -> list[tuple[Any, str]]:
        """Every value an element id selects in the resource."""
        segments = id_.split(".")
        nodes: list[tuple[Any, str]] = [(resource, root)]
        for depth, segment in enumerate(segments[1:], start=2):
            nodes = self._select(nodes, segment, ".".join(segments[:depth]))
        return nodes

    def _select(self, nodes: list[tuple[Any, str]], segment: str, id_: str) -> list[tuple[Any, str]]:
        found: list[tuple[Any, str]] = []
        for node, path in nodes:
            if isinstance(node, dict):
                found += self._filtered(node, segment, path, id_)
        return found

    def _filtered(self, node: Json, segment: str, path: str, id_: str) -> list[tuple[Any, str]]:
        members = self._members(node, segment, path)
        if ":" in segment and id_ in self.by_id:
            members = [(v, p) for v, p in members if self._in_slice(self.by_id[id_], v)]
        return members

    def check(self, resource: Json, root: str) -> Iterator[Finding]:
        """Every problem the profile finds."""
        for element in self.elements:
            id_ = element["id"]
            if "." not in id_:
                yield from self._constraints(element, [(resource, root)], resource)
                continue
            parent_id, _, segment = id_.rpartition(".")
            for parent, parent_path in self.resolve(resource, parent_id, root):
                if not isinstance(parent, dict):
                    continue
                values = self._filtered(parent, segment, parent_path, id_)
                yield from self._cardinality(element, segment, parent_path, values)
                for value, path in values:
                    yield from self._value(element, value, path)
                yield from self._constraints(element, values, resource)

    def _cardinality(self, element: Json, segment: str, parent_path: str, values: list[Any]) -> Iterator[Finding]:
        name = segment.split(":")[0]
        where = f"{parent_path}.{name}"
        urls = [p for t in element.get("type", []) for p in t.get("profile", [])]
        urls += [self.by_id.get(f"{element['id']}.url", {}).get("fixedUri") or ""]
        if name == "extension" and urls[0]:
            where = f"{parent_path}.extension('{_short(urls[0])}')"
        if element.get("min", 0) > len(values):
            what = f"{where} is required" if not values else f"{where} needs {element['min']} (found {len(values)})"
            what += f" (slice {element['sliceName']})" if "sliceName" in element else ""
            yield error("required", f"{what} by the {self.title} profile", where)
        maximum = element.get("max", "*")
        if maximum != "*" and len(values) > int(maximum):
            yield error(
                "business-rule", f"{where} may occur at most {maximum} time(s) in the {self.title} profile", where
            )

    def _value(self, element: Json, value: Any, path: str) -> Iterator[Finding]:
        fixed = _typed(element, "fixed")
        if fixed is not None and value != fixed:
            yield error("business-rule", f"{path} must be {fixed!r} ({self.title})", path)
        pattern = _typed(element, "pattern")
        if pattern is not None and "sliceName" not in element and not _pattern_matches(pattern, value):
            yield error("business-rule", f"{path} must match {json.dumps(pattern)} ({self.title})", path)
        targets = [t.removeprefix(CORE) for ty in element.get("type", []) for t in ty.get("targetProfile", [])]
        if targets and isinstance(value, dict) and isinstance(value.get("reference"), str):
            kind = reference_type(value["reference"])
            if kind is not None and kind not in targets:
                yield error(
                    "business-rule",
                    f"{path} references a {' or '.join(targets)}, not {value['reference']} ({self.title})",
                    path,
                )
        binding = element.get("binding")
        if binding and binding.get("strength") == "required" and not isinstance(value, bool):
            yield from check_binding(value, path, binding["valueSet"], self.data)

    def _constraints(self, element: Json, values: list[tuple[Any, str]], resource: Json) -> Iterator[Finding]:
        for constraint in element.get("constraint", []):
            rule = INVARIANTS.get(constraint["key"])
            if rule is None:
                yield Finding(
                    "warning", "not-supported", f"The invariant {constraint['key']} is not checked offline", None
                )
                continue
            for value, path in values:
                if isinstance(value, dict):
                    yield from rule(value, path, self.data)


# ---------------------------------------------------------------- the profiles' invariants


def _sr_reason(node: Json, path: str, data: Conformance) -> Iterator[Finding]:
    if not (node.get("reasonCode") or node.get("reasonReference")):
        yield error("required", "A referral gives its reason (code or text)", f"{path}.reasonCode")


def _task_status(node: Json, path: str, data: Conformance) -> Iterator[Finding]:
    for coding in (node.get("businessStatus") or {}).get("coding") or []:
        if coding.get("system") != CS_STATE:
            continue
        concept = data.concept(CS_STATE, str(coding.get("code")))
        expected = _property(concept, "task-status") if concept else None
        if expected is not None and node.get("status") != expected:
            yield error(
                "business-rule",
                f"A referral that is {coding.get('code')} has Task.status {expected}, not {node.get('status')!r}",
                f"{path}.status",
            )


def _contact_finished(node: Json, path: str, data: Conformance) -> Iterator[Finding]:
    if node.get("status") != "finished":
        return
    modes = [c for t in node.get("type") or [] for c in t.get("coding") or [] if c.get("system") == CS_MODE]
    if not modes:
        yield error(
            "business-rule",
            f"A finished contact says how the person was seen (a type coding from {CS_MODE})",
            f"{path}.type",
        )
    if not (node.get("period") or {}).get("start"):
        yield error("business-rule", "A finished contact has period.start", f"{path}.period.start")


def _nhs_number(node: Json, path: str, data: Conformance) -> Iterator[Finding]:
    value = node.get("value")
    if node.get("system") == NHS_NUMBER and isinstance(value, str) and not valid_nhs_number(value):
        yield error(
            "value",
            f"{value!r} is not a valid NHS number (10 digits with a Modulus 11 check digit)",
            f"{path}.value",
        )


def _coproduced(node: Json, path: str, data: Conformance) -> Iterator[Finding]:
    if node.get("status") != "active":
        return
    urls = {e.get("url") for e in node.get("extension") or []}
    if AGREEMENT not in urls and CAPACITY not in urls:
        yield error(
            "required",
            "A plan becomes active only with the person's agreement recorded (when, how) or a capacity "
            "assessment with the best-interests basis and the people consulted (FR-37)",
            f"{path}.extension('{_short(AGREEMENT)}')",
        )
    if AGREEMENT in urls:
        subject = (node.get("subject") or {}).get("reference")
        if subject not in {c.get("reference") for c in node.get("contributor") or []}:
            yield error("required", "The person is a contributor to their plan (FR-37a)", f"{path}.contributor")


def _dialog_questionnaire(node: Json, path: str, data: Conformance) -> Iterator[Finding]:
    canonical = node.get("questionnaire")
    if not isinstance(canonical, str) or data.questionnaire(canonical) is None:
        yield error(
            "business-rule",
            f"A DIALOG response names its Questionnaire: {DIALOG_QUESTIONNAIRE} (optionally with |version)",
            f"{path}.questionnaire",
        )


def _item_path(root: str, *link_ids: str) -> str:
    return root + "".join(f".item.where(linkId='{link_id}')" for link_id in link_ids)


class _DialogItems:
    """A DIALOG response against its Questionnaire: groups, items, one rating or a reason, more help."""

    def __init__(self, questionnaire: Json, root: str) -> None:
        self.questionnaire = questionnaire
        self.root = root
        self.findings: list[Finding] = []

    def _children(self, element: Json, expected: list[str], *path: str) -> dict[str, Json]:
        found: dict[str, Json] = {}
        for child in element.get("item") or []:
            link_id = str(child.get("linkId"))
            where = _item_path(self.root, *path, link_id)
            if link_id not in expected:
                self.findings.append(error("structure", f"{link_id!r} is not an item here in the DIALOG", where))
            elif link_id in found:
                self.findings.append(error("duplicate", f"{link_id!r} appears more than once", where))
            else:
                found[link_id] = child
        return found

    def _one_answer(self, element: Json, where: str) -> Json | None:
        answers = element.get("answer") or []
        if len(answers) > 1:
            self.findings.append(error("value", "An item takes one answer", f"{where}.answer"))
            return None
        return answers[0] if answers else None

    def _rating(self, question: Json, answer: Json, link_id: str, where: str) -> bool:
        options = [o.get("valueCoding") or {} for o in question.get("answerOption") or []]
        systems = {o.get("system") for o in options}
        coding = answer.get("valueCoding")
        if not isinstance(coding, dict):
            self.findings.append(
                error(
                    "value",
                    f"{link_id}: rate with a valueCoding from {', '.join(map(str, systems))}",
                    f"{where}.answer[0]",
                )
            )
            return False
        if coding.get("system") not in systems:
            self.findings.append(
                error(
                    "code-invalid",
                    f"{link_id}: the rating's system must be {', '.join(map(str, systems))}",
                    f"{where}.answer[0].valueCoding.system",
                )
            )
            return False
        code = coding.get("code")
        if not isinstance(code, str) or not (code.isascii() and code.lstrip("-").isdigit()):
            self.findings.append(
                error("value", f"{link_id}: the rating {code!r} is not an integer", f"{where}.answer[0].valueCoding")
            )
            return False
        if code not in {o.get("code") for o in options}:
            low, high = options[0].get("code"), options[-1].get("code")
            self.findings.append(
                error(
                    "value",
                    f"{link_id}: the rating {code} is outside {low} to {high}",
                    f"{where}.answer[0].valueCoding",
                )
            )
            return False
        return True

    def _item(self, element: Json, definition: Json, group: str, data: Conformance) -> None:
        link_id = definition["linkId"]
        questions = {q["linkId"]: q for q in definition.get("item") or []}
        rating_id = next(k for k, q in questions.items() if q.get("type") == "choice")
        help_id = next(k for k, q in questions.items() if q.get("type") == "boolean")
        where = _item_path(self.root, group, link_id)
        children = self._children(element, list(questions), group, link_id)
        reasons = [e for e in element.get("extension") or [] if e.get("url") == NOT_ANSWERED]
        rated = children.get(rating_id)
        rating_where = _item_path(self.root, group, link_id, rating_id)
        answer = self._one_answer(rated, rating_where) if rated else None
        if answer is not None:
            self._rating(questions[rating_id], answer, link_id, rating_where)
            if reasons:
                self.findings.append(error("invariant", f"{link_id} is rated and also marked not answered", where))
        elif not reasons:
            self.findings.append(
                error(
                    "required",
                    f"{link_id} has no rating; rate it or say why not ({NOT_ANSWERED})",
                    rating_where,
                )
            )
        helped = children.get(help_id)
        help_where = _item_path(self.root, group, link_id, help_id)
        help_answer = self._one_answer(helped, help_where) if helped else None
        if help_answer is not None and not isinstance(help_answer.get("valueBoolean"), bool):
            self.findings.append(error("value", f"{link_id}: more help is a valueBoolean", f"{help_where}.answer[0]"))

    def check(self, response: Json, data: Conformance) -> list[Finding]:
        groups_def = {g["linkId"]: g for g in self.questionnaire.get("item") or []}
        groups = self._children(response, list(groups_def))
        for group_id, group_def in groups_def.items():
            group = groups.get(group_id)
            if group is None:
                self.findings.append(
                    error(
                        "required",
                        f"The {str(group_def.get('text', group_id)).lower()} group is missing",
                        _item_path(self.root, group_id),
                    )
                )
                continue
            items_def = {i["linkId"]: i for i in group_def.get("item") or []}
            members = self._children(group, list(items_def), group_id)
            for item_id, item_def in items_def.items():
                if item_id not in members:
                    self.findings.append(
                        error("required", f"The item {item_id!r} is missing", _item_path(self.root, group_id, item_id))
                    )
                    continue
                self._item(members[item_id], item_def, group_id, data)
        return self.findings


def _dialog_items(node: Json, path: str, data: Conformance) -> Iterator[Finding]:
    questionnaire = data.questionnaire(str(node.get("questionnaire"))) or data.by_url.get(DIALOG_QUESTIONNAIRE)
    if questionnaire is not None:
        yield from _DialogItems(questionnaire, path).check(node, data)


Invariant = Callable[[Json, str, Conformance], Iterator[Finding]]


def _transition_plan_agreed(node: Json, path: str, data: Conformance) -> Iterator[Finding]:
    if node.get("status") != "active":
        return
    urls = {e.get("url"): e for e in node.get("extension") or [] if isinstance(e, dict)}
    agreement = urls.get(TRANSITION_AGREEMENT) or {}
    decisions = [p.get("valueCode") for p in agreement.get("extension") or [] if p.get("url") == "decision"]
    if decisions != ["agreed"]:
        yield error(
            "business-rule",
            "A transition plan is active only when the young person has agreed to it (FR-56)",
            f"{path}.extension('{_short(TRANSITION_AGREEMENT)}')",
        )
    if TRANSITION_SHARED not in urls:
        yield error(
            "business-rule",
            "A transition plan is agreed only after it was shared with the young person (FR-56)",
            f"{path}.extension('{_short(TRANSITION_SHARED)}')",
        )


INVARIANTS: dict[str, Invariant] = {
    "cont-transition-plan-agreed": _transition_plan_agreed,
    "cont-sr-reason": _sr_reason,
    "cont-task-status": _task_status,
    "cont-contact-finished": _contact_finished,
    "cont-nhs-number": _nhs_number,
    "cont-careplan-coproduced": _coproduced,
    "cont-dialog-questionnaire": _dialog_questionnaire,
    "cont-dialog-items": _dialog_items,
}


# ---------------------------------------------------------------- which profiles apply


def _codes_in(concepts: Any, system: str) -> list[str]:
    items = concepts if isinstance(concepts, list) else [concepts] if isinstance(concepts, dict) else []
    return [c.get("code") for i in items for c in (i.get("coding") or []) if c.get("system") == system]


# The profile a resource gets when it claims none: every referral is a referral ServiceRequest,
# a Task with the referral code a referral Task, every care-plans CarePlan co-produced ...
DEFAULTS: dict[str, tuple[str, Callable[[Json], bool]]] = {
    "referral-servicerequest": ("ServiceRequest", lambda r: True),
    "referral-task": ("Task", lambda r: "referral" in _codes_in(r.get("code"), CS_TASK)),
    "dialog-questionnaireresponse": (
        "QuestionnaireResponse",
        lambda r: r.get("questionnaire") != FEEDBACK_QUESTIONNAIRE,
    ),
    "coproduced-careplan": (
        "CarePlan",
        lambda r: "transition-plan" not in _codes_in(r.get("category"), CS_CAREPLAN_CATEGORY),
    ),
    "nhs-patient": ("Patient", lambda r: any(i.get("system") == NHS_NUMBER for i in r.get("identifier") or [])),
    "caseload-episodeofcare": ("EpisodeOfCare", lambda r: True),
    "contact-encounter": ("Encounter", lambda r: True),
    "transition-case-task": ("Task", lambda r: "transition-case" in _codes_in(r.get("code"), CS_TASK)),
    "transition-plan": (
        "CarePlan",
        lambda r: "transition-plan" in _codes_in(r.get("category"), CS_CAREPLAN_CATEGORY),
    ),
}


def profiles_for(
    resource: Json, data: Conformance, wanted: str | None = None, *, defaults: bool = True
) -> tuple[list[Json], list[Finding]]:
    """The profiles to apply: the one asked for; else those claimed in meta.profile and the default
    (the services apply their rules whatever a resource claims)."""
    notes: list[Finding] = []
    claimed = [wanted] if wanted else list((resource.get("meta") or {}).get("profile") or [])
    found: dict[str, Json] = {}
    for url in claimed:
        profile = data.profile(url)
        if profile is None:
            notes.append(Finding("information", "informational", f"The profile {url} is not checked offline", None))
        elif profile["type"] != resource.get("resourceType"):
            notes.append(
                error("invalid", f"{url} profiles {profile['type']}, not {resource.get('resourceType')}", None)
            )
        else:
            found[url] = profile
    if defaults and not wanted:
        for id_, (kind, applies) in DEFAULTS.items():
            profile = data.profile(f"{SD}/{id_}")
            if profile is not None and resource.get("resourceType") == kind and applies(resource):
                found.setdefault(profile["url"], profile)
    return list(found.values()), notes


# ---------------------------------------------------------------- operation parameters


def _value_keys(parameter: Json) -> dict[str, str]:
    """value[x] key → type for a parameter definition (its type and the ones the service also reads)."""
    types = [parameter["type"]] if parameter.get("type") else []
    types += [e["valueCode"] for e in parameter.get("extension", []) if e.get("url") == EXT_ALSO]
    keys = {}
    for kind in types:
        if kind == "Resource" or is_resource_type(kind):
            keys["resource"] = kind
        else:
            keys[f"value{kind[:1].upper()}{kind[1:]}"] = kind
            if kind == "string":
                keys["valueMarkdown"] = "markdown"
    return keys


class OperationCheck:
    """A Parameters body against an OperationDefinition."""

    def __init__(self, definition: Json, data: Conformance, validator: Validator) -> None:
        self.definition = definition
        self.data = data
        self.validator = validator
        self.name = f"${definition['code']}"

    def check(self, body: Json) -> Iterator[Finding]:
        """Every problem with the parameters."""
        inputs = [p for p in self.definition.get("parameter", []) if p.get("use") == "in"]
        yield from self._level(body.get("parameter") or [], inputs, "Parameters")

    def _where(self, prefix: str, name: str) -> str:
        return (
            f"Parameters.parameter.where(name='{name}')"
            if prefix == "Parameters"
            else f"{prefix}.part.where(name='{name}')"
        )

    def _level(self, given: list[Json], definitions: list[Json], prefix: str) -> Iterator[Finding]:
        known = {d["name"] for d in definitions}
        for item in given:
            name = item.get("name")
            if name not in known:
                yield Finding(
                    "warning",
                    "not-supported",
                    f"{name!r} is not a parameter of {self.name}; the service ignores it",
                    self._where(prefix, str(name)),
                )
        for definition in definitions:
            name = definition["name"]
            where = self._where(prefix, name)
            found = [i for i in given if i.get("name") == name]
            if len(found) < definition.get("min", 0):
                yield error("required", f"Parameter {name!r} is required", where)
            maximum = definition.get("max", "*")
            if maximum != "*" and len(found) > int(maximum):
                if definition.get("part"):
                    yield error("business-rule", f"{name!r} may be given at most {maximum} time(s)", where)
                else:
                    yield error("invalid", f"Parameter {name!r} may be given once", where)
            for index, item in enumerate(found):
                yield from self._one(item, definition, where, index, len(found))

    def _one(self, item: Json, definition: Json, where: str, index: int, count: int) -> Iterator[Finding]:
        name = definition["name"]
        if definition.get("part"):
            if "part" not in item:
                yield error("invalid", f"Parameter {name!r} is made of parts", where)
                return
            yield from self._level(item.get("part") or [], definition["part"], f"{where}[{index}]")
            return
        keys = _value_keys(definition)
        present = [k for k in keys if k in item]
        if not present:
            wanted = " or ".join("a resource" if k == "resource" else k for k in keys)
            yield error("invalid", f"Parameter {name!r} must be {wanted}", where)
            return
        key = present[0]
        value = item[key]
        if key == "resource":
            at = f"{where}[{index}].resource" if count > 1 else f"{where}.resource"
            yield from self.validator.resource_findings(value, at)
            return
        binding = definition.get("binding")
        if binding and binding.get("strength") == "required":
            yield from check_binding(value, where, binding["valueSet"], self.data, name=where)
        targets = [t.removeprefix(CORE) for t in definition.get("targetProfile", [])]
        if key == "valueReference" and isinstance(value, dict):
            reference = value.get("reference")
            if not isinstance(reference, str) and not value.get("display"):
                yield error("invalid", f"Parameter {name!r} must carry a reference", where)
            kind = reference_type(reference) if isinstance(reference, str) else None
            if targets and kind is not None and kind not in targets:
                yield error("business-rule", f"{name!r} references a {' or '.join(targets)}", where)


# ---------------------------------------------------------------- the validator


class Validator:
    """Validates resources against the conformance resources (loaded once)."""

    def __init__(self, data: Conformance | None = None) -> None:
        self.data = data or conformance()

    def validate(self, resource: Any, *, profile: str | None = None, operation: str | None = None) -> Json:
        """An OperationOutcome for a resource: every problem found, or one information issue."""
        findings = Findings()
        if not isinstance(resource, dict):
            findings.add(error("structure", "The content is not a JSON object (a FHIR resource)", None))
            return self._outcome(findings, "content", [])
        checked: list[str] = []
        definition = None
        if operation is not None:
            definition = self.data.operation(operation)
            if definition is None:
                findings.add(error("not-found", f"{operation!r} is not a Continuum operation", None))
            elif resource.get("resourceType") != "Parameters":
                findings.add(
                    error(
                        "invalid",
                        f"An operation takes a Parameters resource, not {resource.get('resourceType')!r}",
                        "resourceType",
                    )
                )
                definition = None
        try:
            check_structure(resource)
        except FhirError as problem:
            findings.extend(
                Finding(i.severity, i.code, i.diagnostics, (i.expression or (None,))[0]) for i in problem.issues
            )
            if problem.status == 400:
                return self._outcome(findings, str(resource.get("resourceType", "resource")), checked)
        if definition is not None:
            checked.append(f"operation {definition['id']}")
            findings.extend(OperationCheck(definition, self.data, self).check(resource))
        findings.extend(self.resource_findings(resource, str(resource.get("resourceType")), profile, checked))
        return self._outcome(findings, str(resource.get("resourceType")), checked)

    def resource_findings(
        self,
        resource: Any,
        at: str,
        profile: str | None = None,
        checked: list[str] | None = None,
        *,
        defaults: bool = True,
    ) -> Iterator[Finding]:
        """The checks after structure, for a resource at a place (itself, or inside a Bundle or Parameters)."""
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            yield error("structure", "Not a FHIR resource (no resourceType)", at)
            return
        kind = resource["resourceType"]
        if at != kind:
            try:
                check_structure(resource)
            except FhirError as problem:
                for i in problem.issues:
                    where = _relocate((i.expression or (kind,))[0], kind, at)
                    yield Finding(i.severity, i.code, i.diagnostics, where)
                if problem.status == 400:
                    return
        yield from check_codings(resource, at, self.data)
        yield from check_references(resource, at)
        profiles, notes = profiles_for(resource, self.data, profile, defaults=defaults)
        yield from notes
        for found in profiles:
            if checked is not None:
                checked.append(f"profile {found['id']}")
            yield from ProfileCheck(found, self.data).check(resource, at)
        in_message = False
        if kind == "Bundle":
            entries = resource.get("entry") or [{}]
            header = entries[0].get("resource") or {} if isinstance(entries[0], dict) else {}
            # A request message (a response message names the request it answers).
            in_message = resource.get("type") == "message" and "response" not in header
            if in_message:
                yield from self._message(resource, at)
            for index, entry in enumerate(resource.get("entry") or []):
                if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                    inner = entry["resource"]
                    # The gateway completes a BaRS referral (subject, source, requester) before the
                    # referrals service sees it, so the referral profile is not applied to it here.
                    completed = in_message and inner.get("resourceType") == "ServiceRequest"
                    yield from self.resource_findings(inner, f"{at}.entry[{index}].resource", defaults=not completed)
        for index, inner in enumerate(resource.get("contained") or []):
            if isinstance(inner, dict):
                where = f"{at}.contained[{index}]"
                yield from check_codings(inner, where, self.data)

    def _message(self, bundle: Json, at: str) -> Iterator[Finding]:
        from gateway.epr.messaging import check_message

        try:
            check_message(bundle)
        except FhirError as problem:
            for i in problem.issues:
                where = _relocate((i.expression or ("Bundle",))[0], "Bundle", at)
                yield Finding(i.severity, i.code, i.diagnostics, where)

    def _outcome(self, findings: Findings, kind: str, checked: list[str]) -> Json:
        issues = [f.to_json() for f in findings.items]
        if not findings.errors:
            against = f" (checked: {', '.join(dict.fromkeys(checked))})" if checked else ""
            issues.append(
                {"severity": "information", "code": "informational", "diagnostics": f"The {kind} is valid{against}"}
            )
        return {"resourceType": "OperationOutcome", "issue": issues}


def validate(resource: Any, *, profile: str | None = None, operation: str | None = None) -> Json:
    """Validate one resource (a dict of FHIR JSON); returns an OperationOutcome."""
    return Validator().validate(resource, profile=profile, operation=operation)


def has_errors(outcome: Json) -> bool:
    """Whether an OperationOutcome has an error or fatal issue."""
    return any(i.get("severity") in ("error", "fatal") for i in outcome.get("issue", []))


# ---------------------------------------------------------------- files and the command line


def operation_of_file(path: Path, data: Conformance | None = None) -> str | None:
    """The operation a Parameters file is for, by name: `Task-decline.json`, `Task-decline.<anything>.json`."""
    found = (data or conformance()).operation(path.name.split(".", 1)[0])
    return found["id"] if found else None


def validate_file(path: Path, *, profile: str | None = None, operation: str | None = None) -> Json:
    """Validate one JSON file (an unreadable file is a fatal issue)."""
    try:
        resource = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as problem:
        return {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "fatal", "code": "structure", "diagnostics": f"Cannot read {path}: {problem}"}],
        }
    if operation is None and isinstance(resource, dict) and resource.get("resourceType") == "Parameters":
        operation = operation_of_file(path)
    return validate(resource, profile=profile, operation=operation)


def files(arguments: Iterable[str]) -> Iterator[Path]:
    """The JSON files named, folders searched recursively (expected outcomes, `*.outcome.json`, skipped)."""
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            yield from (p for p in sorted(path.rglob("*.json")) if not p.name.endswith(".outcome.json"))
        else:
            yield path


def render(path: Path, outcome: Json) -> list[str]:
    """The lines the command prints for one file."""
    lines = []
    for issue in outcome["issue"]:
        where = ", ".join(issue.get("expression", [])) or "-"
        lines.append(f"{path}: {issue['severity']} [{issue['code']}] {where}: {issue['diagnostics']}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """The command: validate files and folders, print every issue, exit 1 on any error."""
    parser = argparse.ArgumentParser(
        prog="python -m gateway.validate",
        description="Validate FHIR R4 JSON files against Continuum's profiles, codes and operations, offline.",
    )
    parser.add_argument("paths", nargs="+", metavar="FILE_OR_FOLDER")
    parser.add_argument(
        "--profile", help="a StructureDefinition URL to validate against (else meta.profile or the default)"
    )
    parser.add_argument(
        "--operation", help="the operation a Parameters body is for: Task-decline, Task/$decline or its URL"
    )
    parser.add_argument("--json", action="store_true", help="print one OperationOutcome per file as JSON lines")
    args = parser.parse_args(argv)
    failed = False
    count = 0
    for path in files(args.paths):
        count += 1
        if not path.exists():
            outcome: Json = {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "fatal", "code": "not-found", "diagnostics": f"{path} does not exist"}],
            }
        else:
            outcome = validate_file(path, profile=args.profile, operation=args.operation)
        failed = failed or has_errors(outcome)
        if args.json:
            print(json.dumps({"file": str(path), "outcome": outcome}))
        else:
            print("\n".join(render(path, outcome)))
    if count == 0:
        print("no JSON files found", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
