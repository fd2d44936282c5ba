"""Every action is a FHIR call to the gateway, made with the signed-in clinician's token.

The client keeps no data and no rules: what the gateway answers is shown, and what it refuses is
explained from its OperationOutcome.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

FHIR_JSON = "application/fhir+json"
_PARAMETER = re.compile(r"parameter\.where\(name='([^']+)'\)")


@dataclass(frozen=True)
class Problem:
    """One issue of an OperationOutcome, in plain words, with the element it names."""

    text: str
    element: str | None = None
    parameter: str | None = None


class ApiError(Exception):
    """The gateway refused or failed a request."""

    def __init__(self, status: int, problems: list[Problem]) -> None:
        super().__init__(f"HTTP {status}: " + "; ".join(p.text for p in problems))
        self.status = status
        self.problems = problems

    @property
    def summary(self) -> str:
        """What happened to a referral decision, in a sentence a clinician can act on."""
        return self.summary_about("referral", "The referral service could not accept this decision.")

    def summary_about(self, thing: str, refused: str) -> str:
        """What happened to a change of `thing` (a care plan, a transition case ...), in plain words;
        `refused` is the sentence for a broken rule (422)."""
        return {
            400: "The request was not understood.",
            401: "Your sign-in has expired. Please sign in again.",
            403: "You are not allowed to do this for this team or person.",
            404: "This record could not be found.",
            409: f"This cannot be done in the {thing}'s current state.",
            412: f"Someone else changed this {thing} while you were looking at it. Reload it and try again.",
            422: refused,
        }.get(self.status, "The service could not be reached or failed. Please try again.")


def problems_of(response: httpx.Response) -> list[Problem]:
    """The OperationOutcome's issues (or one generic problem when the body is not one)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    problems: list[Problem] = []
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        for issue in body.get("issue", []):
            expressions = issue.get("expression") or []
            element = expressions[0] if expressions else None
            match = _PARAMETER.search(element or "")
            text = issue.get("diagnostics") or issue.get("details", {}).get("text") or issue.get("code", "error")
            problems.append(Problem(str(text), element, match.group(1) if match else None))
    return problems or [Problem(f"The gateway answered HTTP {response.status_code}.")]


def client_secret(clients_file: str, client_id: str) -> str:
    """The clinicians' client secret from the development keys folder."""
    secret: str = json.loads(Path(clients_file).read_text())[client_id]["secret"]
    return secret


@dataclass(frozen=True)
class Gateway:
    """Calls to the gateway's FHIR API."""

    base_url: str
    timeout: float = 15.0

    def _client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Accept": FHIR_JSON}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=self.timeout)

    async def token(self, client_id: str, secret: str, role: str) -> dict[str, Any]:
        """A token for the clinician acting as `PractitionerRole/<role>`."""
        form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "fhir_user": f"PractitionerRole/{role}",
        }
        async with self._client() as client:
            response = await client.post("/auth/token", data=form)
        return _answer(response)

    async def get(self, token: str, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        """GET a FHIR resource or search."""
        async with self._client(token) as client:
            response = await client.get(f"/fhir/{path}", params=params)
        return _answer(response)

    async def operation(
        self, token: str, path: str, parameters: list[dict[str, Any]], version: str | None
    ) -> dict[str, Any]:
        """POST a Parameters resource to a named operation, with If-Match on the version last read
        (`None` for an operation that changes no existing version, such as opening a case)."""
        body = {"resourceType": "Parameters", "parameter": parameters}
        headers = {"Content-Type": FHIR_JSON}
        if version is not None:
            headers["If-Match"] = f'W/"{version}"'
        async with self._client(token) as client:
            response = await client.post(f"/fhir/{path}", content=json.dumps(body), headers=headers)
        return _answer(response)


def _answer(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        raise ApiError(response.status_code, problems_of(response))
    body: dict[str, Any] = response.json()
    return body


def parameter(params: dict[str, Any], name: str) -> Any:
    """The value of the first parameter called `name` in a Parameters resource."""
    for part in params.get("parameter", []):
        if part.get("name") == name:
            for key, value in part.items():
                if key.startswith("value"):
                    return value
    return None


def parts(row: dict[str, Any]) -> dict[str, Any]:
    """A repeated parameter's parts as name -> value."""
    found: dict[str, Any] = {}
    for part in row.get("part", []):
        for key, value in part.items():
            if key.startswith("value"):
                found[part["name"]] = value
    return found
