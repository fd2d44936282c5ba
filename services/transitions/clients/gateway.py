"""The gateway as the transitions service uses it: caseloads, patients and referrals, over FHIR.

Services never import each other (architecture.md): this is FHIR over HTTP with the service's own
token. What the other services answer becomes either a typed record or a kit error the client of
this service can act on: an upstream refusal is a 409/422 naming the parameter that led to it, an
unreachable or failing upstream a 502/504.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from services.kit.auth import TokenSource
from services.kit.errors import BadGateway, Conflict, FhirError, GatewayTimeout, Unprocessable

SD = "https://continuum.example.org/fhir/StructureDefinition"
# Wire contracts of the records this service reads (the referrals service and the gateway write them).
EXT_EPISODE_TEAM = f"{SD}/episode-healthcare-service"
EXT_PATIENT_FLAG = f"{SD}/patient-flag"
EXT_BOROUGH = f"{SD}/borough"
_MAX_PAGES = 200
_PAGE = 500
_ID_BATCH = 100


@dataclass(frozen=True)
class PatientRecord:
    """What the gateway's Patient says that transitions needs."""

    id: str
    birth_date: date | None
    high_risk: bool
    borough: str | None


@dataclass(frozen=True)
class EpisodeRecord:
    """A caseload EpisodeOfCare held by the referrals service."""

    id: str
    patient: str
    status: str
    team: str | None
    start: date | None


def _patient(resource: dict[str, Any]) -> PatientRecord:
    flags = {
        coding.get("code")
        for ext in resource.get("extension") or []
        if ext.get("url") == EXT_PATIENT_FLAG
        for coding in (ext.get("valueCodeableConcept") or {}).get("coding") or []
    }
    borough = next((e.get("valueCode") for e in resource.get("extension") or [] if e.get("url") == EXT_BOROUGH), None)
    birth = resource.get("birthDate")
    try:
        born = date.fromisoformat(birth) if isinstance(birth, str) and len(birth) == 10 else None
    except ValueError:
        born = None
    return PatientRecord(str(resource.get("id")), born, "high-risk" in flags, borough)


def _episode(resource: dict[str, Any]) -> EpisodeRecord:
    team = next(
        (
            (e.get("valueReference") or {}).get("reference")
            for e in resource.get("extension") or []
            if e.get("url") == EXT_EPISODE_TEAM
        ),
        None,
    )
    start = ((resource.get("period") or {}).get("start") or "")[:10]
    try:
        started = date.fromisoformat(start) if start else None
    except ValueError:
        started = None
    return EpisodeRecord(
        id=str(resource.get("id")),
        patient=str((resource.get("patient") or {}).get("reference")),
        status=str(resource.get("status")),
        team=team,
        start=started,
    )


def _diagnostics(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or "no details"
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        texts = [str(i.get("diagnostics") or i.get("code")) for i in body.get("issue") or []]
        return "; ".join(texts) or "no details"
    return "no details"


class GatewayClient:
    """Typed calls to the partnership's FHIR base (the gateway), with this service's own token."""

    def __init__(self, base_url: str, client: httpx.AsyncClient, token_source: TokenSource | None = None) -> None:
        self.base = base_url.rstrip("/") + "/fhir"
        self.client = client
        self.token_source = token_source

    async def _send(
        self,
        method: str,
        url: str,
        where: str,
        *,
        params: list[tuple[str, str]] | None = None,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = {"Accept": "application/fhir+json", **(headers or {})}
        try:
            if self.token_source is not None:
                sent |= await self.token_source.headers()
            if body is not None:
                sent["Content-Type"] = "application/fhir+json"
            response = await self.client.request(
                method,
                url if url.startswith("http") else f"{self.base}{url}",
                params=httpx.QueryParams(tuple(params)) if params else None,
                json=body,
                headers=sent,
            )
        except httpx.TimeoutException:
            raise GatewayTimeout("The gateway did not answer in time; nothing was changed", where) from None
        except httpx.HTTPError as exc:
            raise BadGateway(f"The gateway is unavailable ({type(exc).__name__}); nothing was changed", where) from None
        if response.status_code in (401, 403) or response.status_code >= 500:
            raise BadGateway(
                f"The gateway answered {response.status_code} to {method} {url}: {_diagnostics(response)}", where
            )
        return response

    async def _json(self, response: httpx.Response, where: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise BadGateway("The gateway answered something that is not JSON", where) from None
        if not isinstance(body, dict):
            raise BadGateway("The gateway answered something that is not a FHIR resource", where)
        return body

    async def _search(self, path: str, params: list[tuple[str, str]], where: str) -> list[dict[str, Any]]:
        """Every match of a search, following `next` links."""
        resources: list[dict[str, Any]] = []
        url: str | None = path
        query: list[tuple[str, str]] | None = [*params, ("_count", str(_PAGE))]
        for _ in range(_MAX_PAGES):
            if url is None:
                break
            response = await self._send("GET", url, where, params=query)
            if response.status_code != 200:
                raise BadGateway(f"A search for {path} failed upstream: {_diagnostics(response)}", where)
            bundle = await self._json(response, where)
            resources += [e["resource"] for e in bundle.get("entry") or [] if isinstance(e.get("resource"), dict)]
            url = next((x.get("url") for x in bundle.get("link") or [] if x.get("relation") == "next"), None)
            query = None  # a next link carries its own query
        return resources

    async def patient(self, reference: str, where: str) -> PatientRecord | None:
        """The Patient a reference names, or None when the gateway does not know it."""
        patient_id = reference.removeprefix("Patient/")
        if not patient_id or "/" in patient_id:
            return None
        response = await self._send("GET", f"/Patient/{patient_id}", where)
        if response.status_code in (400, 404, 410):
            return None
        if response.status_code != 200:
            raise BadGateway(f"Reading {reference} failed upstream: {_diagnostics(response)}", where)
        return _patient(await self._json(response, where))

    async def patients(self, references: list[str], where: str) -> dict[str, PatientRecord]:
        """Several Patients at once (`_id=a,b,c`), by reference."""
        ids = sorted({r.removeprefix("Patient/") for r in references})
        found: dict[str, PatientRecord] = {}
        for start in range(0, len(ids), _ID_BATCH):
            batch = ids[start : start + _ID_BATCH]
            for resource in await self._search("/Patient", [("_id", ",".join(batch))], where):
                record = _patient(resource)
                found[f"Patient/{record.id}"] = record
        return found

    async def episodes_of(self, patient: str, where: str) -> list[EpisodeRecord]:
        """A person's episodes of care at every team."""
        return [_episode(r) for r in await self._search("/EpisodeOfCare", [("patient", patient)], where)]

    async def caseload(self, teams: list[str], statuses: tuple[str, ...], where: str) -> list[EpisodeRecord]:
        """The episodes of care held by some teams, in some statuses."""
        params = [("team", ",".join(teams)), ("status", ",".join(statuses))]
        return [_episode(r) for r in await self._search("/EpisodeOfCare", params, where)]

    async def refer(self, service_request: dict[str, Any], where: str) -> str:
        """Send a referral to the referrals service; returns its id.

        The referral carries an identifier and is sent with `If-None-Exist` on it, so a retry (or
        a concurrent request for the same step) finds the first referral instead of making another.
        """
        identifier = service_request["identifier"][0]
        criteria = f"identifier={identifier['system']}|{identifier['value']}"
        response = await self._send(
            "POST", "/ServiceRequest", where, body=service_request, headers={"If-None-Exist": criteria}
        )
        if response.status_code in (200, 201):
            created = await self._json(response, where)
            return str(created.get("id"))
        error: type[FhirError] = Conflict if response.status_code in (409, 412) else Unprocessable
        raise error(f"The referrals service refused the referral: {_diagnostics(response)}", where)
