"""BaRS messaging: `POST /fhir/$process-message` receives referrals from the simulated senders.

A sender posts a message Bundle (`type = message`) whose first entry is a MessageHeader with
the event `servicerequest-request` and whose focus is the referral ServiceRequest. The gateway

1. checks the message (structure, header, event, focus, sender, subject, NHS numbers);
2. registers the Patient entry in the master patient index, or links it to the Patient its
   NHS number (or a local EPR number) already identifies;
3. rewrites the ServiceRequest for the partnership: subject → the index's Patient, requester →
   the sender, the referral-source category from who sent it, references to other entries of
   the message resolved or reduced to their display;
4. creates the referral through the referrals service with the caller's own token; and
5. answers synchronously, as BaRS does: a response message whose MessageHeader names the
   request (`response.identifier` = request Bundle.id, `response.code = ok`) and whose focus is
   the referral, or an OperationOutcome with the BaRS error code (`REC_BAD_REQUEST` ...).

A repeated Bundle.id from the same caller is answered with the first answer and creates
nothing twice (the referral also carries the message id, so even a retry after a lost answer
finds the referral it created). Only new referrals (`reason = new`) are supported.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from gateway import tables
from gateway.context import Context
from gateway.epr.bars import (
    EVENT_REFERRAL,
    MESSAGE_EVENTS,
    MESSAGE_IDENTIFIER,
    MESSAGE_REASONS,
    SUPPORTED_MAJOR_VERSIONS,
    Answer,
    error_answer,
    relocate,
)
from gateway.epr.common import checked, principal, unit_of_work
from gateway.epr.senders import CS_SOURCE, Sender, identify
from gateway.identity import LOCAL_MRN, NHS_NUMBER
from gateway.patients import check_identifiers, create_patient, resolve
from gateway.proxy import Services
from reference.partnership import directory
from services.kit.api import base_url, fhir_body_schema
from services.kit.clock import instant
from services.kit.db import Database
from services.kit.errors import (
    BadGateway,
    BadRequest,
    Conflict,
    FhirError,
    Forbidden,
    Issue,
    NotFound,
    RequiredMissing,
    Unauthorized,
    Unprocessable,
)
from services.kit.http import FHIR_JSON, body_limit, check_content_type, parse_json, read_body

log = logging.getLogger("continuum.gateway.bars")
router = APIRouter(prefix="/fhir", tags=["BaRS"])
PATH = "/fhir/$process-message"
HEADER = "Bundle.entry[0].resource"
# A claimed Bundle.id whose first answer never came (the process died) is taken over after this.
STALE_AFTER = timedelta(minutes=2)


class NotSupported(Unprocessable):
    """422: a well-formed message the receiver does not support (BaRS `not-supported`)."""

    code = "not-supported"


@dataclass
class Message:
    """A checked referral message: where everything is in the Bundle."""

    bundle_id: str
    entries: list[dict[str, Any]]
    header: dict[str, Any]
    request_index: int
    sender: Sender
    patient_index: int | None
    patient_reference: str | None

    @property
    def request(self) -> dict[str, Any]:
        """The ServiceRequest entry's resource."""
        resource: dict[str, Any] = self.entries[self.request_index]["resource"]
        return resource

    def at(self, index: int) -> str:
        """The FHIRPath of an entry's resource."""
        return f"Bundle.entry[{index}].resource"


# ---------------------------------------------------------------- checking the message


def _find(entries: list[dict[str, Any]], reference: str | None) -> int | None:
    """The entry a reference names: by fullUrl, or by `Type/id` of a resource in the message."""
    if not reference:
        return None
    for index, entry in enumerate(entries):
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            continue
        if entry.get("fullUrl") == reference or f"{resource.get('resourceType')}/{resource.get('id')}" == reference:
            return index
    return None


def read_bundle(raw: bytes) -> dict[str, Any]:
    """Parse and structurally validate a message Bundle (400/422 naming the element)."""
    body = parse_json(raw)
    if body.get("resourceType") != "Bundle":
        raise BadRequest("$process-message takes a message Bundle", "resourceType")
    if body.get("type") != "message":
        raise BadRequest(f"Bundle.type is {body.get('type')!r}; a message Bundle has type 'message'", "Bundle.type")
    if not body.get("id"):
        raise BadRequest("A message Bundle has an id: it is how the answer names the request", "Bundle.id")
    return checked(body, "Bundle")


def check_message(bundle: dict[str, Any]) -> Message:
    """The referral message's parts, or the BaRS error naming what is wrong."""
    entries: list[dict[str, Any]] = bundle.get("entry") or []
    header = (entries[0].get("resource") or {}) if entries else {}
    if header.get("resourceType") != "MessageHeader":
        raise BadRequest("The first entry of a message Bundle is its MessageHeader", HEADER)
    version = str((bundle.get("meta") or {}).get("versionId") or "")
    if version and version.split(".")[0] not in SUPPORTED_MAJOR_VERSIONS:
        raise NotSupported(f"Message version {version} is not supported (1.x is)", "Bundle.meta.versionId")
    event = header.get("eventCoding") or {}
    if event.get("system") != MESSAGE_EVENTS or event.get("code") != EVENT_REFERRAL:
        named = event.get("code") or header.get("eventUri")
        raise NotSupported(
            f"Event {named!r} is not supported; this receiver takes {MESSAGE_EVENTS}|{EVENT_REFERRAL}",
            f"{HEADER}.eventCoding",
        )
    reasons = [c for c in (header.get("reason") or {}).get("coding") or [] if c.get("system") == MESSAGE_REASONS]
    if reasons and reasons[0].get("code") != "new":
        raise NotSupported(
            f"Message reason {reasons[0].get('code')!r} is not supported; only new referrals are", f"{HEADER}.reason"
        )
    focus = header.get("focus") or []
    if not focus:
        raise BadRequest("The MessageHeader's focus names the referral ServiceRequest", f"{HEADER}.focus")
    request_index = _find(entries, focus[0].get("reference"))
    if request_index is None:
        raise BadRequest("The MessageHeader's focus is not an entry of the message", f"{HEADER}.focus[0]")
    request = entries[request_index]["resource"]
    if request.get("resourceType") != "ServiceRequest":
        raise NotSupported(
            f"The focus is a {request.get('resourceType')}; this receiver takes referral ServiceRequests",
            f"{HEADER}.focus[0]",
        )
    sender_reference = (header.get("sender") or {}).get("reference")
    if not sender_reference:
        raise BadRequest("The MessageHeader names its sender", f"{HEADER}.sender")
    sender_index = _find(entries, sender_reference)
    sender = identify(sender_reference, entries[sender_index]["resource"] if sender_index is not None else None)
    if sender is None:
        raise Unprocessable(
            "The sender is not one of the simulated senders (GP practices, emergency departments, London "
            "Ambulance Service, Metropolitan Police, Mind in NCL)",
            f"{HEADER}.sender",
        )
    at = f"Bundle.entry[{request_index}].resource"
    if request.get("status", "active") != "active":
        raise Unprocessable("A new referral message carries an active ServiceRequest", f"{at}.status")
    subject = (request.get("subject") or {}).get("reference")
    if not subject:
        raise RequiredMissing("The referral names its subject (the Patient entry)", f"{at}.subject")
    patient_index = _find(entries, subject)
    if patient_index is not None:
        patient = entries[patient_index]["resource"]
        if patient.get("resourceType") != "Patient":
            raise Unprocessable("The referral's subject is a Patient", f"{at}.subject")
        try:
            check_identifiers(patient)
        except FhirError as error:
            raise relocate(error, {"Patient": f"Bundle.entry[{patient_index}].resource"}) from None
        return Message(str(bundle["id"]), entries, header, request_index, sender, patient_index, None)
    if not subject.startswith("Patient/"):
        raise Unprocessable("The referral's subject is neither an entry of the message nor a Patient", f"{at}.subject")
    return Message(str(bundle["id"]), entries, header, request_index, sender, None, subject)


# ---------------------------------------------------------------- the person and the referral


async def person(ctx: Context, message: Message) -> str:
    """The index's Patient id for the message's subject: found by NHS number or local number, or new."""
    if message.patient_reference is not None:
        found = await ctx.repo("Patient").find(message.patient_reference.removeprefix("Patient/"))
        if found is None:
            raise Unprocessable(
                f"{message.patient_reference} is not known to the master patient index",
                f"{message.at(message.request_index)}.subject",
            )
        return found.id
    assert message.patient_index is not None
    patient = message.entries[message.patient_index]["resource"]
    identifiers = check_identifiers(patient)
    for system in (NHS_NUMBER, *LOCAL_MRN.values()):
        for found_system, value in identifiers:
            if found_system == system:
                existing = await resolve(ctx, system, value)
                if existing is not None:
                    return existing
    resource = {k: v for k, v in copy.deepcopy(patient).items() if k not in ("id", "meta")}
    try:
        return (await create_patient(ctx, resource)).id
    except FhirError as error:
        raise relocate(error, {"Patient": message.at(message.patient_index)}) from None


def _local(reference: str, entries: list[dict[str, Any]], message_id: str) -> dict[str, Any] | None:
    """A reference to another entry of the message, as the partnership can keep it."""
    index = _find(entries, reference)
    if index is None:
        return None
    resource = entries[index]["resource"]
    kind, id_ = resource.get("resourceType"), resource.get("id")
    data = directory()
    known: set[str] = {
        "Organization": set(data.organizations),
        "HealthcareService": set(data.teams),
        "PractitionerRole": set(data.roles),
    }.get(str(kind), set())
    if id_ in known:
        return {"reference": f"{kind}/{id_}"}
    return {"display": f"{kind} carried in BaRS message {message_id}"}


def _resolve_references(value: Any, entries: list[dict[str, Any]], message_id: str) -> Any:
    """Replace references to other entries of the message (`urn:uuid:…`) with what can be kept."""
    if isinstance(value, list):
        return [_resolve_references(v, entries, message_id) for v in value]
    if not isinstance(value, dict):
        return value
    reference = value.get("reference")
    if isinstance(reference, str) and _find(entries, reference) is not None:
        local = _local(reference, entries, message_id)
        kept = {k: v for k, v in value.items() if k not in ("reference", "type")}
        return {**kept, **(local or {})}
    return {k: _resolve_references(v, entries, message_id) for k, v in value.items()}


def referral(message: Message, patient_id: str, caller: str) -> dict[str, Any]:
    """The ServiceRequest the referrals service receives."""
    request = {k: v for k, v in copy.deepcopy(message.request).items() if k not in ("id", "meta")}
    request.pop("subject", None)
    requester = request.pop("requester", None)
    request = dict(_resolve_references(request, message.entries, message.bundle_id))
    request["subject"] = {"reference": f"Patient/{patient_id}"}
    if not request.get("performer"):
        # BaRS names the receiving service as the MessageHeader's destination receiver.
        receivers = [d.get("receiver") for d in message.header.get("destination") or [] if d.get("receiver")]
        if receivers:
            receiver = _resolve_references(receivers[0], message.entries, message.bundle_id)
            if str(receiver.get("reference", "")).startswith("HealthcareService/"):
                request["performer"] = [receiver]
    request["requester"] = {"reference": message.sender.requester, "display": message.sender.name}
    if isinstance(requester, dict) and requester.get("reference"):
        local = _local(requester["reference"], message.entries, message.bundle_id)
        if local and local.get("reference", "").startswith("PractitionerRole/"):
            request["requester"] = local
    categories = [
        {**c, "coding": [x for x in c.get("coding") or [] if x.get("system") != CS_SOURCE]}
        for c in request.get("category") or []
    ]
    categories = [c for c in categories if c.get("coding") or c.get("text")]
    categories.append({"coding": [{"system": CS_SOURCE, "code": message.sender.source}]})
    request["category"] = categories
    request["identifier"] = [
        {"system": MESSAGE_IDENTIFIER, "value": f"{caller}:{message.bundle_id}"},
        *[i for i in request.get("identifier") or [] if i.get("system") != MESSAGE_IDENTIFIER],
    ]
    return request


def response_message(message: Message, created: dict[str, Any], gateway: str, now: str) -> dict[str, Any]:
    """The synchronous answer: a message Bundle acknowledging the request, focused on the referral."""
    header_id = str(uuid.uuid4())
    referral_url = f"{gateway}/ServiceRequest/{created['id']}"
    source = (message.header.get("source") or {}).get("endpoint")
    header: dict[str, Any] = {
        "resourceType": "MessageHeader",
        "id": header_id,
        "meta": {"lastUpdated": now},
        "eventCoding": {"system": MESSAGE_EVENTS, "code": EVENT_REFERRAL},
        "source": {
            "name": "Continuum gateway (North London Mental Health Partnership)",
            "endpoint": f"{gateway}/$process-message",
        },
        "sender": {"reference": "Organization/nlmhp", "display": directory().organizations["nlmhp"].name},
        "response": {"identifier": message.bundle_id, "code": "ok"},
        "focus": [{"reference": referral_url}],
    }
    if source:
        header["destination"] = [{"endpoint": source, "receiver": {"reference": message.sender.reference}}]
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": now},
        "type": "message",
        "timestamp": now,
        "entry": [
            {"fullUrl": f"urn:uuid:{header_id}", "resource": header},
            {"fullUrl": referral_url, "resource": created},
        ],
    }


async def _create_referral(
    services: Services, request: Request, body: dict[str, Any], identifier: str, gateway: str, at: str
) -> dict[str, Any]:
    """POST the referral to the referrals service (idempotent by the message identifier)."""
    headers = {
        **{
            k: v
            for k, v in request.headers.items()
            if k.lower() in ("authorization", "x-request-id", "x-correlation-id")
        },
        "Content-Type": FHIR_JSON,
        "If-None-Exist": f"identifier={MESSAGE_IDENTIFIER}|{identifier}",
    }
    answer = await services.send(
        "referrals", "POST", "/ServiceRequest", headers=headers, body=orjson.dumps(body), gateway_base=gateway
    )
    if answer.status in (200, 201):
        created: dict[str, Any] = answer.json()
        return created
    raise relocate(_upstream_error(answer.status, answer.body), {"ServiceRequest": at})


def _upstream_error(status: int, body: bytes) -> FhirError:
    """The referrals service's refusal, as an error with the same status and issues."""
    try:
        issues = [
            Issue(
                i.get("code", "processing"),
                i.get("diagnostics", ""),
                tuple(i.get("expression") or ()),
                i.get("severity", "error"),
            )
            for i in orjson.loads(body).get("issue", [])
        ]
    except (orjson.JSONDecodeError, AttributeError):
        issues = []
    kinds: dict[int, type[FhirError]] = {
        400: BadRequest,
        401: Unauthorized,
        403: Forbidden,
        404: NotFound,
        409: Conflict,
        422: Unprocessable,
    }
    kind = kinds.get(status)
    if kind is None:
        return BadGateway(f"The referrals service could not take the referral (HTTP {status})", "referrals")
    error = kind(issues[0].diagnostics if issues else f"The referrals service refused the referral ({status})")
    if issues:
        error.issues = issues
    return error


# ---------------------------------------------------------------- one answer per message


async def _claim(database: Database, key: str, now: Any) -> Answer | None:
    """Claim a message id; the first answer when it was answered before (waits while in progress)."""
    t = tables.idempotency
    for _ in range(200):
        async with database.session(writing=True) as session:
            try:
                await session.execute(insert(t).values(request_id=key, method="POST", path=PATH, created_at=now))
                await session.commit()
                return None
            except IntegrityError:
                await session.rollback()
        async with database.session(writing=False) as session:
            row = (await session.execute(select(t).where(t.c.request_id == key))).first()
        if row is None:
            continue
        if row.status is not None:
            return Answer(row.status, row.body.encode(), orjson.loads(row.headers))
        if row.created_at < now - STALE_AFTER:
            async with database.session(writing=True) as session:
                await session.execute(delete(t).where(t.c.request_id == key, t.c.status.is_(None)))
                await session.commit()
            continue
        await asyncio.sleep(0.05)
    raise Conflict("This message is still being processed; retry shortly", "Bundle.id")


async def _settle(database: Database, key: str, answer: Answer | None) -> None:
    """Keep the answer for repeats, or release the claim (a transient failure may be retried)."""
    t = tables.idempotency
    async with database.session(writing=True) as session:
        if answer is None or answer.status >= 500:
            await session.execute(delete(t).where(t.c.request_id == key))
        else:
            await session.execute(
                update(t)
                .where(t.c.request_id == key)
                .values(status=answer.status, headers=orjson.dumps(answer.headers).decode(), body=answer.body.decode())
            )
        await session.commit()


async def process(request: Request) -> Answer:
    """Check, claim, register, refer and answer one message."""
    caller = principal(request)
    caller.require("ServiceRequest", "c")
    caller.require("Patient", "c")
    check_content_type(request)
    bundle = read_bundle(await read_body(request, body_limit(request)))
    message = check_message(bundle)
    database: Database = request.app.state.database
    key = f"bars:{caller.client_id}:{message.bundle_id}"
    first = await _claim(database, key, request.app.state.clock.now())
    if first is not None:
        return first
    answer: Answer | None = None
    try:
        answer = await _handle(request, message, caller.client_id)
    except FhirError as error:
        answer = error_answer(error)
    finally:
        await _settle(database, key, answer)
    return answer


async def _handle(request: Request, message: Message, caller: str) -> Answer:
    gateway = base_url(request)
    async with unit_of_work(request, writing=True) as ctx:
        patient_id = await person(ctx, message)
        body = referral(message, patient_id, caller)
        created = await _create_referral(
            request.app.state.services,
            request,
            body,
            f"{caller}:{message.bundle_id}",
            gateway,
            message.at(message.request_index),
        )
        answer = response_message(message, created, gateway, instant(ctx.now))
    return Answer(200, orjson.dumps(answer), {"Content-Type": FHIR_JSON})


@router.post(
    "/$process-message",
    summary="Receive a BaRS message (a new referral from a GP, ED, ambulance, police or VCSE sender)",
    openapi_extra=fhir_body_schema("A message Bundle: MessageHeader (servicerequest-request), ServiceRequest, Patient"),
)
async def process_message(request: Request) -> Response:
    """200 with a response message (MessageHeader.response.code = ok), or an OperationOutcome whose
    issues carry the BaRS http-error-code; a repeated Bundle.id gets the first answer again."""
    try:
        answer = await process(request)
    except FhirError as error:
        answer = error_answer(error)
    if answer.status == 200:
        # The audit trail names the person the message was about (the middleware reads this).
        subject = answer.json()["entry"][1]["resource"].get("subject", {}).get("reference")
        request.state.audit_patient = subject
    return Response(answer.body, status_code=answer.status, headers=answer.headers)
