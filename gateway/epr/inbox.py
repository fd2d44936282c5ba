"""What reaches each simulated EPR: events delivered by Subscriptions, routed by trust (FR-67, FR-73).

The gateway's EPR interface (`POST /epr/events`) is subscribed (rest-hook) to the topics an EPR
records. It routes each event to the instance of

* the sending team's trust (a referral's state changes reach the team that referred: FR-73),
* the receiving team's trust, and
* the person's responsible trust (their borough: Barnet, Enfield, Haringey → BEH; Camden,
  Islington → C&I), so a plan written for a Camden resident lands in the C&I EPR (FR-67),

and stores it once per instance (receivers deduplicate by event id). An integrator may also
subscribe an instance's inbox directly (`POST /epr/{instance}/inbox`), with a filter.

The inboxes are the simulators' own memory: they live as long as the gateway process and hold
the latest `CAPACITY` events per instance.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from gateway import tables
from gateway.epr.common import (
    INSTANCES,
    borough_of,
    instance_of,
    principal,
    require_events,
    require_instance,
    trust_of_borough,
    trust_of_reference,
    unit_of_work,
)
from gateway.events import subscription
from services.kit.clock import instant
from services.kit.db import Database
from services.kit.errors import BadRequest, Forbidden
from services.kit.http import body_limit, dumps, parse_json, read_body
from services.kit.repository import ResourceRepository

router = APIRouter(prefix="/epr", tags=["EPR simulation"])
CAPACITY = 10_000

# What an EPR records: referral state changes, caseload and contact changes, plan milestones.
TOPICS: tuple[str, ...] = (
    "referral-received",
    "referral-accepted",
    "referral-declined",
    "referral-redirected",
    "referral-started",
    "referral-closed",
    "referral-cancelled",
    "referral-escalated",
    "concern-raised",
    "episode-finished",
    "appointment-cancelled",
    "appointment-changed",
    "baseline-outcome-recorded",
    "coproduced-careplan-completed",
    "intervention-started",
)
_TEAM_FIELDS = {
    "requester": "the sending team",
    "requesterTeam": "the sending team",
    "performer": "the receiving team",
    "receivingTeam": "the receiving team",
    "owner": "the receiving team",
    "team": "the team",
}
_PATIENT_FIELDS = ("subject", "patient")


@dataclass(frozen=True)
class Entry:
    """One event as an EPR received it."""

    event: dict[str, Any]
    received_at: datetime
    routed_because: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The entry as the inbox lists it."""
        return {
            "id": self.event.get("id"),
            "type": self.event.get("type"),
            "receivedAt": instant(self.received_at),
            "routedBecause": list(self.routed_because),
            "event": self.event,
        }


class Inboxes:
    """The simulated EPRs' inboxes: per instance, events by id in arrival order."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._boxes: dict[str, OrderedDict[str, Entry]] = {name: OrderedDict() for name in INSTANCES}

    def add(self, instance: str, event: dict[str, Any], now: datetime, because: tuple[str, ...]) -> bool:
        """Store an event once; False when this instance already has it."""
        box = self._boxes[instance]
        event_id = str(event["id"])
        if event_id in box:
            return False
        box[event_id] = Entry(event, now, because)
        while len(box) > self.capacity:
            box.popitem(last=False)
        return True

    def entries(self, instance: str, event_type: str | None = None, subject: str | None = None) -> list[Entry]:
        """What an instance received, oldest first, optionally of one type or about one person."""
        found = list(self._boxes[instance].values())
        if event_type:
            found = [e for e in found if e.event.get("type") == event_type]
        if subject:
            wanted = subject if "/" in subject else f"Patient/{subject}"
            found = [e for e in found if wanted in {e.event.get(f) for f in _PATIENT_FIELDS}]
        return found


def inboxes(app: FastAPI) -> Inboxes:
    """The app's inboxes (created on first use)."""
    found = getattr(app.state, "epr_inboxes", None)
    if not isinstance(found, Inboxes):
        found = Inboxes()
        app.state.epr_inboxes = found
    return found


def _event(raw: bytes) -> dict[str, Any]:
    event = parse_json(raw)
    if not isinstance(event.get("id"), str) or not event["id"] or not isinstance(event.get("type"), str):
        raise BadRequest("An event has a string id and type", "id")
    return event


async def destinations(request: Request, event: dict[str, Any]) -> dict[str, list[str]]:
    """The instances an event goes to, each with why (sending team, receiving team, person)."""
    found: dict[str, list[str]] = {}
    for name, why in _TEAM_FIELDS.items():
        value = event.get(name)
        trust = trust_of_reference(value) if isinstance(value, str) else None
        if trust and why not in found.setdefault(trust, []):
            found[trust].append(why)
    patient = next((event[f] for f in _PATIENT_FIELDS if isinstance(event.get(f), str)), None)
    if patient and patient.startswith("Patient/"):
        async with unit_of_work(request, writing=False) as ctx:
            stored = await ctx.repo("Patient").find(patient.removeprefix("Patient/"))
        trust = trust_of_borough(borough_of(stored.resource())) if stored else None
        if trust:
            found.setdefault(trust, []).append("the person's responsible trust")
    return {k: v for k, v in found.items() if v}


def _answer(text: str) -> Response:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "informational", "diagnostics": text}],
    }
    return Response(dumps(body), media_type="application/fhir+json")


@router.post("/events", summary="The EPR interface: route a delivered event to the EPRs it concerns")
async def route_event(request: Request) -> Response:
    """Store an event in the inbox of each instance it concerns (by trust); 200 even for none."""
    require_events(request)
    event = _event(await read_body(request, body_limit(request)))
    targets = await destinations(request, event)
    boxes = inboxes(request.app)
    now = request.app.state.clock.now()
    stored = [name for name, why in targets.items() if boxes.add(name, event, now, tuple(why))]
    if not targets:
        return _answer(f"Event {event['id']} concerns neither EPR; not stored")
    return _answer(
        f"Event {event['id']} routed to {', '.join(sorted(targets))} (new in: {', '.join(stored) or 'none'})"
    )


@router.post("/{instance}/inbox", summary="Deliver an event to one EPR's inbox")
async def deliver(instance: str, request: Request) -> Response:
    """Store a delivered event in one instance's inbox (a repeated event id is stored once)."""
    epr = instance_of(instance)
    require_events(request)
    event = _event(await read_body(request, body_limit(request)))
    new = inboxes(request.app).add(epr.id, event, request.app.state.clock.now(), ("subscription",))
    return _answer(f"Event {event['id']} {'stored' if new else 'already received'} by the {epr.name}")


@router.get("/{instance}/inbox", summary="What one EPR has received")
async def list_inbox(instance: str, request: Request) -> Response:
    """Events the instance received, oldest first (`type=` and `subject=` filter them)."""
    epr = instance_of(instance)
    caller = principal(request)
    if caller.is_user:
        raise Forbidden("An EPR's inbox is read by systems, not by a clinician's token", "Authorization")
    caller.require("ServiceRequest", "r")
    require_instance(request, epr)
    unknown = set(request.query_params) - {"type", "subject"}
    if unknown:
        raise BadRequest(f"Parameter {sorted(unknown)[0]!r} is not supported; use type and subject", sorted(unknown)[0])
    entries = inboxes(request.app).entries(
        epr.id, request.query_params.get("type"), request.query_params.get("subject")
    )
    body = {"instance": epr.id, "name": epr.name, "total": len(entries), "events": [e.to_json() for e in entries]}
    return Response(dumps(body), media_type="application/json")


async def ensure_epr_subscriptions(database: Database, gateway_url: str, now: datetime) -> int:
    """Subscribe the EPR interface (`{gateway_url}/epr/events`) to every topic; returns how many were new.

    Idempotent: Subscriptions have fixed ids (`epr-<topic>`), repointed if the URL changed.
    """
    endpoint = f"{gateway_url.rstrip('/')}/epr/events"
    created = 0
    async with database.session(writing=True) as session:
        repo = ResourceRepository(session, tables.KINDS["Subscription"], tables.history)
        for topic in TOPICS:
            wanted = subscription(f"epr-{topic}", topic, endpoint)
            current = await repo.find(wanted["id"])
            if current is None:
                await repo.create(wanted, wanted["id"], now)
                created += 1
            elif current.resource()["channel"]["endpoint"] != endpoint:
                await repo.update(wanted, current, now)
        await session.commit()
    return created
