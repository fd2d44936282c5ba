"""What the simulated world's routes share: the two EPR instances, who may call them, audit."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from gateway.context import Context
from gateway.identity import LOCAL_MRN
from gateway.middleware import audit_event
from gateway.tables import EXT_BOROUGH, KINDS, history
from reference.partnership import TRUST_FOR, Borough, directory
from services.kit.auth import OPEN, Interaction, Principal
from services.kit.clock import instant
from services.kit.db import Database
from services.kit.errors import Forbidden, InvalidStructure, NotFound, Unauthorized
from services.kit.http import body_limit, check_content_type, parse_json, read_body
from services.kit.repository import ResourceRepository
from services.kit.resources import validate

log = logging.getLogger("continuum.gateway.epr")


@dataclass(frozen=True)
class Instance:
    """One simulated EPR instance (one per trust), with its own local patient numbers."""

    id: str
    name: str
    mrn_system: str


INSTANCES: dict[str, Instance] = {
    "beh": Instance("beh", "BEH RiO (simulated)", LOCAL_MRN["beh"]),
    "ci": Instance("ci", "C&I RiO (simulated)", LOCAL_MRN["ci"]),
}


def checked(resource: dict[str, Any], resource_type: str) -> dict[str, Any]:
    """The kit's structural validation, with one gap closed: the FHIR models raise AttributeError
    for some wrongly typed primitives (a number where a url belongs), which must be a 400 too."""
    try:
        return validate(resource, resource_type)
    except AttributeError as error:
        raise InvalidStructure(f"{resource_type} has an element of the wrong type ({error})", resource_type) from None


async def resource_of(request: Request, resource_type: str) -> dict[str, Any]:
    """The request's FHIR JSON body, parsed and structurally validated (400/415/422 otherwise)."""
    check_content_type(request)
    return checked(parse_json(await read_body(request, body_limit(request))), resource_type)


def instance_of(name: str) -> Instance:
    """The instance a path names, or 404 naming it."""
    found = INSTANCES.get(name)
    if found is None:
        raise NotFound(f"{name!r} is not a simulated EPR instance; there are: {', '.join(INSTANCES)}", "instance")
    return found


def principal(request: Request) -> Principal:
    """Who is calling (the kit's guard put them on the request; OPEN when tokens are off)."""
    found = getattr(request.state, "principal", None)
    if isinstance(found, Principal):
        return found
    if request.app.state.verifier.enabled:  # never fail open
        raise Unauthorized("A bearer access token is required", "Authorization")
    return OPEN


def require(request: Request, resource_type: str, *interactions: Interaction) -> Principal:
    """403 unless the caller's scopes allow every interaction on the type."""
    caller = principal(request)
    for interaction in interactions:
        caller.require(resource_type, interaction)
    return caller


def require_instance(request: Request, instance: Instance) -> None:
    """An EPR's own client acts only for its own instance (epr-beh is not the C&I EPR)."""
    caller = principal(request)
    if caller.client_id.startswith("epr-") and caller.client_id != f"epr-{instance.id}":
        raise Forbidden(f"Client {caller.client_id} is not the {instance.name}", "instance")


def require_events(request: Request) -> None:
    """Event deliveries come from the gateway's deliverer, with a service token (scope `events`)."""
    verifier = request.app.state.verifier
    if verifier.enabled and "events" not in principal(request).scopes:
        raise Forbidden("Event deliveries take service tokens with the 'events' scope", "Authorization")


def trust_of_borough(borough: str | None) -> str | None:
    """The responsible trust of a borough: Barnet, Enfield, Haringey → beh; Camden, Islington → ci."""
    try:
        return TRUST_FOR[Borough(borough or "")]
    except ValueError:
        return None


def borough_of(patient: dict[str, Any]) -> str | None:
    """The borough a Patient carries (the borough extension)."""
    for extension in patient.get("extension") or []:
        if extension.get("url") == EXT_BOROUGH:
            value = extension.get("valueCode")
            return value if isinstance(value, str) else None
    return None


def trust_of_reference(reference: str | None) -> str | None:
    """The trust (EPR instance) a team or a worker belongs to, when it is one of the two."""
    kind, _, id_ = (reference or "").partition("/")
    data = directory()
    team_id = None
    if kind == "HealthcareService":
        team_id = id_
    elif kind == "PractitionerRole" and id_ in data.roles:
        team_id = data.roles[id_].team
    team = data.teams.get(team_id or "")
    if team is None or team.organization not in INSTANCES:
        return None
    return team.organization


@asynccontextmanager
async def unit_of_work(request: Request, *, writing: bool) -> AsyncIterator[Context]:
    """A session of the route's own: committed when the block succeeds, rolled back otherwise."""
    database: Database = request.app.state.database
    async with database.session(writing=writing) as session:
        ctx = Context(session, request.app.state.clock.now())
        try:
            yield ctx
        except BaseException:
            await session.rollback()
            raise
        if writing:
            await session.commit()
        else:
            await session.rollback()


async def record_audit(request: Request, status: int, patient_id: str | None) -> None:
    """An AuditEvent for an EPR-simulation request (the middleware audits /fhir/ paths only).

    Written in its own transaction after the request's, so a refused request is audited too.
    """
    database: Database = request.app.state.database
    now = request.app.state.clock.now()
    event = audit_event(
        getattr(request.state, "principal", None),
        request.method,
        request.url.path,
        request.url.query,
        status,
        instant(now),
        request.headers.get("x-request-id", ""),
    )
    event["entity"] = [e for e in event["entity"] if "reference" not in e["what"]]
    if patient_id:
        event["entity"].append(
            {
                "what": {"reference": f"Patient/{patient_id}"},
                "role": {
                    "code": "1",
                    "system": "http://terminology.hl7.org/CodeSystem/object-role",
                    "display": "Patient",
                },
            }
        )
    try:
        async with database.session(writing=True) as session:
            await ResourceRepository(session, KINDS["AuditEvent"], history).create(event, str(uuid.uuid4()), now)
            await session.commit()
    except Exception:
        log.exception("could not write the audit event for %s %s", request.method, request.url.path)
