"""The search parameters each resource type supports (and the CapabilityStatement lists)."""

from __future__ import annotations

from typing import Any

from services.careplans.persistence import tables
from services.kit.search import Param, SearchSpec, date, reference, string, token


def _common(t: Any) -> dict[str, Param]:
    return {"_id": token("_id", t.c.id), "_lastUpdated": date("_lastUpdated", t.c.last_updated)}


def _subject(t: Any) -> dict[str, Param]:
    return {
        "subject": reference("subject", t.c.subject, "Patient"),
        "patient": reference("patient", t.c.subject, "Patient"),
    }


_q = tables.questionnaire
QUESTIONNAIRE = SearchSpec(
    "Questionnaire",
    {
        **_common(_q),
        "url": Param("url", "uri", lambda v, _: _q.c.url == v.partition("|")[0]),
        "name": string("name", _q.c.name),
        "status": token("status", _q.c.status),
    },
    sorts={"_lastUpdated": _q.c.last_updated},
)

_qr = tables.questionnaire_response
QUESTIONNAIRE_RESPONSE = SearchSpec(
    "QuestionnaireResponse",
    {
        **_common(_qr),
        **_subject(_qr),
        "questionnaire": Param("questionnaire", "reference", lambda v, _: _qr.c.questionnaire == v),
        "based-on": reference("based-on", _qr.c.based_on, "ServiceRequest"),
        "authored": date("authored", _qr.c.authored),
        "status": token("status", _qr.c.status),
    },
    sorts={"_lastUpdated": _qr.c.last_updated, "authored": _qr.c.authored},
)

_o = tables.observation
OBSERVATION = SearchSpec(
    "Observation",
    {
        **_common(_o),
        **_subject(_o),
        "code": token("code", _o.c.code),
        "derived-from": reference("derived-from", _o.c.derived_from, "QuestionnaireResponse"),
        "based-on": reference("based-on", _o.c.based_on, "ServiceRequest"),
        "date": date("date", _o.c.effective),
    },
    sorts={"_lastUpdated": _o.c.last_updated, "date": _o.c.effective},
)

_cp = tables.care_plan
CARE_PLAN = SearchSpec(
    "CarePlan",
    {
        **_common(_cp),
        **_subject(_cp),
        "category": token("category", _cp.c.category),
        "status": token("status", _cp.c.status),
        # Continuum search parameters: the episode and the referral a plan belongs to.
        "episode": reference("episode", _cp.c.episode, "EpisodeOfCare"),
        "referral": reference("referral", _cp.c.referral, "ServiceRequest"),
        "date": date("date", _cp.c.created),
    },
    sorts={"_lastUpdated": _cp.c.last_updated, "date": _cp.c.created},
)

_g = tables.goal
GOAL = SearchSpec(
    "Goal",
    {
        **_common(_g),
        **_subject(_g),
        "lifecycle-status": token("lifecycle-status", _g.c.lifecycle_status),
        "category": token("category", _g.c.domain),
    },
    sorts={"_lastUpdated": _g.c.last_updated},
)

SPECS = (QUESTIONNAIRE, QUESTIONNAIRE_RESPONSE, OBSERVATION, CARE_PLAN, GOAL)
