"""The search parameters each resource type supports (and the CapabilityStatement lists)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, cast

from services.kit.repository import Stored
from services.kit.search import Param, SearchSpec, date, reference, token
from services.transitions.persistence import tables
from services.transitions.service.context import Context


def _common(t: Any) -> dict[str, Param]:
    return {"_id": token("_id", t.c.id), "_lastUpdated": date("_lastUpdated", t.c.last_updated)}


def _boolean(name: str, column: Any) -> Param:
    def build(value: str, _: str | None) -> Any:
        if value not in ("true", "false"):
            raise ValueError(value)
        return column == cast(value == "true", Boolean)

    return Param(name, "token", build)


_t = tables.task
TASK = SearchSpec(
    "Task",
    {
        **_common(_t),
        "code": token("code", _t.c.code),
        "status": token("status", _t.c.status),
        "business-status": token("business-status", _t.c.business_status),
        "subject": reference("subject", _t.c.subject, "Patient"),
        "patient": reference("patient", _t.c.subject, "Patient"),
        "part-of": reference("part-of", _t.c.part_of, "Task"),
        "focus": reference("focus", _t.c.focus, "Task"),
        "owner": reference("owner", _t.c.owner, "HealthcareService"),
        "requester": reference("requester", _t.c.requester, "PractitionerRole"),
        "authored-on": date("authored-on", _t.c.authored_on),
        "high-risk": _boolean("high-risk", _t.c.high_risk),
        "borough": token("borough", _t.c.borough),
    },
    sorts={
        "_lastUpdated": _t.c.last_updated,
        "authored-on": _t.c.authored_on,
        "phase1-deadline": _t.c.phase1_deadline,
        "planned-action-date": _t.c.planned_action_date,
    },
    includes=frozenset({"Task:part-of", "Task:focus"}),
    revincludes=frozenset({"Task:part-of"}),
)

_c = tables.care_plan
CARE_PLAN = SearchSpec(
    "CarePlan",
    {
        **_common(_c),
        "subject": reference("subject", _c.c.subject, "Patient"),
        "patient": reference("patient", _c.c.subject, "Patient"),
        "status": token("status", _c.c.status),
        "category": token("category", _c.c.category),
    },
    sorts={"_lastUpdated": _c.c.last_updated, "created": _c.c.created},
)

_q = tables.questionnaire_response
QUESTIONNAIRE_RESPONSE = SearchSpec(
    "QuestionnaireResponse",
    {
        **_common(_q),
        "subject": reference("subject", _q.c.subject, "Patient"),
        "patient": reference("patient", _q.c.subject, "Patient"),
        "questionnaire": Param("questionnaire", "reference", lambda v, _: _q.c.questionnaire == v),
        "status": token("status", _q.c.status),
        "based-on": reference("based-on", _q.c.based_on, "CarePlan"),
        "source": reference("source", _q.c.source, "Patient"),
        "respondent": token("respondent", _q.c.respondent),
        "authored": date("authored", _q.c.authored),
    },
    sorts={"_lastUpdated": _q.c.last_updated, "authored": _q.c.authored},
)

SPECS = (TASK, CARE_PLAN, QUESTIONNAIRE_RESPONSE)


def _ids(matches: list[Stored], key: str, prefix: str) -> set[str]:
    found = set()
    for match in matches:
        value = match.resource().get(key)
        values = value if isinstance(value, list) else [value]
        for item in values:
            ref = (item or {}).get("reference") or ""
            if ref.startswith(prefix):
                found.add(ref.removeprefix(prefix))
    return found


async def include_related(ctx: Context, name: str, matches: list[Stored]) -> list[tuple[str, Stored]]:
    """`_include=Task:part-of` (the cases), `Task:focus` (their plans), `_revinclude=Task:part-of` (phases)."""
    if name == "Task:part-of":
        found = await ctx.repo("Task").all_where(_t.c.id.in_(_ids(matches, "partOf", "Task/")))
        return [("Task", s) for s in found]
    if name == "Task:focus":
        plans = await ctx.repo("CarePlan").all_where(_c.c.id.in_(_ids(matches, "focus", "CarePlan/")))
        tasks = await ctx.repo("Task").all_where(_t.c.id.in_(_ids(matches, "focus", "Task/")))
        return [("CarePlan", s) for s in plans] + [("Task", s) for s in tasks]
    if name == "rev:Task:part-of":
        found = await ctx.repo("Task").all_where(_t.c.part_of.in_([f"Task/{m.id}" for m in matches]))
        return [("Task", s) for s in found]
    return []
