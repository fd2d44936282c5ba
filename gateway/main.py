"""The gateway application: `create_app(settings)`.

EPR systems see one FHIR base (`/fhir`). The gateway serves the directory and identity types
itself, proxies everything else to the owning service unchanged (but for base URLs), records an
AuditEvent for every request, and fans service events out to Subscriptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import orjson
from fastapi import APIRouter, FastAPI, Header, Request
from fastapi.responses import Response
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from gateway import ratelimit, sharing, tables
from gateway.auth import TokenIssuer, load_clients
from gateway.capability import capability_statement
from gateway.conformance_routes import router as conformance_router
from gateway.context import ContextDep, get_context
from gateway.epr import router as epr_router
from gateway.epr.inbox import ensure_epr_subscriptions
from gateway.events import Deliverer, accept_event, ensure_internal_subscriptions
from gateway.middleware import GatewayMiddleware
from gateway.patients import create_patient, resolve_any, update_patient
from gateway.proxy import Relayed, Services, Upstream, merged_search
from gateway.routing import GATEWAY_TYPES, OWNERS, TYPE_OPERATIONS, search_route
from gateway.search_specs import PATIENT, SPECS, SUBSCRIPTION
from gateway.settings import Settings
from services.kit.api import IdPath, base_url, created_response, fhir_body_schema, standard_routes, stored_response
from services.kit.app import fhir_app
from services.kit.auth import interaction_for
from services.kit.clock import Clock, SystemClock
from services.kit.db import Database
from services.kit.errors import (
    BadGateway,
    BadRequest,
    Conflict,
    FhirError,
    Forbidden,
    Issue,
    MethodNotAllowed,
    NotFound,
    PreconditionFailed,
    Unprocessable,
)
from services.kit.http import body_limit, fhir_body, fhir_response, if_match, informational, parse_json, read_body
from services.kit.search import parse_search

log = logging.getLogger("continuum.gateway")
router = APIRouter()
fhir = APIRouter(prefix="/fhir")


# ---------------------------------------------------------------- tokens and metadata


@router.post("/auth/token", tags=["auth"], summary="OAuth2 client-credentials token endpoint")
async def token(request: Request, authorization: Annotated[str | None, Header()] = None) -> Response:
    """Issue a signed access token (form-encoded grant_type=client_credentials)."""
    issuer: TokenIssuer | None = request.app.state.issuer
    if issuer is None:
        raise MethodNotAllowed("This gateway has no signing key configured (GATEWAY_AUTH_PRIVATE_KEY_FILE)")
    grant = issuer.grant(await read_body(request, body_limit(request)), authorization)
    return Response(orjson.dumps(grant), media_type="application/json", headers={"Cache-Control": "no-store"})


@fhir.get("/metadata", tags=["metadata"], summary="CapabilityStatement of the whole FHIR base")
async def metadata(request: Request) -> Response:
    """What the gateway and every reachable service support."""
    return fhir_response(await capability_statement(request.app.state.services, base_url(request)))


# ---------------------------------------------------------------- gateway-owned resources


@fhir.post("/Patient", tags=["Patient"], summary="Register a patient", openapi_extra=fhir_body_schema("The Patient"))
async def post_patient(request: Request, ctx: ContextDep) -> Response:
    """Register a patient (NHS number checked with Modulus 11); the services are told (FR-68)."""
    patient = await fhir_body("Patient")(request)

    async def create() -> Response:
        stored = await create_patient(ctx, patient)
        request.state.audit_patient = f"Patient/{stored.id}"
        response = created_response(request, "Patient", stored)
        await ctx.session.commit()  # the stored answer must only exist for a committed create
        return response

    return await _idempotent(request, ctx, create)


@fhir.put("/Patient/{id}", tags=["Patient"], summary="Update a patient", openapi_extra=fhir_body_schema("The Patient"))
async def put_patient(id: IdPath, request: Request, ctx: ContextDep) -> Response:
    """Update a patient (If-Match honoured)."""
    patient = await fhir_body("Patient")(request)
    if patient.get("id") != id:
        raise BadRequest(f"The body's id ({patient.get('id')!r}) must match the URL ({id!r})", "Patient.id")
    current = await ctx.repo("Patient").read(id)
    await _clinician_knows(ctx, f"Patient/{id}")
    expected = if_match(request, required=False)
    if expected is not None and expected != current.version_id:
        raise PreconditionFailed(f'If-Match W/"{expected}" is not the current version', "If-Match")
    return stored_response(await update_patient(ctx, current, patient))


@fhir.post(
    "/Subscription",
    tags=["Subscription"],
    summary="Subscribe to events",
    openapi_extra=fhir_body_schema("A rest-hook Subscription to a topic"),
)
async def post_subscription(request: Request, ctx: ContextDep) -> Response:
    """Subscribe an endpoint to one event topic (criteria = .../SubscriptionTopic/<event type>)."""
    subscription = _checked_subscription(await fhir_body("Subscription")(request))
    subscription["status"] = "active"

    async def create() -> Response:
        stored = await ctx.repo("Subscription").create(subscription, str(uuid.uuid4()), ctx.now)
        await ctx.session.commit()
        return created_response(request, "Subscription", stored)

    return await _idempotent(request, ctx, create)


@fhir.put(
    "/Subscription/{id}",
    tags=["Subscription"],
    summary="Change or switch off a subscription",
    openapi_extra=fhir_body_schema("The Subscription"),
)
async def put_subscription(id: IdPath, request: Request, ctx: ContextDep) -> Response:
    """Change a subscription's endpoint or filter, or set status `off` to stop its notifications."""
    subscription = _checked_subscription(await fhir_body("Subscription")(request))
    if subscription.get("id") != id:
        raise BadRequest(f"The body's id ({subscription.get('id')!r}) must match the URL ({id!r})", "Subscription.id")
    if subscription.get("status") not in ("active", "off"):
        raise Unprocessable("A subscription is active or off", "Subscription.status")
    current = await ctx.repo("Subscription").read(id)
    expected = if_match(request, required=False)
    if expected is not None and expected != current.version_id:
        raise PreconditionFailed(f'If-Match W/"{expected}" is not the current version', "If-Match")
    return stored_response(await ctx.repo("Subscription").update(subscription, current, ctx.now))


def _checked_subscription(subscription: dict[str, Any]) -> dict[str, Any]:
    channel = subscription.get("channel") or {}
    if channel.get("type") != "rest-hook" or not str(channel.get("endpoint", "")).startswith(("http://", "https://")):
        raise BadRequest("Only rest-hook Subscriptions with an http(s) endpoint are supported", "Subscription.channel")
    if "/SubscriptionTopic/" not in str(subscription.get("criteria", "")):
        raise BadRequest("criteria names a topic: .../SubscriptionTopic/<event type>", "Subscription.criteria")
    return subscription


@router.post("/internal/events", tags=["internal"], summary="Receive a service's outbox event")
async def receive_event(request: Request, ctx: ContextDep) -> Response:
    """Record an event once and queue it for every matching Subscription."""
    event = parse_json(await read_body(request, body_limit(request)))
    return informational(f"queued {await accept_event(ctx.session, event, ctx.now)}")


@fhir.post(
    "/Consent",
    tags=["Consent"],
    summary="Record a sharing decision",
    openapi_extra=fhir_body_schema("An information-sharing Consent"),
)
async def post_consent(request: Request, ctx: ContextDep) -> Response:
    """Record a person's information-sharing decision (permit or deny a carer or partner)."""
    consent = _checked_consent(await fhir_body("Consent")(request))
    stored = await ctx.repo("Consent").create(consent, str(uuid.uuid4()), ctx.now)
    await sharing.publish_carer_sharing(ctx.session, [consent], ctx.now)
    return created_response(request, "Consent", stored)


@fhir.put(
    "/Consent/{id}",
    tags=["Consent"],
    summary="Change or revoke a sharing decision",
    openapi_extra=fhir_body_schema("The Consent"),
)
async def put_consent(id: IdPath, request: Request, ctx: ContextDep) -> Response:
    """Change a decision; status `inactive` revokes it and the next read is refused (FR-72)."""
    consent = _checked_consent(await fhir_body("Consent")(request))
    if consent.get("id") != id:
        raise BadRequest(f"The body's id ({consent.get('id')!r}) must match the URL ({id!r})", "Consent.id")
    current = await ctx.repo("Consent").read(id)
    expected = if_match(request, required=False)
    if expected is not None and expected != current.version_id:
        raise PreconditionFailed(f'If-Match W/"{expected}" is not the current version', "If-Match")
    stored = await ctx.repo("Consent").update(consent, current, ctx.now)
    # Carers named before and after: one dropped from the decision is told it no longer holds.
    await sharing.publish_carer_sharing(ctx.session, [current.resource(), consent], ctx.now)
    return stored_response(stored)


CS_FLAG = "https://continuum.example.org/fhir/CodeSystem/patient-flag"
FLAG_CODES = frozenset({"ongoing-unmet-health-need", "not-engaged", "smi", "high-risk", "s117", "chc"})


@fhir.post(
    "/Flag",
    tags=["Flag"],
    summary="Publish a flag about a person",
    openapi_extra=fhir_body_schema("A Flag (for example an ongoing unmet health need)"),
)
async def post_flag(request: Request, ctx: ContextDep) -> Response:
    """Publish a flag to the wider system, e.g. an ongoing unmet health need (FR-74)."""
    flag = _checked_flag(await fhir_body("Flag")(request))
    stored = await ctx.repo("Flag").create(flag, str(uuid.uuid4()), ctx.now)
    request.state.audit_patient = flag["subject"]["reference"]
    return created_response(request, "Flag", stored)


@fhir.put("/Flag/{id}", tags=["Flag"], summary="Change or close a flag", openapi_extra=fhir_body_schema("The Flag"))
async def put_flag(id: IdPath, request: Request, ctx: ContextDep) -> Response:
    """Change a flag; status `inactive` closes it."""
    flag = _checked_flag(await fhir_body("Flag")(request))
    if flag.get("id") != id:
        raise BadRequest(f"The body's id ({flag.get('id')!r}) must match the URL ({id!r})", "Flag.id")
    current = await ctx.repo("Flag").read(id)
    expected = if_match(request, required=False)
    if expected is not None and expected != current.version_id:
        raise PreconditionFailed(f'If-Match W/"{expected}" is not the current version', "If-Match")
    return stored_response(await ctx.repo("Flag").update(flag, current, ctx.now))


def _checked_flag(flag: dict[str, Any]) -> dict[str, Any]:
    if not str((flag.get("subject") or {}).get("reference", "")).startswith("Patient/"):
        raise Unprocessable("A flag is about a person (subject Patient)", "Flag.subject")
    codes = [c.get("code") for c in (flag.get("code") or {}).get("coding") or [] if c.get("system") == CS_FLAG]
    if not codes or codes[0] not in FLAG_CODES:
        raise Unprocessable(
            f"A flag's code comes from {CS_FLAG}: {', '.join(sorted(FLAG_CODES))}",
            "Flag.code",
            issues=[Issue("code-invalid", f"A flag's code comes from {CS_FLAG}", ("Flag.code",))],
        )
    if flag.get("status") not in ("active", "inactive", "entered-in-error"):
        raise Unprocessable("A flag is active, inactive or entered-in-error", "Flag.status")
    return flag


def _checked_consent(consent: dict[str, Any]) -> dict[str, Any]:
    patient = (consent.get("patient") or {}).get("reference", "")
    if not patient.startswith("Patient/"):
        raise Unprocessable("A sharing decision names the person (patient)", "Consent.patient")
    actors = (consent.get("provision") or {}).get("actor") or []
    if not actors or not all((a.get("reference") or {}).get("reference") for a in actors):
        raise Unprocessable("A sharing decision names who it is about (provision.actor.reference)", "Consent.provision")
    if consent.get("status") not in ("active", "inactive", "rejected", "draft", "proposed", "entered-in-error"):
        raise Unprocessable("A Consent's status is active, inactive or rejected", "Consent.status")
    return consent


async def _may_read_patient(ctx: Any, stored: Any) -> None:
    agreement = sharing.check_agreement(
        ctx.principal, "Patient", "r", sharing.purpose_of(ctx.principal, ctx.purpose_header)
    )
    await sharing.check_consent(ctx.session, [f"Patient/{stored.id}"], sharing.reader_actor(ctx.principal, agreement))
    await _clinician_knows(ctx, f"Patient/{stored.id}")


async def _clinician_knows(ctx: Any, patient: str) -> None:
    """A clinician sees a person only when their team knows them (the referrals service decides)."""
    if not (ctx.principal.fhir_user or "").startswith("PractitionerRole/"):
        return
    answer = await ctx.services.send(
        "referrals",
        "GET",
        "/EpisodeOfCare",
        params=[("patient", patient), ("_summary", "count")],
        headers={"Authorization": ctx.authorization},
        gateway_base=ctx.base,
    )
    if answer.status == 403:
        raise Forbidden("Your team has no relationship with this person", "Authorization")
    if answer.status != 200:
        raise BadGateway("Could not check your team's relationship with this person", "referrals")


async def _may_search_patients(ctx: Any, query: list[tuple[str, str]]) -> None:
    """Clinicians look a person up by identifier (NHS number or local number), one they know."""
    if not (ctx.principal.fhir_user or "").startswith("PractitionerRole/"):
        return
    identifiers = [v for k, v in query if k == "identifier"]
    if not identifiers:
        raise Forbidden("A clinician finds a person by identifier (NHS number or EPR number)", "identifier")
    system, _, value = identifiers[0].rpartition("|")
    found = await resolve_any(ctx, system, value)
    if found is not None:
        await _clinician_knows(ctx, f"Patient/{found}")


async def _system_only(ctx: Any, *_: Any) -> None:
    """Audit trails, subscriptions and sharing decisions are for systems, not a clinician's token."""
    if ctx.principal.fhir_user:
        raise Forbidden("This resource type is not available to clinicians' or carers' tokens", "Authorization")


async def _may_read_flag(ctx: Any, stored: Any) -> None:
    subject = (stored.resource().get("subject") or {}).get("reference")
    agreement = sharing.check_agreement(
        ctx.principal, "Flag", "r", sharing.purpose_of(ctx.principal, ctx.purpose_header)
    )
    await sharing.check_consent(ctx.session, [subject], sharing.reader_actor(ctx.principal, agreement))
    if subject:
        await _clinician_knows(ctx, subject)


async def _may_search_flags(ctx: Any, query: list[tuple[str, str]]) -> None:
    agreement = sharing.check_agreement(
        ctx.principal, "Flag", "s", sharing.purpose_of(ctx.principal, ctx.purpose_header)
    )
    actor = sharing.reader_actor(ctx.principal, agreement)
    named = [v if "/" in v else f"Patient/{v}" for k, v in query if k in ("patient", "subject")]
    if (actor or ctx.principal.fhir_user) and not named:
        raise Forbidden("Name the person (patient) whose flags you are reading", "patient")
    await sharing.check_consent(ctx.session, named, actor)
    for patient in named:
        await _clinician_knows(ctx, patient)


_GUARDS: dict[str, tuple[Any, Any]] = {
    "Flag": (_may_read_flag, _may_search_flags),
    "Patient": (_may_read_patient, _may_search_patients),
    "AuditEvent": (_system_only, _system_only),
    "Subscription": (_system_only, _system_only),
    "Consent": (_system_only, _system_only),
}

for _spec in SPECS:
    _read, _search = _GUARDS.get(_spec.resource_type, (None, None))
    standard_routes(fhir, _spec, get_context, validator=None, may_read=_read, may_search=_search)


# ---------------------------------------------------------------- everything else: the services


@fhir.post(
    "",
    tags=["Bundle"],
    summary="transaction / batch Bundles",
    openapi_extra=fhir_body_schema("A transaction or batch Bundle"),
)
async def bundle(request: Request, ctx: ContextDep) -> Response:
    """A transaction whose entries belong to one service is all-or-nothing there; a batch may span services."""
    body = await fhir_body("Bundle")(request)
    kind = body.get("type")
    if kind not in ("transaction", "batch"):
        raise BadRequest("POST to the base takes a transaction or batch Bundle", "Bundle.type")
    services: Services = request.app.state.services
    gateway = base_url(request)
    owners_of_entries = []
    for index, entry in enumerate(body.get("entry") or []):
        url = str((entry.get("request") or {}).get("url", ""))
        owners = OWNERS.get(url.split("?")[0].split("/")[0])
        if owners is None:
            raise BadRequest(
                f"Bundle.entry[{index}]: {url!r} is not a type the services hold", f"Bundle.entry[{index}]"
            )
        owners_of_entries.append(owners[0])
    involved = sorted(set(owners_of_entries))
    if kind == "transaction" and len(involved) > 1:
        raise Unprocessable(
            f"A transaction must stay within one service; this one spans {', '.join(involved)}. "
            "Send a transaction per service, or a batch",
            "Bundle.entry",
        )
    headers = dict(request.headers)
    answers: dict[str, list[Any]] = {}
    for service in involved:
        part = {
            **body,
            "entry": [e for e, o in zip(body.get("entry") or [], owners_of_entries, strict=True) if o == service],
        }
        try:
            upstream = await services.send(
                service, "POST", "", headers=headers, body=orjson.dumps(part), gateway_base=gateway
            )
        except FhirError as error:  # unreachable or too slow
            if kind == "transaction":
                raise
            failed = {"response": {"status": str(error.status), "outcome": error.outcome()}}
            answers[service] = [failed for _ in part["entry"]]
            continue
        if kind == "transaction":
            return _response(upstream)
        if upstream.status != 200:
            # A batch answers every entry: those sent to a service that failed get its outcome.
            outcome = upstream.json() if upstream.headers.get("content-type", "").endswith("json") else None
            answers[service] = [
                {"response": {"status": str(upstream.status), **({"outcome": outcome} if outcome else {})}}
                for _ in part["entry"]
            ]
            continue
        answers[service] = list(upstream.json().get("entry", []))
    merged = [answers[o].pop(0) for o in owners_of_entries]
    return fhir_response({"resourceType": "Bundle", "type": "batch-response", "entry": merged})


async def _idempotent(request: Request, ctx: Any, forward: Any) -> Response:
    """A repeated X-Request-ID on a create returns the first answer and writes nothing twice."""
    given = request.headers.get("x-request-id")
    if not given:
        first_answer: Response = await forward()
        return first_answer
    # One client's request id never answers for another client (nor collides with one).
    caller = getattr(request.state, "principal", None)
    request_id = hashlib.sha256(f"{caller.client_id if caller else ''}\x00{given}".encode()).hexdigest()
    t = tables.idempotency
    database: Database = request.app.state.database
    window = timedelta(hours=request.app.state.settings.idempotency_window_hours)
    async with database.session(writing=True) as session:
        # Request ids are remembered for a window (a day by default), then forgotten.
        await session.execute(delete(t).where(t.c.created_at < ctx.now - window))
        try:
            await session.execute(
                insert(t).values(
                    request_id=request_id, method=request.method, path=request.url.path, created_at=ctx.now
                )
            )
            await session.commit()
            first = True
        except IntegrityError:
            await session.rollback()
            first = False
    if not first:
        for _ in range(100):
            async with database.session(writing=False) as session:
                row = (await session.execute(select(t).where(t.c.request_id == request_id))).first()
            if row is None:
                break
            if row.path != request.url.path or row.method != request.method:
                raise Conflict(f"X-Request-ID {given} was used for another request", "X-Request-ID")
            if row.status is not None:
                stored_headers: dict[str, str] = orjson.loads(row.headers)
                return Response(row.body.encode(), status_code=row.status, headers=stored_headers)
            await asyncio.sleep(0.05)
        raise Conflict(f"X-Request-ID {given} is still being processed; retry shortly", "X-Request-ID")
    try:
        response: Response = await forward()
    except Exception:
        async with database.session(writing=True) as session:
            await session.execute(delete(t).where(t.c.request_id == request_id))
            await session.commit()
        raise
    async with database.session(writing=True) as session:
        if response.status_code < 500:
            headers = {
                k: v for k, v in response.headers.items() if k in ("content-type", "etag", "location", "last-modified")
            }
            await session.execute(
                update(t)
                .where(t.c.request_id == request_id)
                .values(
                    status=response.status_code,
                    headers=orjson.dumps(headers).decode(),
                    body=bytes(response.body).decode(),
                )
            )
        else:
            await session.execute(delete(t).where(t.c.request_id == request_id))
        await session.commit()
    return response


def _note_patient(request: Request, body: bytes | None, upstream: Upstream) -> None:
    """Tell the audit trail whom a create or operation was about (from the request or the answer)."""
    if getattr(request.state, "audit_patient", None):
        return
    for raw in (body, upstream.body if upstream.status < 300 else None):
        if not raw or len(raw) > 200_000:
            continue
        try:
            resource = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if isinstance(resource, dict):
            patient = sharing.patient_of(resource)
            if patient:
                request.state.audit_patient = patient
                return


async def _shared(ctx: Any, upstream: Upstream, agreement: Any, actor: str | None) -> Response:
    """What a partner or carer may see of a successful answer: consented, and minimised (FR-70, FR-72)."""
    body = upstream.json()
    resources = [e["resource"] for e in body.get("entry", [])] if body.get("resourceType") == "Bundle" else [body]
    await sharing.check_consent(ctx.session, [sharing.patient_of(r) for r in resources], actor)
    if agreement is not None:
        if body.get("resourceType") == "Bundle":
            for entry in body.get("entry", []):
                entry["resource"] = sharing.minimise(entry["resource"], agreement)
        else:
            body = sharing.minimise(body, agreement)
    headers = {k: v for k, v in upstream.headers.items() if k != "content-length"}
    return Response(orjson.dumps(body), status_code=200, headers=headers)


def _response(upstream: Upstream) -> Response:
    return Response(upstream.body, status_code=upstream.status, headers=upstream.headers)


@fhir.api_route("/{resource_type}", methods=["GET", "POST"], include_in_schema=False)
@fhir.api_route("/{resource_type}/{rest:path}", methods=["GET", "POST", "PUT", "DELETE"], include_in_schema=False)
async def forward(resource_type: str, request: Request, ctx: ContextDep, rest: str = "") -> Response:
    """Route an interaction to the service that owns the resource type (or the resource)."""
    owners = OWNERS.get(resource_type)
    if owners is None:
        if resource_type in GATEWAY_TYPES:
            raise MethodNotAllowed(f"{request.method} is not supported on {resource_type} here", "type")
        raise NotFound(f"{resource_type} is not a resource type this FHIR base serves", "type")
    services: Services = request.app.state.services
    gateway = base_url(request)
    query = list(request.query_params.multi_items())
    body = await read_body(request, body_limit(request)) if request.method in ("POST", "PUT") else None
    path = f"/{resource_type}" + (f"/{rest}" if rest else "")
    found = interaction_for(request.method, request.url.path)
    interaction = found[1] if found else "r"
    agreement = sharing.check_agreement(
        ctx.principal, resource_type, interaction, sharing.purpose_of(ctx.principal, ctx.purpose_header)
    )
    actor = sharing.reader_actor(ctx.principal, agreement)
    if actor is not None and not rest and request.method == "GET":
        named = [v for k, v in query if k in ("patient", "subject")]
        if not named:
            raise Forbidden("Name the person (patient or subject) whose records you are reading", "patient")
        await sharing.check_consent(ctx.session, [v if "/" in v else f"Patient/{v}" for v in named], actor)

    if not rest and request.method == "GET":
        route = search_route(resource_type, query)
        if route.fan_out:
            settings = request.app.state.settings
            search = parse_search_for_paging(query, settings.default_page_size, settings.max_page_size)
            try:
                merged = await merged_search(
                    services, route.services, resource_type, search, query, gateway, dict(request.headers)
                )
            except Relayed as relayed:
                return _response(relayed.upstream)
            return fhir_response(merged)
        service = route.services[0]
    elif not rest or rest.startswith("$"):
        service = TYPE_OPERATIONS.get((resource_type, rest), owners[0])
    else:
        service = await services.owner_of(owners, resource_type, rest.split("/")[0], gateway, dict(request.headers))

    async def send() -> Response:
        upstream = await services.send(
            service, request.method, path, params=query, headers=dict(request.headers), body=body, gateway_base=gateway
        )
        _note_patient(request, body, upstream)
        if upstream.status != 200 or (agreement is None and actor is None):
            return _response(upstream)
        return await _shared(ctx, upstream, agreement, actor)

    if request.method == "POST" and not rest:
        return await _idempotent(request, ctx, send)
    return await send()


def parse_search_for_paging(query: list[tuple[str, str]], default: int, maximum: int) -> Any:
    """Only _count and _offset matter to the merge; each service checks the rest itself."""
    from services.kit.search import SearchSpec

    paging = [(k, v) for k, v in query if k in ("_count", "_offset")]
    return parse_search(SearchSpec("merged", {}, {}), paging, default_count=default, max_count=maximum)


# ---------------------------------------------------------------- the app


def own_token(app: FastAPI) -> Any:
    """The gateway's own service token (it holds the signing key), for calling the services."""
    issuer: TokenIssuer | None = app.state.issuer
    if issuer is None or "gateway" not in issuer.clients:
        return None
    cache: dict[str, Any] = {}

    def header() -> dict[str, str]:
        if cache.get("expires", 0) < time.time():
            grant = issuer.issue(issuer.clients["gateway"], issuer.clients["gateway"].scopes)
            cache.update(token=grant["access_token"], expires=time.time() + grant["expires_in"] - 60)
        return {"Authorization": f"Bearer {cache['token']}"}

    return header


def create_app(
    settings: Settings | None = None, clock: Clock | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """Build the gateway. `transport` lets tests put the services in-process."""
    settings = settings or Settings()
    service_urls = {
        "referrals": settings.referrals_url,
        "careplans": settings.careplans_url,
        "transitions": settings.transitions_url,
    }

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_internal_subscriptions(app.state.database, service_urls, app.state.clock.now())
        await ensure_epr_subscriptions(app.state.database, settings.public_url, app.state.clock.now())
        tasks = []
        if settings.run_background_tasks:
            internal = (
                *(url.rstrip("/") + "/" for url in service_urls.values()),
                settings.public_url.rstrip("/") + "/epr/",  # the simulated EPRs' own inbox
            )
            deliverer = Deliverer(
                app.state.database,
                app.state.clock,
                authorization=own_token(app),
                # Only the services get the gateway's token; external subscribers get none.
                trusted=lambda endpoint: endpoint.startswith(internal),
                lease_seconds=settings.dispatch_lease_seconds,
            )
            tasks.append(asyncio.create_task(deliverer.run(settings.delivery_interval_seconds)))
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await app.state.services.close()
        await app.state.database.dispose()

    app = fhir_app(
        "Continuum gateway",
        settings,
        lifespan,
        description="One FHIR R4 base for EPR integrators: identity, directory, routing, events.",
    )
    app.state.settings = settings
    ratelimit.install(app, settings.rate_limit_per_second, settings.rate_limit_burst)
    app.state.clock = clock or SystemClock()
    app.state.database = Database(settings.database_url)
    app.state.services = Services(service_urls, settings.upstream_timeout_seconds, transport)
    app.state.issuer = None
    if settings.auth_private_key_file and settings.clients_file:
        app.state.issuer = TokenIssuer(
            Path(settings.auth_private_key_file).read_text(), load_clients(Path(settings.clients_file))
        )
    app.include_router(router)
    app.include_router(epr_router)
    # Before `fhir`: $validate on every type, and the conformance types, are answered here.
    app.include_router(conformance_router)
    app.include_router(fhir)
    app.add_middleware(GatewayMiddleware, database_of=lambda: app.state.database, clock_of=lambda: app.state.clock)
    return app


__all__ = ["PATIENT", "SUBSCRIPTION", "create_app"]
