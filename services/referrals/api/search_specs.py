"""The search parameters each resource type supports (and the CapabilityStatement lists)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, cast

from services.kit.repository import Stored
from services.kit.search import Param, SearchSpec, date, reference, token
from services.referrals.persistence import tables
from services.referrals.service.context import Context


def _common(t: Any) -> dict[str, Param]:
    return {"_id": token("_id", t.c.id), "_lastUpdated": date("_lastUpdated", t.c.last_updated)}


def _boolean(name: str, column: Any) -> Param:
    def build(value: str, _: str | None) -> Any:
        if value not in ("true", "false"):
            raise ValueError(value)
        return column == cast(value == "true", Boolean)

    return Param(name, "token", build)


_sr = tables.service_request
SERVICE_REQUEST = SearchSpec(
    "ServiceRequest",
    {
        **_common(_sr),
        "subject": reference("subject", _sr.c.subject, "Patient"),
        "patient": reference("patient", _sr.c.subject, "Patient"),
        "performer": reference("performer", _sr.c.performer, "HealthcareService"),
        "requester": reference("requester", _sr.c.requester, "PractitionerRole"),
        "status": token("status", _sr.c.status),
        "category": token("category", _sr.c.source, None),
        "priority": token("priority", _sr.c.priority),
        "identifier": Param(
            "identifier",
            "token",
            lambda v, _: _sr.c.identifier == v if "|" in v else _sr.c.identifier.like(f"%|{v}"),
        ),
        "authored": date("authored", _sr.c.authored),
    },
    sorts={
        "_lastUpdated": _sr.c.last_updated,
        "authored": _sr.c.authored,
        "received": _sr.c.received_at,
    },
    revincludes=frozenset({"Task:focus"}),
)

_t = tables.task
TASK = SearchSpec(
    "Task",
    {
        **_common(_t),
        "code": token("code", _t.c.code),
        "status": token("status", _t.c.status),
        "business-status": token("business-status", _t.c.business_status),
        "focus": reference("focus", _t.c.focus, "ServiceRequest"),
        "owner": reference("owner", _t.c.owner, "HealthcareService"),
        "subject": reference("subject", _t.c.subject, "Patient"),
        "patient": reference("patient", _t.c.subject, "Patient"),
        "requester": reference("requester", _t.c.requester, "PractitionerRole"),
        "authored-on": date("authored-on", _t.c.authored_on),
    },
    sorts={
        "_lastUpdated": _t.c.last_updated,
        "authored-on": _t.c.authored_on,
        "wait": _t.c.clock_start,
    },
    includes=frozenset({"Task:focus"}),
)

_e = tables.encounter
ENCOUNTER = SearchSpec(
    "Encounter",
    {
        **_common(_e),
        "subject": reference("subject", _e.c.subject, "Patient"),
        "patient": reference("patient", _e.c.subject, "Patient"),
        "based-on": reference("based-on", _e.c.based_on, "ServiceRequest"),
        "status": token("status", _e.c.status),
        "date": date("date", _e.c.period_start),
    },
    sorts={"_lastUpdated": _e.c.last_updated, "date": _e.c.period_start},
)

_eoc = tables.episode_of_care
EPISODE_OF_CARE = SearchSpec(
    "EpisodeOfCare",
    {
        **_common(_eoc),
        "patient": reference("patient", _eoc.c.patient, "Patient"),
        "status": token("status", _eoc.c.status),
        "team": reference("team", _eoc.c.team, "HealthcareService"),
        "incoming-referral": reference("incoming-referral", _eoc.c.referral, "ServiceRequest"),
        "date": date("date", _eoc.c.period_start),
        "override": _boolean("override", _eoc.c.overridden),
    },
    sorts={"_lastUpdated": _eoc.c.last_updated, "date": _eoc.c.period_start},
)

_c = tables.communication
COMMUNICATION = SearchSpec(
    "Communication",
    {
        **_common(_c),
        "subject": reference("subject", _c.c.subject, "Patient"),
        "patient": reference("patient", _c.c.subject, "Patient"),
        "based-on": reference("based-on", _c.c.based_on, "ServiceRequest"),
        "category": token("category", _c.c.category),
        "sent": date("sent", _c.c.sent),
    },
    sorts={"_lastUpdated": _c.c.last_updated, "sent": _c.c.sent},
)

SPECS = (SERVICE_REQUEST, TASK, ENCOUNTER, EPISODE_OF_CARE, COMMUNICATION)


async def include_referrals(ctx: Context, name: str, matches: list[Stored]) -> list[tuple[str, Stored]]:
    """`Task?_include=Task:focus`: the referrals the matching Tasks track (one query)."""
    if name != "Task:focus":
        return []
    ids = {(m.resource().get("focus") or {}).get("reference", "").removeprefix("ServiceRequest/") for m in matches}
    found = await ctx.repo("ServiceRequest").all_where(_sr.c.id.in_(ids - {""}))
    return [("ServiceRequest", s) for s in found]


async def revinclude_tasks(ctx: Context, name: str, matches: list[Stored]) -> list[tuple[str, Stored]]:
    """`ServiceRequest?_revinclude=Task:focus`: the Tasks tracking the matching referrals."""
    if name != "rev:Task:focus":
        return []
    refs = [f"ServiceRequest/{m.id}" for m in matches]
    found = await ctx.repo("Task").all_where(_t.c.focus.in_(refs))
    return [("Task", s) for s in found]
