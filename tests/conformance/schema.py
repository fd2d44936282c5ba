"""The official FHIR R4 JSON schema (`conformance/fhir.schema.json`), checked with `jsonschema`.

`jsonschema` is not a dependency of the project yet; without it these checks skip, saying why.
"""

from __future__ import annotations

import importlib
import json
from functools import cache
from typing import Any

import pytest

from conformance import FHIR_SCHEMA

MISSING = (
    "jsonschema is not installed in .venv: add `jsonschema` (pinned, e.g. jsonschema==4.26.0) to the dev "
    "dependency group to check resources against the official FHIR R4 JSON schema"
)


def _module() -> Any:
    try:
        return importlib.import_module("jsonschema")
    except ImportError:
        return None


def require() -> None:
    """Skip the calling test when jsonschema is not installed."""
    if _module() is None:
        pytest.skip(MISSING)


def available() -> bool:
    """Whether jsonschema is installed."""
    return _module() is not None


@cache
def _schema() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(FHIR_SCHEMA.read_text())
    return found


@cache
def _validator(resource_type: str) -> Any:
    schema = _schema()
    if resource_type not in schema["discriminator"]["mapping"]:
        raise KeyError(resource_type)
    one = {
        "$schema": schema["$schema"],
        "$ref": f"#/definitions/{resource_type}",
        "definitions": schema["definitions"],
    }
    module = _module()
    return module.Draft6Validator(one)


def errors(resource: dict[str, Any]) -> list[str]:
    """What the official R4 schema finds wrong with a resource (empty when it is valid)."""
    kind = resource.get("resourceType")
    if not isinstance(kind, str) or kind not in _schema()["discriminator"]["mapping"]:
        return [f"resourceType {kind!r} is not an R4 resource type"]
    found = []
    for problem in sorted(_validator(kind).iter_errors(resource), key=lambda e: list(e.absolute_path)):
        where = kind + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in problem.absolute_path)
        found.append(f"{where}: {problem.message}")
    return found
