"""The official FHIR R4 JSON schema (`conformance/fhir.schema.json`), checked with `jsonschema`.

`jsonschema` is a dev dependency; without it these checks skip, saying why.
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


# Where R4 allows any resource (Bundle.entry.resource, Parameters.parameter.resource, contained ...)
# the schema's `ResourceList` tries every resource type (a oneOf of 147), which is slow on a large
# Bundle and says only "not valid under any of the given schemas". Here a nested resource is instead
# checked on its own, against its own type, and reported at its place.
_ANY_RESOURCE = {
    "type": "object",
    "properties": {"resourceType": {"type": "string"}},
    "required": ["resourceType"],
}
# That schema's FHIRVersion enum stops at 4.0.0, so `fhirVersion: 4.0.1` (what R4 resources and
# Continuum's CapabilityStatements and profiles say) fails it. This one finding is set aside.
KNOWN_DEFECT = "fhirVersion: '4.0.1' is not one of"


@cache
def _definitions() -> dict[str, Any]:
    return {**_schema()["definitions"], "ResourceList": _ANY_RESOURCE}


@cache
def _validator(resource_type: str) -> Any:
    schema = _schema()
    if resource_type not in schema["discriminator"]["mapping"]:
        raise KeyError(resource_type)
    one = {"$schema": schema["$schema"], "$ref": f"#/definitions/{resource_type}", "definitions": _definitions()}
    module = _module()
    return module.Draft6Validator(one)


def _nested(value: Any, path: str) -> list[tuple[dict[str, Any], str]]:
    """The resources inside a resource (not inside those), with their paths."""
    found: list[tuple[dict[str, Any], str]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in items:
        where = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}"
        if isinstance(child, dict) and "resourceType" in child:
            found.append((child, where))
        elif isinstance(child, dict | list):
            found += _nested(child, where)
    return found


def errors(resource: dict[str, Any], where: str | None = None) -> list[str]:
    """What the official R4 schema finds wrong with a resource and the resources in it (empty when valid)."""
    kind = resource.get("resourceType")
    if not isinstance(kind, str) or kind not in _schema()["discriminator"]["mapping"]:
        return [f"{where + ': ' if where else ''}resourceType {kind!r} is not an R4 resource type"]
    at = where or kind
    found = []
    for problem in sorted(_validator(kind).iter_errors(resource), key=lambda e: list(map(str, e.absolute_path))):
        path = at + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in problem.absolute_path)
        found.append(f"{path}: {problem.message}")
    for inner, inner_path in _nested(resource, at):
        found += errors(inner, inner_path)
    return found


def findings(resource: dict[str, Any]) -> list[str]:
    """The schema's findings, less the schema's own known defect."""
    return [e for e in errors(resource) if KNOWN_DEFECT not in e]


class EmittedResources:
    """Checks every FHIR JSON body Continuum answers a test with against the schema.

    Installed for a test with `watch(monkeypatch)`, which only records the answers (so a test's
    timing is not changed); `problems` checks them, naming the request that produced each finding.
    Requests between the apps (the gateway calling a service) are recorded too.
    """

    def __init__(self) -> None:
        self.answers: list[tuple[str, str, int, bytes]] = []
        self._checked = 0
        self._problems: list[str] = []

    @property
    def checked(self) -> int:
        """How many answers were checked."""
        self._check()
        return self._checked

    @property
    def problems(self) -> list[str]:
        """Each finding, with the request whose answer it is in (cleared with `problems.clear()`)."""
        self._check()
        return self._problems

    def _check(self) -> None:
        while self.answers:
            method, url, status, content = self.answers.pop(0)
            where = f"{method} {url} -> {status}"
            self._checked += 1
            try:
                body = json.loads(content)
            except ValueError:
                self._problems.append(f"{where}: the body is not JSON")
                continue
            if not isinstance(body, dict):
                self._problems.append(f"{where}: the body is not a FHIR resource")
                continue
            self._problems += [f"{where}: {e}" for e in findings(body)]

    def watch(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Record every FHIR JSON answer until the test ends: of the apps in-process (ASGITransport) and of
        real processes called over HTTP (the end-to-end tests' clients)."""
        import httpx

        in_process = httpx.ASGITransport.handle_async_request
        over_http = httpx.HTTPTransport.handle_request
        answers = self.answers

        def fhir_json(response: httpx.Response) -> bool:
            media: str = response.headers.get("content-type", "")
            return media.split(";")[0].strip() == "application/fhir+json"

        async def recorded(transport: httpx.ASGITransport, request: httpx.Request) -> httpx.Response:
            response = await in_process(transport, request)
            if fhir_json(response):
                answers.append((request.method, str(request.url), response.status_code, await response.aread()))
            return response

        def recorded_http(transport: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
            response = over_http(transport, request)
            if fhir_json(response):
                answers.append((request.method, str(request.url), response.status_code, response.read()))
            return response

        monkeypatch.setattr(httpx.ASGITransport, "handle_async_request", recorded)
        monkeypatch.setattr(httpx.HTTPTransport, "handle_request", recorded_http)
