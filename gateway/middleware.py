"""Request ids and the audit trail: every FHIR request through the gateway leaves an AuditEvent (FR-71)."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import parse_qs

from gateway import tables
from services.kit.auth import Principal
from services.kit.clock import Clock, instant
from services.kit.db import Database
from services.kit.errors import Issue, operation_outcome
from services.kit.http import fhir_response
from services.kit.repository import ResourceRepository

log = logging.getLogger("continuum.gateway")
_ACTIONS = {"GET": "R", "HEAD": "R", "POST": "C", "PUT": "U", "PATCH": "U", "DELETE": "D"}
_ASGI = dict[str, Any]


_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def _patient_of(path: str, query: str) -> str | None:
    parts = [p for p in path.split("/") if p]
    candidate = None
    if len(parts) >= 3 and parts[1] == "Patient" and not parts[2].startswith("$"):
        candidate = parts[2]
    params = parse_qs(query)
    for name in ("patient", "subject"):
        if candidate is None and params.get(name):
            candidate = params[name][0].removeprefix("Patient/")
    # Only a well-formed id names a patient; anything else is kept in the request text only.
    return f"Patient/{candidate}" if candidate and _FHIR_ID.match(candidate) else None


def audit_event(
    principal: Principal | None,
    method: str,
    path: str,
    query: str,
    status: int,
    now_text: str,
    request_id: str,
    patient_hint: str | None = None,
) -> dict[str, Any]:
    """The AuditEvent for one request: who, what, when, why and how it ended."""
    parts = [p for p in path.split("/") if p]
    action = "E" if any(p.startswith("$") for p in parts) else _ACTIONS.get(method, "E")
    outcome = "0" if status < 400 else ("4" if status < 500 else "8")
    who: dict[str, Any] = (
        {"reference": principal.fhir_user}
        if principal and principal.fhir_user
        else {"display": principal.client_id if principal else "anonymous"}
    )
    agent: dict[str, Any] = {"who": who, "requestor": True}
    if principal and principal.purpose:
        agent["purposeOfUse"] = [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": principal.purpose}]}
        ]
    if principal and principal.fhir_user:
        agent["altId"] = principal.client_id
    entity: list[dict[str, Any]] = [{"what": {"display": f"{method} {path}{'?' + query if query else ''}"}}]
    patient = _patient_of(path, query) or (
        patient_hint if patient_hint and _FHIR_ID.match(patient_hint.removeprefix("Patient/")) else None
    )
    if patient:
        entity.append(
            {
                "what": {"reference": patient},
                "role": {
                    "code": "1",
                    "system": "http://terminology.hl7.org/CodeSystem/object-role",
                    "display": "Patient",
                },
            }
        )
    return {
        "resourceType": "AuditEvent",
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
        "action": action,
        "recorded": now_text,
        "outcome": outcome,
        "outcomeDesc": f"HTTP {status}; X-Request-ID {request_id}",
        "agent": [agent],
        "source": {"observer": {"display": "Continuum gateway"}},
        "entity": entity,
    }


class GatewayMiddleware:
    """Mirrors X-Request-ID and X-Correlation-ID, and writes an AuditEvent for each FHIR request."""

    def __init__(self, app: Any, database_of: Any, clock_of: Any) -> None:
        self.app = app
        self.database_of = database_of
        self.clock_of = clock_of

    async def __call__(self, scope: _ASGI, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        request_id = headers.get("x-request-id") or str(uuid.uuid4())
        correlation_id = headers.get("x-correlation-id") or request_id
        status_holder: dict[str, int] = {}

        async def send_with_ids(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                # The audit record is written before the answer leaves: a client that reads the
                # trail straight after always finds its request there.
                await self._after(scope, message["status"], request_id, correlation_id)
                extra = [(b"x-request-id", request_id.encode()), (b"x-correlation-id", correlation_id.encode())]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_ids)
        except Exception as exc:
            if "status" in status_holder:
                raise
            # Answer here, so even an unexpected failure carries the request ids and is audited.
            log.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"), exc_info=exc)
            response = fhir_response(
                operation_outcome([Issue("exception", "An unexpected error occurred; it has been logged")]), 500
            )
            await response(scope, receive, send_with_ids)

    async def _after(self, scope: _ASGI, status: int, request_id: str, correlation_id: str) -> None:
        path = scope.get("path", "")
        log.info("%s %s -> %s request=%s correlation=%s", scope.get("method"), path, status, request_id, correlation_id)
        if path.startswith("/fhir/") and not path.startswith("/fhir/metadata") and "/AuditEvent" not in path:
            await self._audit(scope, path, status, request_id)

    async def _audit(self, scope: _ASGI, path: str, status: int, request_id: str) -> None:
        state = scope.get("state") or {}
        principal = state.get("principal")
        database: Database = self.database_of()
        clock: Clock = self.clock_of()
        now = clock.now()
        event = audit_event(
            principal,
            scope["method"],
            path,
            scope.get("query_string", b"").decode(),
            status,
            instant(now),
            request_id,
            state.get("audit_patient"),
        )
        try:
            async with database.session(writing=True) as session:
                repo = ResourceRepository(session, tables.KINDS["AuditEvent"], tables.history)
                # Audit records are never changed, so they need no version history.
                await repo.create(event, str(uuid.uuid4()), now, remember=False)
                await session.commit()
        except Exception:
            log.exception("could not write the audit event for %s %s", scope["method"], path)
