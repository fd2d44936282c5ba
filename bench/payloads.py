"""What the benchmarks send, built as an integrator builds it (the shapes of tests/referrals/builders.py)."""

from __future__ import annotations

from typing import Any

from gateway.identity import NHS_NUMBER
from services.referrals.domain.codes import CS_SOURCE, EXT_HEALTHCARE_SERVICE

FHIR = {"Content-Type": "application/fhir+json"}
REQUESTER = "PractitionerRole/barnet-core-north-worker"
REQUESTER_TEAM = "HealthcareService/barnet-core-north"
PERFORMER = "HealthcareService/barnet-psychosis"


def nhs_number(stem: int) -> str:
    """A valid NHS number (Modulus 11) from a nine-digit stem (the next stem whose check digit exists)."""
    while True:
        digits = f"{stem:09d}"
        total = sum(int(d) * w for d, w in zip(digits, range(10, 1, -1), strict=True))
        check = (11 - total % 11) % 11
        if check != 10:
            return f"{digits}{check}"
        stem += 1


def patient(nhs: str) -> dict[str, Any]:
    """A Patient as an EPR registers it."""
    return {
        "resourceType": "Patient",
        "identifier": [{"system": NHS_NUMBER, "value": nhs}],
        "name": [{"family": "Okafor", "given": ["Ada"]}],
        "birthDate": "1994-03-12",
    }


def episode(patient_reference: str, team: str = REQUESTER_TEAM) -> dict[str, Any]:
    """A caseload EpisodeOfCare at the referring team (an internal referral needs one)."""
    return {
        "resourceType": "EpisodeOfCare",
        "status": "active",
        "patient": {"reference": patient_reference},
        "extension": [{"url": EXT_HEALTHCARE_SERVICE, "valueReference": {"reference": team}}],
    }


def referral(patient_reference: str, performer: str = PERFORMER, requester: str = REQUESTER) -> dict[str, Any]:
    """An internal referral ServiceRequest from the core team's responsible worker."""
    return {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": patient_reference},
        "requester": {"reference": requester},
        "performer": [{"reference": performer}],
        "reasonCode": [{"text": "Persistent psychotic symptoms despite core team support"}],
        "category": [{"coding": [{"system": CS_SOURCE, "code": "internal-team"}]}],
    }
