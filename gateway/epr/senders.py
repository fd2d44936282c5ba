"""Simulated external senders (FR-75) and the BaRS referral messages they send.

Five kinds of organisation outside the partnership refer people into it: GP practices, acute
emergency departments, the London Ambulance Service, the Metropolitan Police and a voluntary
sector (VCSE) organisation. Each is an Organization of the reference directory; the referral
source a message gets (`referral-source` CodeSystem) follows from who sent it, not from what
the message says about itself.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.epr.bars import (
    BUNDLE_PROFILE,
    EVENT_REFERRAL,
    HEADER_PROFILE,
    MESSAGE_CATEGORY,
    MESSAGE_EVENTS,
    MESSAGE_REASONS,
    ODS_CODE,
    REFERRAL_DEFINITION,
)
from reference.partnership import Borough, directory
from services.kit.clock import instant

# The referrals service's referral-source CodeSystem (services/referrals/domain/codes.py); the
# gateway talks to services over HTTP only, so it names the codes rather than importing them.
CS_SOURCE = "https://continuum.example.org/fhir/CodeSystem/referral-source"


@dataclass(frozen=True)
class Sender:
    """A simulated external sender: an organisation and the referral source it stands for."""

    kind: str
    source: str
    organization: str
    requester: str
    ods: str | None = None

    @property
    def name(self) -> str:
        """The organisation's name in the directory."""
        return directory().organizations[self.organization].name

    @property
    def reference(self) -> str:
        """The sender as a literal reference (MessageHeader.sender)."""
        return f"Organization/{self.organization}"


def _senders() -> tuple[Sender, ...]:
    gps = tuple(Sender("gp", "gp", f"{b}-gp-practice", f"PractitionerRole/{b}-gp-gp", None) for b in Borough)
    return (
        *gps,
        Sender("emergency-department", "emergency-department", "royal-free", "Organization/royal-free", "RAL"),
        Sender("emergency-department", "emergency-department", "whittington", "Organization/whittington", "RKE"),
        Sender("ambulance", "ambulance", "las", "Organization/las", "RRU"),
        Sender("police", "police", "met-police", "Organization/met-police", None),
        Sender("vcse", "vcse", "mind-ncl", "Organization/mind-ncl", None),
    )


SENDERS: tuple[Sender, ...] = _senders()
KINDS: tuple[str, ...] = ("gp", "emergency-department", "ambulance", "police", "vcse")


def sender_of(kind: str, borough: Borough | str | None = None) -> Sender:
    """The sender of a kind (a GP practice is per borough; other kinds serve all five)."""
    for sender in SENDERS:
        if sender.kind != kind:
            continue
        if kind == "gp" and borough is not None and sender.organization != f"{borough}-gp-practice":
            continue
        return sender
    raise KeyError(kind)


def identify(reference: str | None, resource: dict[str, Any] | None = None) -> Sender | None:
    """The sender a MessageHeader.sender names: a literal reference, or an Organization carried
    in the message (by its id or its ODS code)."""
    candidates = {reference} if reference else set()
    if resource is not None:
        kind, id_ = resource.get("resourceType"), resource.get("id")
        if kind and id_:
            candidates.add(f"{kind}/{id_}")
        for identifier in resource.get("identifier") or []:
            if identifier.get("system") == ODS_CODE and identifier.get("value"):
                candidates.add(f"ods:{identifier['value']}")
    for sender in SENDERS:
        names = {sender.reference, sender.requester}
        if sender.ods:
            names.add(f"ods:{sender.ods}")
        if candidates & names:
            return sender
    return None


def default_performer(kind: str, borough: Borough | str) -> str:
    """Where a sender of this kind usually refers someone from a borough (a HealthcareService)."""
    return {
        "gp": f"HealthcareService/{borough}-spa",
        "emergency-department": "HealthcareService/ncl-liaison",
        "ambulance": f"HealthcareService/{borough}-crhtt",
        "police": "HealthcareService/ncl-place-of-safety",
        "vcse": f"HealthcareService/{borough}-spa",
    }[kind]


def referral_message(
    sender: Sender,
    patient: dict[str, Any],
    performer: str,
    reason: str,
    *,
    now: datetime,
    bundle_id: str | None = None,
    priority: str | None = None,
    endpoint: str | None = None,
) -> dict[str, Any]:
    """A BaRS `servicerequest-request` message: MessageHeader, ServiceRequest, Patient, sender.

    Every entry has a `urn:uuid` fullUrl; the MessageHeader's focus is the ServiceRequest, the
    ServiceRequest's subject the Patient entry, and its requester the sender.
    """
    stamp = instant(now)
    ids = {name: str(uuid.uuid5(uuid.NAMESPACE_URL, f"{bundle_id or uuid.uuid4()}/{name}")) for name in _ENTRIES}
    url = {name: f"urn:uuid:{value}" for name, value in ids.items()}
    organization: dict[str, Any] = {
        "resourceType": "Organization",
        "id": sender.organization,
        "meta": {"lastUpdated": stamp},
        "name": sender.name,
    }
    if sender.ods:
        organization["identifier"] = [{"system": ODS_CODE, "value": sender.ods}]
    service_request: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": ids["request"],
        "meta": {"lastUpdated": stamp},
        "status": "active",
        "intent": "plan",
        "category": [{"coding": [{"system": MESSAGE_CATEGORY, "code": "referral", "display": "Referral"}]}],
        "subject": {"reference": url["patient"]},
        "requester": {"reference": url["sender"], "display": sender.name},
        "performer": [{"reference": performer}],
        "reasonCode": [{"text": reason}],
        "authoredOn": stamp,
    }
    if priority:
        service_request["priority"] = priority
    header: dict[str, Any] = {
        "resourceType": "MessageHeader",
        "id": ids["header"],
        "meta": {"lastUpdated": stamp, "profile": [HEADER_PROFILE]},
        "eventCoding": {"system": MESSAGE_EVENTS, "code": EVENT_REFERRAL},
        "reason": {"coding": [{"system": MESSAGE_REASONS, "code": "new"}]},
        "source": {
            "name": sender.name,
            "software": "Continuum sender simulator",
            "endpoint": endpoint or f"https://senders.continuum.example.org/{sender.organization}",
        },
        "destination": [{"endpoint": "https://continuum.example.org/fhir/$process-message"}],
        "sender": {"reference": url["sender"], "display": sender.name},
        "focus": [{"reference": url["request"]}],
        "definition": REFERRAL_DEFINITION,
    }
    person = {k: v for k, v in patient.items() if k not in ("id", "meta")}
    person["id"] = ids["patient"]
    person["meta"] = {"lastUpdated": stamp}
    return {
        "resourceType": "Bundle",
        "id": bundle_id or str(uuid.uuid4()),
        "meta": {"lastUpdated": stamp, "versionId": "1.0.0", "profile": [BUNDLE_PROFILE]},
        "type": "message",
        "timestamp": stamp,
        "entry": [
            {"fullUrl": url["header"], "resource": header},
            {"fullUrl": url["request"], "resource": service_request},
            {"fullUrl": url["patient"], "resource": person},
            {"fullUrl": url["sender"], "resource": organization},
        ],
    }


_ENTRIES = ("header", "request", "patient", "sender")
