"""The conformance resources at the FHIR base, and `$validate` on every resource type.

`GET /fhir/StructureDefinition`, `/CodeSystem`, `/ValueSet` and `/OperationDefinition` serve the
generated files in `conformance/resources/` (read by id, search by `_id`, `url`, `name` ...). The
files never change while the gateway runs, so they are loaded once into an in-memory SQLite
table and searched with the kit's own search helpers: the same parameter parsing, the same 400
for an unknown parameter, the same searchset Bundles and paging links as every other type.

`POST /fhir/{type}/$validate` answers with the offline validator (`gateway.validate`: structure,
Continuum's codes and profiles, an operation's parameters, references, BaRS messages), so the
command line and the API give the same answer on the same payload. When the offline checks find
no error, the rules a create would apply are added: the gateway's own for the types it holds
(Subscription, Consent, Flag), and, for a type a service holds, that service's own `$validate`,
which runs the rules that need its records (the referral exists, the requester's team holds an
episode). Their errors and warnings are added to the answer. `mode=profile` asks for the offline
checks only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Column, Engine, MetaData, String, Table, Text, create_engine, func, insert, select
from sqlalchemy.pool import StaticPool

from conformance import BASE, DATE
from gateway.proxy import Services
from gateway.routing import DISCRIMINATORS, OWNERS
from gateway.validate import Validator, conformance, has_errors, is_resource_type
from services.kit.api import IdPath, base_url, fhir_body_schema
from services.kit.auth import CONFORMANCE_TYPES
from services.kit.errors import BadRequest, FhirError, MethodNotAllowed, NotFound
from services.kit.http import FHIR_JSON, body_limit, check_content_type, fhir_response, parse_json, read_body
from services.kit.repository import Stored
from services.kit.search import Param, SearchSpec, parse_search, searchset, string, token

Json = dict[str, Any]
router = APIRouter(prefix="/fhir")

KINDS = tuple(sorted(CONFORMANCE_TYPES))
PUBLISHED = datetime.fromisoformat(DATE).replace(tzinfo=UTC)

# ---------------------------------------------------------------- the store

_metadata = MetaData()
_t = Table(
    "conformance_resource",
    _metadata,
    Column("resource_type", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("url", String(255)),
    Column("version", String(32)),
    Column("name", String(255)),
    Column("title", String(255)),
    Column("status", String(32)),
    Column("type", String(64)),
    Column("code", String(64)),
    Column("resource", Text, nullable=False),
)


def _uri(name: str, column: Any) -> Param:
    """A uri parameter: exact match; `url|version` also matches the version (a canonical)."""

    def build(value: str, _: str | None) -> Any:
        url, _, version = value.partition("|")
        return (column == url) & (_t.c.version == version) if version else column == url

    return Param(name, "uri", build)


_COMMON: dict[str, Param] = {
    "_id": token("_id", _t.c.id),
    "url": _uri("url", _t.c.url),
    "version": token("version", _t.c.version),
    "name": string("name", _t.c.name),
    "title": string("title", _t.c.title),
    "status": token("status", _t.c.status),
}
_SORTS = {"_id": _t.c.id, "url": _t.c.url, "name": _t.c.name, "title": _t.c.title}
SPECS: dict[str, SearchSpec] = {
    "StructureDefinition": SearchSpec("StructureDefinition", {**_COMMON, "type": token("type", _t.c.type)}, _SORTS),
    "CodeSystem": SearchSpec("CodeSystem", _COMMON, _SORTS),
    "ValueSet": SearchSpec("ValueSet", _COMMON, _SORTS),
    "OperationDefinition": SearchSpec("OperationDefinition", {**_COMMON, "code": token("code", _t.c.code)}, _SORTS),
}


def _row(resource: Json) -> Json:
    return {
        "resource_type": resource["resourceType"],
        "id": resource["id"],
        "url": resource.get("url"),
        "version": resource.get("version"),
        "name": resource.get("name"),
        "title": resource.get("title"),
        "status": resource.get("status"),
        "type": resource.get("type") if resource["resourceType"] == "StructureDefinition" else None,
        "code": resource.get("code") if resource["resourceType"] == "OperationDefinition" else None,
        "resource": orjson.dumps(resource).decode(),
    }


@cache
def store() -> Engine:
    """The conformance resources in an in-memory SQLite database (built once per process)."""
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    _metadata.create_all(engine)
    rows = [_row(r) for r in conformance().by_url.values() if r["resourceType"] in KINDS]
    with engine.begin() as connection:
        connection.execute(insert(_t), rows)
    return engine


def _stored(row: Any) -> Stored:
    return Stored(row.id, 1, PUBLISHED, row.resource.encode())


def read(kind: str, id_: str) -> Stored:
    """One conformance resource, or 404."""
    with store().connect() as connection:
        row = connection.execute(select(_t).where(_t.c.resource_type == kind, _t.c.id == id_)).first()
    if row is None:
        raise NotFound(f"{kind}/{id_} is not known", "id")
    return _stored(row)


def search(kind: str, query: list[tuple[str, str]], default_count: int, max_count: int, base: str) -> bytes:
    """A searchset Bundle of the conformance resources of one type (unknown parameters are 400)."""
    parsed = parse_search(SPECS[kind], query, default_count=default_count, max_count=max_count)
    where = [_t.c.resource_type == kind, *parsed.where]
    with store().connect() as connection:
        total = connection.execute(select(func.count()).select_from(_t).where(*where)).scalar_one()
        rows = []
        if parsed.count and not parsed.summary_count:
            ordered = select(_t).where(*where).order_by(*parsed.order_by, _t.c.id)
            rows = list(connection.execute(ordered.limit(parsed.count).offset(parsed.offset)))
    matches = [(kind, _stored(r)) for r in rows]
    return searchset(base, kind, parsed, matches, total if parsed.want_total or parsed.summary_count else None)


def capability_resources() -> list[Json]:
    """The conformance types' entries in the gateway's CapabilityStatement."""
    return [
        {
            "type": kind,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "versioning": "no-version",
            "readHistory": False,
            "updateCreate": False,
            "searchParam": [{"name": p.name, "type": p.type} for p in SPECS[kind].params.values()],
            "operation": [{"name": "validate", "definition": VALIDATE_DEFINITION}],
        }
        for kind in KINDS
    ]


def supported_profiles() -> dict[str, list[str]]:
    """The profiles Continuum publishes, by the resource type they constrain."""
    found: dict[str, list[str]] = {}
    for sd in conformance().of_type("StructureDefinition"):
        found.setdefault(sd["type"], []).append(sd["url"])
    return {kind: sorted(urls) for kind, urls in found.items()}


def point_to_profiles(resources: list[Json]) -> list[Json]:
    """Each resource entry names the profiles Continuum publishes for its type (`supportedProfile`)."""
    profiles = supported_profiles()
    for resource in resources:
        if resource["type"] in profiles:
            resource["supportedProfile"] = profiles[resource["type"]]
    return resources


def _register(kind: str) -> None:
    async def search_route(request: Request) -> Response:
        settings = request.app.state.settings
        query = list(request.query_params.multi_items())
        body = search(kind, query, settings.default_page_size, settings.max_page_size, base_url(request))
        return fhir_response(body)

    async def read_route(id: IdPath) -> Response:
        found = read(kind, id)
        return fhir_response(found.body)

    async def refuse() -> Response:
        raise MethodNotAllowed(f"{kind} resources are published by Continuum; they are read-only here", "type")

    search_route.__doc__ = f"Search the {kind} resources Continuum publishes (_id, url, name ...)."
    read_route.__doc__ = f"Read a {kind} Continuum publishes."
    refuse.__doc__ = f"{kind} resources are read-only."
    router.add_api_route(
        f"/{kind}", search_route, methods=["GET"], tags=["conformance"], summary=f"Search {kind}", name=f"search_{kind}"
    )
    router.add_api_route(
        f"/{kind}/{{id}}", read_route, methods=["GET"], tags=["conformance"], summary=f"Read a {kind}", name=kind
    )
    router.add_api_route(f"/{kind}", refuse, methods=["POST"], include_in_schema=False, name=f"create_{kind}")
    router.add_api_route(
        f"/{kind}/{{id}}", refuse, methods=["PUT", "DELETE", "PATCH"], include_in_schema=False, name=f"change_{kind}"
    )


for _kind in KINDS:
    _register(_kind)


# ---------------------------------------------------------------- $validate

VALIDATE_DEFINITION = f"{BASE}/OperationDefinition/Resource-validate"
_VALIDATE_PARAMS = frozenset({"resource", "profile", "mode", "operation"})
_MODES = ("create", "profile")
_RESULT_PARAMS = frozenset({"_format"})


@dataclass(frozen=True)
class ValidateRequest:
    """What a `$validate` call asks: the resource, and optionally a profile, mode and operation."""

    resource: Any
    profile: str | None = None
    mode: str | None = None
    operation: str | None = None


def _value(parameter: Json) -> str | None:
    value = next((v for k, v in parameter.items() if k.startswith("value")), None)
    return value if isinstance(value, str) else None


def _is_wrapper(body: Json) -> bool:
    """Whether a Parameters body is $validate's own (`resource`, `profile` ...), not the resource to check."""
    parameters = body.get("parameter") or []
    return (
        bool(parameters)
        and all(isinstance(p, dict) and p.get("name") in _VALIDATE_PARAMS for p in parameters)
        and any(p.get("name") == "resource" and isinstance(p.get("resource"), dict) for p in parameters)
    )


def validate_request(kind: str, body: Json, query: Iterable[tuple[str, str]]) -> ValidateRequest:
    """The resource and options of a `$validate` call (query parameters, or a Parameters body)."""
    options: dict[str, str] = {}
    for name, value in query:
        if name in _RESULT_PARAMS:
            continue
        if name not in _VALIDATE_PARAMS - {"resource"}:
            raise BadRequest(f"{name!r} is not a parameter of $validate; use profile, mode or operation", name)
        options[name] = value
    resource: Any = body
    # On Parameters/$validate the body is the Parameters to check, unless it is $validate's own.
    wrapped = body.get("resourceType") == "Parameters" and (kind != "Parameters" or _is_wrapper(body))
    if wrapped:
        inner = [p for p in body.get("parameter") or [] if isinstance(p, dict)]
        resources = [p.get("resource") for p in inner if p.get("name") == "resource"]
        if len(resources) != 1 or not isinstance(resources[0], dict):
            raise BadRequest(
                "A Parameters body to $validate carries one resource, in its `resource` parameter",
                "Parameters.parameter.where(name='resource')",
            )
        resource = resources[0]
        for p in inner:
            option = str(p.get("name"))
            if option in _VALIDATE_PARAMS - {"resource"}:
                given = _value(p)
                if given is None:
                    raise BadRequest(
                        f"The {option} parameter of $validate is a string value",
                        f"Parameters.parameter.where(name='{option}')",
                    )
                options[option] = given
    mode = options.get("mode")
    if mode is not None and mode not in _MODES:
        raise BadRequest(f"mode {mode!r} is not supported; use create (the default) or profile", "mode")
    return ValidateRequest(resource, options.get("profile"), mode, options.get("operation"))


def owner_of(kind: str, resource: Json) -> str | None:
    """The service whose `$validate` checks a resource's stored-record rules (None: no service holds the type)."""
    owners = OWNERS.get(kind)
    if not owners:
        return None
    if len(owners) == 1 or kind not in DISCRIMINATORS:
        return owners[0]
    element, by_value = DISCRIMINATORS[kind]
    if kind == "QuestionnaireResponse":
        values = [str(resource.get("questionnaire") or "").partition("|")[0]]
    else:
        value = resource.get(element)
        concepts = value if isinstance(value, list) else [value]
        values = [
            str(c.get("code"))
            for concept in concepts
            if isinstance(concept, dict)
            for c in concept.get("coding") or []
            if isinstance(c, dict)
        ]
    chosen = [by_value[v] for v in values if v in by_value]
    return chosen[0] if chosen else owners[0]


def _key(issue: Json) -> tuple[str, str, tuple[str, ...]]:
    return issue.get("severity", ""), issue.get("code", ""), tuple(issue.get("expression") or ())


def merge(outcome: Json, more: list[Json]) -> Json:
    """The offline outcome with a service's errors and warnings added (each problem once)."""
    issues = list(outcome["issue"])
    seen = {_key(i) for i in issues}
    added = [i for i in more if i.get("severity") in ("fatal", "error", "warning") and _key(i) not in seen]
    if not added:
        return outcome
    valid = [i for i in issues if i.get("severity") == "information" and i.get("code") == "informational"]
    kept = [i for i in issues if i not in valid]
    merged = kept + added
    if not any(i.get("severity") in ("error", "fatal") for i in merged):
        merged += valid
    return {**outcome, "issue": merged}


async def _service_check(request: Request, service: str, kind: str, resource: Json) -> list[Json] | Response:
    """The owning service's `$validate` issues (a refusal of the caller, 401 or 403, is passed on)."""
    services: Services = request.app.state.services
    headers = {"content-type": FHIR_JSON}
    for name in ("authorization", "x-request-id", "x-correlation-id"):
        if request.headers.get(name):
            headers[name] = request.headers[name]
    unchecked = {
        "severity": "warning",
        "code": "incomplete",
        "diagnostics": f"The {service} service could not be asked, so the rules that need its records "
        "(references to stored resources, the create's business rules) were not checked",
        "expression": [kind],
    }
    try:
        answer = await services.send(
            service,
            "POST",
            f"/{kind}/$validate",
            headers=headers,
            body=orjson.dumps(resource),
            gateway_base=base_url(request),
        )
    except FhirError:
        return [unchecked]
    if answer.status in (401, 403):
        return Response(answer.body, status_code=answer.status, headers=answer.headers)
    if answer.status != 200:
        return [unchecked]
    try:
        body = answer.json()
    except orjson.JSONDecodeError:
        return [unchecked]
    return [i for i in body.get("issue") or [] if isinstance(i, dict)]


def gateway_rules(kind: str, resource: Json) -> list[Json]:
    """The issues the gateway's own create checks find (Subscription, Consent, Flag), as a create raises them."""
    from gateway import main  # the checks live with the routes that apply them; main imports this module

    checks = {
        "Subscription": main._checked_subscription,
        "Consent": main._checked_consent,
        "Flag": main._checked_flag,
    }
    check = checks.get(kind)
    if check is None:
        return []
    try:
        check(dict(resource))
    except FhirError as refused:
        return [dict(i.to_json()) for i in refused.issues]
    return []


@router.post(
    "/{resource_type}/$validate",
    tags=["conformance"],
    summary="Validate a resource without storing it",
    openapi_extra=fhir_body_schema("The resource to check, or a Parameters with resource, profile, mode, operation"),
)
async def validate(resource_type: str, request: Request) -> Response:
    """Check a resource against Continuum's profiles, codes and operations, then the owning service's rules."""
    if not is_resource_type(resource_type):
        raise NotFound(f"{resource_type} is not an R4 resource type", "type")
    check_content_type(request)
    body = parse_json(await read_body(request, body_limit(request)))
    asked = validate_request(resource_type, body, request.query_params.multi_items())
    resource = asked.resource
    if resource.get("resourceType") != resource_type:
        outcome: Json = {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": "structure",
                    "diagnostics": f"resourceType is {resource.get('resourceType')!r}, this endpoint takes "
                    f"{resource_type!r}",
                    "expression": ["resourceType"],
                }
            ],
        }
        return fhir_response(outcome)
    outcome = Validator().validate(resource, profile=asked.profile, operation=asked.operation)
    if asked.mode != "profile" and not has_errors(outcome):
        outcome = merge(outcome, gateway_rules(resource_type, resource))
    service = owner_of(resource_type, resource)
    if service is not None and asked.mode != "profile" and not has_errors(outcome):
        found = await _service_check(request, service, resource_type, resource)
        if isinstance(found, Response):
            return found
        outcome = merge(outcome, found)
    return fhir_response(outcome)


@router.post("/{resource_type}/{id}/$validate", include_in_schema=False)
async def validate_instance(resource_type: str, id: str) -> Response:
    """Only the type-level `$validate` is offered."""
    raise MethodNotAllowed(f"Use POST /fhir/{resource_type}/$validate (type level) to check a resource", "id")
