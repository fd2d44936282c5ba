"""Generate the conformance resources from the code: `python -m conformance.build [--check]`.

Writes `conformance/resources/<Type>-<id>.json` for every CodeSystem, ValueSet,
OperationDefinition and StructureDefinition, and the DIALOG Questionnaire the DIALOG profile
refers to; removes files it no longer generates. Every resource is checked with
`services.kit.resources.validate` (it must be valid R4) before anything is written. With
`--check` nothing is written: the exit status is 1 when the committed files differ. The
reference part of `docs/interface-engineers.md` (profiles, operations, codes, error codes) is
written from the same resources.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from conformance import DATE, PUBLISHER, RESOURCES, VERSION, codesystems, docs, operations, profiles, valuesets
from services.careplans.domain import dialog
from services.kit.resources import validate

COMMON: dict[str, Any] = {"version": VERSION, "date": DATE, "publisher": PUBLISHER}


def generate() -> dict[str, dict[str, Any]]:
    """Every conformance resource by file name."""
    found: list[dict[str, Any]] = []
    systems = codesystems.all_codesystems()
    found += [codesystems.resource(cs, COMMON) for cs in systems]
    found += [valuesets.resource(vs, COMMON) for vs in valuesets.all_valuesets(systems)]
    found += operations.definitions(COMMON)
    found += [profiles.resource(p, COMMON) for p in profiles.all_profiles()]
    found.append(dialog.questionnaire())
    by_name: dict[str, dict[str, Any]] = {}
    for resource in found:
        validate(resource, resource["resourceType"])
        name = f"{resource['resourceType']}-{resource['id']}.json"
        assert name not in by_name, f"{name} is generated twice"
        by_name[name] = resource
    return dict(sorted(by_name.items()))


def render(resource: dict[str, Any]) -> str:
    """A file's text: two-space indentation, one trailing newline."""
    return json.dumps(resource, indent=2, ensure_ascii=False) + "\n"


def documentation(wanted: dict[str, dict[str, Any]]) -> str:
    """docs/interface-engineers.md with its generated reference part brought up to date."""
    return docs.render(docs.DOC.read_text(), list(wanted.values()))


def differences(wanted: dict[str, dict[str, Any]]) -> list[str]:
    """The files that are missing, stale or no longer generated."""
    found = {p.name for p in RESOURCES.glob("*.json")}
    problems = [f"{name} is no longer generated" for name in sorted(found - set(wanted))]
    for name, resource in wanted.items():
        path = RESOURCES / name
        if not path.exists():
            problems.append(f"{name} is missing")
        elif path.read_text() != render(resource):
            problems.append(f"{name} is stale")
    if docs.DOC.read_text() != documentation(wanted):
        problems.append(f"docs/{docs.DOC.name} is stale")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Write (or, with --check, compare) the conformance resources."""
    parser = argparse.ArgumentParser(prog="python -m conformance.build", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when the files are stale")
    args = parser.parse_args(argv)
    wanted = generate()
    problems = differences(wanted)
    if args.check:
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    RESOURCES.mkdir(exist_ok=True)
    for path in RESOURCES.glob("*.json"):
        if path.name not in wanted:
            path.unlink()
    for name, resource in wanted.items():
        path = RESOURCES / name
        text = render(resource)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    doc = documentation(wanted)
    if docs.DOC.read_text() != doc:
        docs.DOC.write_text(doc)
    print(f"{len(wanted)} conformance resources in {RESOURCES.name}/ ({len(problems)} changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
