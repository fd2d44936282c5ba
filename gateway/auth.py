"""The token endpoint (OAuth2 client credentials) and the development keys and clients.

Development keys and client secrets are generated into `var/` on first `make run` and never
committed. A client may ask for a subset of its scopes; the clinicians' client may also name the
PractitionerRole the clinician acts as (the development identity provider), which becomes the
token's `fhirUser` claim.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from reference.partnership import directory
from services.kit.auth import AUDIENCE, ISSUER
from services.kit.errors import BadRequest, Issue, Unauthorized

OAUTH_ERRORS = "urn:ietf:rfc:6749"


@dataclass(frozen=True)
class Client:
    """A registered client: its secret, the scopes it may hold, and whether it acts for clinicians."""

    id: str
    secret: str
    scopes: frozenset[str]
    acts_for_clinicians: bool = False
    purpose: str = "TREAT"
    acts_for_carers: bool = False


DEFAULT_CLIENTS: dict[str, dict[str, Any]] = {
    "epr-beh": {"scopes": ["system/*.cruds"], "purpose": "TREAT"},
    "epr-ci": {"scopes": ["system/*.cruds"], "purpose": "TREAT"},
    "clinician-app": {"scopes": ["user/*.cruds"], "acts_for_clinicians": True},
    "interface-engineer": {"scopes": ["validate"]},
    "gateway": {"scopes": ["system/*.cruds", "events"]},
    "referrals": {"scopes": ["system/*.cruds", "events"]},
    "careplans": {"scopes": ["system/*.cruds", "events"]},
    "transitions": {"scopes": ["system/*.cruds", "events"]},
    "simulator": {"scopes": ["system/*.cruds"]},
    # Partners under data-sharing agreements (gateway/sharing.py) and the carers' portal.
    "vcse-mind": {
        "scopes": ["system/CarePlan.rs", "system/Encounter.c", "system/Patient.r", "system/Flag.rs"],
        "purpose": "TREAT",
    },
    "crisis-line": {"scopes": ["system/CarePlan.rs", "system/Patient.rs"], "purpose": "ETREAT"},
    "research-partner": {"scopes": ["system/ServiceRequest.s"], "purpose": "HRESCH"},
    "carer-portal": {"scopes": ["user/CarePlan.rs"], "acts_for_carers": True},
}


def generate_development_keys(folder: Path) -> None:
    """Create the signing key pair and client secrets once (kept out of version control in var/)."""
    folder.mkdir(parents=True, exist_ok=True)
    private_path, public_path = folder / "jwt-private.pem", folder / "jwt-public.pem"
    if not private_path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        private_path.chmod(0o600)
        public_path.write_bytes(
            key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
    clients_path = folder / "dev-clients.json"
    known = json.loads(clients_path.read_text()) if clients_path.exists() else {}
    # New clients are added to an existing file; existing secrets are kept.
    clients = {
        cid: known.get(cid) or {"secret": secrets.token_urlsafe(24), **spec} for cid, spec in DEFAULT_CLIENTS.items()
    }
    if clients != known:
        clients_path.write_text(json.dumps(clients, indent=2) + "\n")
        clients_path.chmod(0o600)


def load_clients(path: Path) -> dict[str, Client]:
    """The registered clients."""
    raw = json.loads(path.read_text())
    return {
        cid: Client(
            cid,
            spec["secret"],
            frozenset(spec["scopes"]),
            spec.get("acts_for_clinicians", False),
            spec.get("purpose", "TREAT"),
            spec.get("acts_for_carers", False),
        )
        for cid, spec in raw.items()
    }


class TokenIssuer:
    """Issues signed access tokens to registered clients."""

    def __init__(self, private_key_pem: str, clients: dict[str, Client], lifetime_seconds: int = 3600) -> None:
        self.private_key = private_key_pem
        self.clients = clients
        self.lifetime = lifetime_seconds

    def issue(self, client: Client, scopes: frozenset[str], fhir_user: str | None = None) -> dict[str, Any]:
        """A token response for a client that has already been authenticated."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": fhir_user or client.id,
            "client_id": client.id,
            "scope": " ".join(sorted(scopes)),
            "iat": now,
            "exp": now + self.lifetime,
            "jti": secrets.token_hex(8),
            "purpose_of_use": client.purpose,
        }
        if fhir_user:
            claims["fhirUser"] = fhir_user
        token = jwt.encode(claims, self.private_key, algorithm="RS256")
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.lifetime, "scope": claims["scope"]}

    def grant(self, body: bytes, authorization: str | None) -> dict[str, Any]:
        """Answer a client-credentials token request (form-encoded, RFC 6749 section 4.4)."""
        form = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
        if form.get("grant_type") != "client_credentials":
            raise _oauth(BadRequest, "unsupported_grant_type", "Only grant_type=client_credentials is supported")
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            import base64

            decoded = base64.b64decode(authorization[6:]).decode(errors="replace")
            client_id, _, secret = decoded.partition(":")
        client = self.clients.get(client_id or "")
        if client is None or not secret or not secrets.compare_digest(secret, client.secret):
            raise _oauth(Unauthorized, "invalid_client", "Unknown client or wrong secret")
        asked = frozenset(form["scope"].split()) if form.get("scope") else client.scopes
        if not asked <= client.scopes:
            raise _oauth(
                BadRequest, "invalid_scope", f"The client may not hold: {' '.join(sorted(asked - client.scopes))}"
            )
        fhir_user = form.get("fhir_user")
        if client.acts_for_carers:
            # The carers' portal acts for one carer (a RelatedPerson); what they see is then
            # governed by the person's consent (FR-40, FR-72).
            if not fhir_user or not fhir_user.startswith("RelatedPerson/"):
                raise _oauth(
                    BadRequest, "invalid_request", "Name the carer the portal acts for (fhir_user=RelatedPerson/..)"
                )
        elif fhir_user is not None:
            if not client.acts_for_clinicians:
                raise _oauth(BadRequest, "invalid_request", "This client does not act for clinicians")
            if fhir_user.removeprefix("PractitionerRole/") not in directory().roles:
                raise _oauth(BadRequest, "invalid_request", f"{fhir_user} is not a PractitionerRole")
            fhir_user = f"PractitionerRole/{fhir_user.removeprefix('PractitionerRole/')}"
        elif client.acts_for_clinicians:
            raise _oauth(BadRequest, "invalid_request", "Name the PractitionerRole the clinician acts as (fhir_user)")
        return self.issue(client, asked, fhir_user)


def _oauth(kind: type[BadRequest] | type[Unauthorized], code: str, text: str) -> BadRequest | Unauthorized:
    error = kind(text, "grant")
    error.issues = [Issue(error.code, f"{code}: {text}", ("grant",))]
    return error
