"""Search parameters of the resource types the gateway owns."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gateway import tables
from services.kit.search import Param, SearchSpec, date, reference, string, token


def _common(t: Any) -> dict[str, Param]:
    return {"_id": token("_id", t.c.id), "_lastUpdated": date("_lastUpdated", t.c.last_updated)}


def _patient_identifier(value: str, _: str | None) -> Any:
    """`identifier=system|value` over every identifier the master patient index knows (FR-68)."""
    system, _, code = value.rpartition("|")
    i = tables.patient_identifier
    matches = select(i.c.patient).where(i.c.value == code)
    if system:
        matches = matches.where(i.c.system == system)
    return tables.patient.c.id.in_(matches)


_p = tables.patient
PATIENT = SearchSpec(
    "Patient",
    {
        **_common(_p),
        "identifier": Param("identifier", "token", _patient_identifier),
        "family": string("family", _p.c.family),
        "birthdate": token("birthdate", _p.c.birth_date),
        "gender": token("gender", _p.c.gender),
        "borough": token("borough", _p.c.borough),
    },
    sorts={"_lastUpdated": _p.c.last_updated, "family": _p.c.family},
)

_h = tables.healthcare_service
HEALTHCARE_SERVICE = SearchSpec(
    "HealthcareService",
    {
        **_common(_h),
        "organization": reference("organization", _h.c.organization, "Organization"),
        "service-type": token("service-type", _h.c.type),
        "borough": token("borough", _h.c.borough),
        "name": string("name", _h.c.name),
    },
    sorts={"_lastUpdated": _h.c.last_updated, "name": _h.c.name},
)

_o = tables.organization
ORGANIZATION = SearchSpec(
    "Organization",
    {**_common(_o), "name": string("name", _o.c.name), "partof": reference("partof", _o.c.part_of, "Organization")},
    sorts={"_lastUpdated": _o.c.last_updated, "name": _o.c.name},
)

_r = tables.practitioner_role
PRACTITIONER_ROLE = SearchSpec(
    "PractitionerRole",
    {
        **_common(_r),
        "service": reference("service", _r.c.service, "HealthcareService"),
        "organization": reference("organization", _r.c.organization, "Organization"),
        "practitioner": reference("practitioner", _r.c.practitioner, "Practitioner"),
    },
    sorts={"_lastUpdated": _r.c.last_updated},
)

_pr = tables.practitioner
PRACTITIONER = SearchSpec(
    "Practitioner", {**_common(_pr), "name": string("name", _pr.c.name)}, sorts={"_lastUpdated": _pr.c.last_updated}
)

_l = tables.location
LOCATION = SearchSpec(
    "Location", {**_common(_l), "name": string("name", _l.c.name)}, sorts={"_lastUpdated": _l.c.last_updated}
)

_a = tables.audit_event
AUDIT_EVENT = SearchSpec(
    "AuditEvent",
    {
        **_common(_a),
        "patient": reference("patient", _a.c.patient, "Patient"),
        "agent": Param("agent", "reference", lambda v, _: _a.c.agent == v),
        "action": token("action", _a.c.action),
        "outcome": token("outcome", _a.c.outcome),
        "date": date("date", _a.c.recorded),
    },
    sorts={"_lastUpdated": _a.c.last_updated, "date": _a.c.recorded},
)

_s = tables.subscription
SUBSCRIPTION = SearchSpec(
    "Subscription",
    {**_common(_s), "status": token("status", _s.c.status), "url": token("url", _s.c.endpoint)},
    sorts={"_lastUpdated": _s.c.last_updated},
)

_c = tables.consent
CONSENT = SearchSpec(
    "Consent",
    {**_common(_c), "patient": reference("patient", _c.c.patient, "Patient"), "status": token("status", _c.c.status)},
    sorts={"_lastUpdated": _c.c.last_updated},
)

_f = tables.flag
FLAG = SearchSpec(
    "Flag",
    {
        **_common(_f),
        "patient": reference("patient", _f.c.patient, "Patient"),
        "subject": reference("subject", _f.c.patient, "Patient"),
        "status": token("status", _f.c.status),
        "code": token("code", _f.c.code),
    },
    sorts={"_lastUpdated": _f.c.last_updated},
)

SPECS = (
    CONSENT,
    FLAG,
    PATIENT,
    PRACTITIONER,
    PRACTITIONER_ROLE,
    ORGANIZATION,
    HEALTHCARE_SERVICE,
    LOCATION,
    AUDIT_EVENT,
    SUBSCRIPTION,
)
