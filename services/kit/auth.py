"""Access tokens: every process verifies them itself, so bypassing the gateway gains nothing.

Tokens are RS256 JWTs issued by the gateway's token endpoint, carrying SMART v2-style scopes
(`system/ServiceRequest.cruds`, `user/Task.u`, `system/*.rs`) and, for clinicians, a `fhirUser`
claim naming the acting PractitionerRole. The bare scope `validate` lets an interface engineer
call `$validate` without any right to read or write records.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import Request

from services.kit.errors import Forbidden, Unauthorized
from services.kit.settings import ServiceSettings

Interaction = Literal["c", "r", "u", "d", "s"]
ISSUER = "https://continuum.example.org/auth"
AUDIENCE = "https://continuum.example.org/fhir"
_SCOPE = re.compile(r"^(patient|user|system)/(\*|[A-Z][A-Za-z]+)\.(\*|read|write|c?r?u?d?s?)$")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="continuum"'}


@dataclass(frozen=True)
class Principal:
    """Who is calling and what they may do."""

    client_id: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    fhir_user: str | None = None
    purpose: str | None = None

    @property
    def is_user(self) -> bool:
        """A clinician acting through a client (their PractitionerRole is `fhir_user`)."""
        return self.fhir_user is not None

    def allows(self, resource_type: str, interaction: Interaction) -> bool:
        """Whether any scope grants `interaction` on `resource_type`."""
        for scope in self.scopes:
            match = _SCOPE.match(scope)
            if not match:
                continue
            _, kind, permissions = match.groups()
            if kind not in ("*", resource_type):
                continue
            if permissions == "*":
                return True
            if permissions == "read":
                permissions = "rs"
            elif permissions == "write":
                permissions = "cud"
            if interaction in permissions:
                return True
        return False

    def require(self, resource_type: str, interaction: Interaction) -> None:
        """403 unless a scope grants the interaction."""
        if not self.allows(resource_type, interaction):
            raise Forbidden(f"The token's scopes do not allow '{interaction}' on {resource_type}", "Authorization")


# The published definitions (profiles, code systems, value sets, operations) the gateway serves.
CONFORMANCE_TYPES = frozenset({"StructureDefinition", "CodeSystem", "ValueSet", "OperationDefinition"})

OPEN = Principal("anonymous-development", frozenset({"system/*.cruds", "validate"}))


class Verifier:
    """Checks bearer tokens against the gateway's public key (or lets everything through when off)."""

    def __init__(self, public_key_pem: str | None) -> None:
        # Parsed once: handing PyJWT the PEM text would parse the key again on every request.
        self.public_key: Any = load_pem_public_key(public_key_pem.encode()) if public_key_pem else None

    @classmethod
    def from_file(cls, path: str | None) -> Verifier:
        """A verifier for the PEM file at `path`; None turns verification off (development only)."""
        return cls(Path(path).read_text() if path else None)

    @property
    def enabled(self) -> bool:
        """Whether tokens are checked."""
        return self.public_key is not None

    def verify(self, token: str) -> Principal:
        """The principal a token names, or 401."""
        assert self.public_key is not None
        try:
            claims = jwt.decode(token, self.public_key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER)
        except jwt.ExpiredSignatureError:
            raise Unauthorized("The access token has expired", "Authorization", headers=_CHALLENGE) from None
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"The access token is not valid: {exc}", "Authorization", headers=_CHALLENGE) from None
        return Principal(
            client_id=str(claims.get("client_id") or claims.get("sub")),
            scopes=frozenset(str(claims.get("scope", "")).split()),
            fhir_user=claims.get("fhirUser"),
            purpose=claims.get("purpose_of_use"),
        )

    def authenticate(self, request: Request) -> Principal:
        """The caller of a request: 401 without a valid bearer token (when verification is on)."""
        if not self.enabled:
            return OPEN
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("A bearer access token is required", "Authorization", headers=_CHALLENGE)
        return self.verify(token.strip())


class TokenSource:
    """A service's own access token, fetched from the token endpoint and reused until near expiry."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, client: Any = None) -> None:
        import httpx

        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.client = client or httpx.AsyncClient(timeout=10.0)
        self._token: str | None = None
        self._expires = 0.0

    async def headers(self) -> dict[str, str]:
        """An Authorization header with a valid token."""
        if self._token is None or time.monotonic() > self._expires:
            response = await self.client.post(
                self.token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                },
            )
            response.raise_for_status()
            grant = response.json()
            self._token = grant["access_token"]
            self._expires = time.monotonic() + float(grant.get("expires_in", 300)) - 60
        return {"Authorization": f"Bearer {self._token}"}


def interaction_for(method: str, path: str) -> tuple[str, Interaction | Literal["validate"]] | None:
    """The resource type and interaction a FHIR request path means (None for non-resource paths).

    `/fhir/Type` GET is search, POST create; `/fhir/Type/id` GET read, PUT update, DELETE delete;
    an instance operation that POSTs changes the resource (update); `$validate` is its own right.
    """
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2 or parts[0] != "fhir" or not parts[1][:1].isupper():
        return None
    kind, rest = parts[1], parts[2:]
    if rest and rest[-1] == "$validate":
        return kind, "validate"
    if not rest:
        return kind, "s" if method == "GET" else "c"
    if rest[0].startswith("$"):  # type-level operation
        return kind, "s" if method == "GET" else "c"
    if method in ("GET", "HEAD"):
        return kind, "r"
    if method == "DELETE":
        return kind, "d"
    return kind, "u"


def authorize(principal: Principal, method: str, path: str) -> None:
    """403 unless the principal's scopes cover the request."""
    found = interaction_for(method, path)
    if found is None:
        return
    kind, interaction = found
    if interaction == "validate":
        if "validate" in principal.scopes or principal.allows(kind, "c"):
            return
        raise Forbidden(f"The token's scopes do not allow $validate on {kind}", "Authorization")
    if kind in CONFORMANCE_TYPES and interaction in ("r", "s") and "validate" in principal.scopes:
        return  # what $validate checks against is readable with the right to validate
    principal.require(kind, interaction)


def service_token_source(settings: ServiceSettings, client: Any = None) -> TokenSource | None:
    """The service's own credentials for calling the gateway, when configured."""
    if settings.token_url and settings.client_id and settings.client_secret:
        return TokenSource(settings.token_url, settings.client_id, settings.client_secret.get_secret_value(), client)
    return None
