"""The gateway as the transitions service sees it, faked with httpx.MockTransport.

It serves Patients (the gateway's own) and EpisodeOfCare searches (the referrals service's,
proxied), and takes referrals the way the referrals service does: an `If-None-Exist` on the
identifier returns the first referral, and a referral missing what the referrals service
requires is refused with its OperationOutcome.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import orjson

from services.transitions.clients.gateway import EXT_BOROUGH, EXT_EPISODE_TEAM, EXT_PATIENT_FLAG
from services.transitions.domain.codes import CS_REFERRAL_SOURCE

GATEWAY = "http://gateway.test"


def _fhir(status: int, body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(status, content=orjson.dumps(body), headers={"Content-Type": "application/fhir+json"})


def _outcome(status: int, code: str, text: str, expression: str | None = None) -> httpx.Response:
    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": text}
    if expression:
        issue["expression"] = [expression]
    return _fhir(status, {"resourceType": "OperationOutcome", "issue": [issue]})


@dataclass
class FakeGateway:
    """Patients, caseload episodes and the referrals sent, in memory."""

    patients: dict[str, dict[str, Any]] = field(default_factory=dict)
    episodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    referrals: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    down: bool = False
    refuse_referrals: tuple[int, str] | None = None
    page_size: int | None = None

    def add_patient(self, id_: str, birth_date: str | None, *, high_risk: bool = False, borough: str = "barnet") -> str:
        """Register a Patient; returns `Patient/{id}`."""
        extensions: list[dict[str, Any]] = [{"url": EXT_BOROUGH, "valueCode": borough}]
        if high_risk:
            extensions.append({"url": EXT_PATIENT_FLAG, "valueCodeableConcept": {"coding": [{"code": "high-risk"}]}})
        patient: dict[str, Any] = {"resourceType": "Patient", "id": id_, "extension": extensions}
        if birth_date:
            patient["birthDate"] = birth_date
        self.patients[id_] = patient
        return f"Patient/{id_}"

    def add_episode(
        self, patient: str, team: str = "barnet-cypmhs", status: str = "active", id_: str | None = None
    ) -> str:
        """Put a person on a team's caseload; returns `EpisodeOfCare/{id}`."""
        episode_id = id_ or f"eoc-{len(self.episodes) + 1}"
        self.episodes[episode_id] = {
            "resourceType": "EpisodeOfCare",
            "id": episode_id,
            "status": status,
            "patient": {"reference": patient},
            "period": {"start": "2024-01-10T09:00:00.000Z"},
            "extension": [{"url": EXT_EPISODE_TEAM, "valueReference": {"reference": f"HealthcareService/{team}"}}],
        }
        return f"EpisodeOfCare/{episode_id}"

    def young_person(
        self,
        id_: str = "yp-1",
        birth_date: str = "2008-10-01",
        team: str = "barnet-cypmhs",
        *,
        high_risk: bool = False,
    ) -> str:
        """A young person on a CYPMHS caseload."""
        patient = self.add_patient(id_, birth_date, high_risk=high_risk, borough=team.split("-")[0])
        self.add_episode(patient, team)
        return patient

    @property
    def transport(self) -> httpx.MockTransport:
        """The transport the service's gateway client uses."""
        return httpx.MockTransport(self.handle)

    def calls(self, method: str, path: str) -> list[httpx.Request]:
        """The requests made to one route."""
        return [r for r in self.requests if r.method == method and r.url.path == path]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.down:
            raise httpx.ConnectError("gateway is down", request=request)
        path = request.url.path
        query = list(parse_qsl(request.url.query.decode()))
        if request.method == "GET" and path.startswith("/fhir/Patient/"):
            found = self.patients.get(path.removeprefix("/fhir/Patient/"))
            return _fhir(200, found) if found else _outcome(404, "not-found", f"{path} is not known", "id")
        if request.method == "GET" and path == "/fhir/Patient":
            ids = dict(query).get("_id", "").split(",")
            return self._bundle(path, query, [self.patients[i] for i in ids if i in self.patients])
        if request.method == "GET" and path == "/fhir/EpisodeOfCare":
            return self._bundle(path, query, self._episodes(dict(query)))
        if request.method == "POST" and path == "/fhir/ServiceRequest":
            return self._refer(request)
        return _outcome(404, "not-found", f"No route for {request.method} {path}")

    def _episodes(self, query: dict[str, str]) -> list[dict[str, Any]]:
        found = list(self.episodes.values())
        if "patient" in query:
            found = [e for e in found if e["patient"]["reference"] == query["patient"]]
        if "team" in query:
            teams = set(query["team"].split(","))
            found = [e for e in found if e["extension"][0]["valueReference"]["reference"] in teams]
        if "status" in query:
            found = [e for e in found if e["status"] in query["status"].split(",")]
        return found

    def _bundle(self, path: str, query: list[tuple[str, str]], matches: list[dict[str, Any]]) -> httpx.Response:
        values = dict(query)
        count = min(int(values.get("_count", "20")), self.page_size or 500)
        offset = int(values.get("_offset", "0"))
        page = matches[offset : offset + count]
        links = []
        if offset + count < len(matches):
            rest = [(k, v) for k, v in query if k not in ("_count", "_offset")]
            rest += [("_count", str(count)), ("_offset", str(offset + count))]
            links.append({"relation": "next", "url": f"{GATEWAY}{path}?{urlencode(rest)}"})
        return _fhir(
            200,
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(matches),
                "link": links,
                "entry": [{"resource": r, "search": {"mode": "match"}} for r in page],
            },
        )

    def _refer(self, request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        criteria = request.headers.get("if-none-exist", "")
        for existing in self.referrals.values():
            identifier = existing["identifier"][0]
            if criteria == f"identifier={identifier['system']}|{identifier['value']}":
                return _fhir(200, existing)
        if self.refuse_referrals is not None:
            status, text = self.refuse_referrals
            return _outcome(status, "business-rule", text, "ServiceRequest.requester")
        sources = [c.get("code") for c in body["category"][0]["coding"] if c.get("system") == CS_REFERRAL_SOURCE]
        if not sources or not body.get("reasonCode") or body.get("intent") != "order" or not body.get("performer"):
            return _outcome(422, "required", "not a referral the referrals service takes", "ServiceRequest")
        referral_id = str(uuid.uuid4())
        stored = {**body, "id": referral_id, "meta": {"versionId": "1"}}
        self.referrals[referral_id] = stored
        return _fhir(201, stored)


class Network(httpx.AsyncBaseTransport):
    """Routes requests by host to in-process ASGI apps (for the tests that run several services)."""

    def __init__(self) -> None:
        self.apps: dict[str, httpx.AsyncBaseTransport] = {}

    def attach(self, host: str, app: Any) -> None:
        """Serve `host` with an ASGI app."""
        self.apps[host] = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self.apps.get(request.url.host)
        if transport is None:
            raise httpx.ConnectError(f"{request.url.host} is down", request=request)
        return await transport.handle_async_request(request)
