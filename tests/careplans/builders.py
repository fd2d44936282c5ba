"""Payloads the care-plans tests send, built the way an integrator would."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from services.careplans.domain.codes import (
    CS_CATEGORY,
    DIALOG_URL,
    EXT_COPY_HELD,
    EXT_CRISIS_CONTACT,
    EXT_CRISIS_PREFERENCE,
    EXT_NOT_ANSWERED,
    EXT_WARNING_SIGN,
    Group,
    Section,
)
from services.careplans.domain.dialog import ITEMS, items_in, rating_answer

FHIR = {"Content-Type": "application/fhir+json"}
PATIENT = "Patient/p-1"
REFERRAL = "ServiceRequest/r-1"
EPISODE = "EpisodeOfCare/e-1"
CLINICIAN = "PractitionerRole/barnet-core-north-worker"
CARER = "RelatedPerson/carer-1"

Json = dict[str, Any]


# ---------------------------------------------------------------- DIALOG responses


def dialog(
    ratings: Sequence[int | None] = (4,) * 11,
    *,
    subject: str = PATIENT,
    based_on: str | None = REFERRAL,
    authored: str | None = "2026-01-05T09:00:00Z",
    more_help: Sequence[str] = (),
) -> Json:
    """A DIALOG QuestionnaireResponse; ratings in display order, None for "not applicable"."""
    assert len(ratings) == len(ITEMS)
    values = dict(zip((i.link_id for i in ITEMS), ratings, strict=True))

    def item(link_id: str) -> Json:
        element: Json = {"linkId": link_id, "item": []}
        value = values[link_id]
        if value is None:
            element["extension"] = [{"url": EXT_NOT_ANSWERED, "valueCode": "not-applicable"}]
        else:
            element["item"].append({"linkId": f"{link_id}.satisfaction", "answer": [rating_answer(value)]})
        element["item"].append({"linkId": f"{link_id}.more-help", "answer": [{"valueBoolean": link_id in more_help}]})
        return element

    body: Json = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": DIALOG_URL,
        "status": "completed",
        "subject": {"reference": subject},
        "item": [{"linkId": group.value, "item": [item(i.link_id) for i in items_in(group)]} for group in Group],
    }
    if authored:
        body["authored"] = authored
    if based_on:
        body["basedOn"] = [{"reference": based_on}]
    return body


def find_item(response: Json, link_id: str) -> Json:
    """The item with this linkId anywhere in a response (for tests that break one)."""
    for group in response["item"]:
        for element in group["item"]:
            if element["linkId"] == link_id:
                return element  # type: ignore[no-any-return]
            for child in element.get("item", []):
                if child["linkId"] == link_id:
                    return child  # type: ignore[no-any-return]
    raise KeyError(link_id)


async def record(client: httpx.AsyncClient, body: Json | None = None) -> Json:
    """POST a DIALOG and return it (asserting 201)."""
    response = await client.post("/fhir/QuestionnaireResponse", json=body or dialog(), headers=FHIR)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def scores(client: httpx.AsyncClient, response_id: str) -> dict[str, Json]:
    """The score Observations derived from a response, by code."""
    bundle = (
        await client.get("/fhir/Observation", params={"derived-from": f"QuestionnaireResponse/{response_id}"})
    ).json()
    return {e["resource"]["code"]["coding"][0]["code"]: e["resource"] for e in bundle["entry"]}


# ---------------------------------------------------------------- Parameters


def value(name: str, kind: str, content: Any) -> Json:
    """One parameter (or part) with a value."""
    return {"name": name, f"value{kind}": content}


def reference(name: str, target: str) -> Json:
    """A valueReference parameter."""
    return value(name, "Reference", {"reference": target})


def part(name: str, *parts: Json) -> Json:
    """A parameter made of parts."""
    return {"name": name, "part": list(parts)}


def parameters(*entries: Json) -> Json:
    """A Parameters resource."""
    return {"resourceType": "Parameters", "parameter": list(entries)}


def action(
    description: str = "Phone the housing officer about the repairs",
    who: str = "person",
    by: str = "2026-01-19",
    performer: str | None = None,
) -> Json:
    """An agreed action (step 4)."""
    parts = [value("description", "String", description), value("who", "Code", who), value("by", "Date", by)]
    if performer:
        parts.append(reference("performer", performer))
    return part("action", *parts)


def domain(
    item: str = "accommodation",
    *actions: Json,
    goal_kind: str | None = None,
    steps: tuple[str, str, str] = (
        "The flat is warm and near my sister",
        "The damp is fixed; a first step is reporting it in writing",
        "I can write to the council; my worker can chase the housing team",
    ),
) -> Json:
    """A domain chosen for discussion, with the four steps (the first three as notes, then actions)."""
    parts = [
        value("item", "Code", item),
        value("understanding", "String", steps[0]),
        value("lookingForward", "String", steps[1]),
        value("exploringOptions", "String", steps[2]),
        *(actions or (action(),)),
    ]
    if goal_kind:
        parts.append(value("goalKind", "Code", goal_kind))
    return part("domain", *parts)


def review(action_id: str, outcome: str = "done", note: str = "Done the week after") -> Json:
    """The review of an open action."""
    return part(
        "review", value("action", "String", action_id), value("outcome", "Code", outcome), value("note", "String", note)
    )


def agreement(when: str = "2026-01-05T09:45:00Z", method: str = "verbal") -> Json:
    """The person's agreement to the plan (FR-37a)."""
    return part("agreement", value("when", "DateTime", when), value("method", "Code", method))


def capacity(*, assessment: str | None = "DocumentReference/mca-1", consulted: str | None = CARER) -> Json:
    """A capacity assessment (FR-37b)."""
    parts = [value("bestInterests", "String", "Agreed with her sister as the plan she would choose")]
    if assessment:
        parts.append(reference("assessment", assessment))
    if consulted:
        parts.append(reference("consulted", consulted))
    return part("capacityAssessment", *parts)


def sections(*skip: str) -> list[Json]:
    """Every FR-38 section ('none identified' where nothing was said), leaving out `skip`."""
    return [
        part("section", value("code", "Code", s.value), value("text", "String", f"About {s.value}: none identified"))
        for s in Section
        if s.value not in skip
    ]


def full_content() -> list[Json]:
    """What a personalised plan needs beyond a recovery goal (FR-38): sections and service period."""
    return [*sections(), value("longTerm", "Boolean", True)]


def session(
    response: Json | str | None = None, *extra: Json, episode: str = EPISODE, clinician: str = CLINICIAN
) -> Json:
    """A DIALOG+ session: the ratings (a new response or a reference), one domain by default, plus `extra`."""
    entries = [reference("episode", episode), reference("clinician", clinician)]
    if isinstance(response, str):
        entries.append(reference("response", response))
    elif response is not None:
        entries.append({"name": "response", "resource": response})
    return parameters(*entries, *extra)


async def run_session(
    client: httpx.AsyncClient, body: Json, version: str | None = None, status: int | None = None
) -> httpx.Response:
    """POST a session (with If-Match of `version` when revising) and check the status when given."""
    headers = {**FHIR, **({"If-Match": f'W/"{version}"'} if version else {})}
    response = await client.post("/fhir/CarePlan/$dialog-plus-session", json=body, headers=headers)
    if status is not None:
        assert response.status_code == status, response.text
    return response


async def first_session(client: httpx.AsyncClient, *extra: Json) -> Json:
    """A first session (one domain, one action by default) creating the plan."""
    response = await run_session(client, session(dialog(), *(extra or (domain(),))), status=201)
    return response.json()  # type: ignore[no-any-return]


async def operate(client: httpx.AsyncClient, plan: Json, operation: str, *entries: Json) -> httpx.Response:
    """POST a plan operation with If-Match of the plan's version."""
    return await client.post(
        f"/fhir/CarePlan/{plan['id']}/${operation}",
        json=parameters(*entries),
        headers={**FHIR, "If-Match": f'W/"{plan["meta"]["versionId"]}"'},
    )


async def active_plan(client: httpx.AsyncClient) -> Json:
    """A complete, agreed and active personalised plan."""
    plan = await first_session(client, domain(), agreement(), *full_content())
    response = await operate(client, plan, "activate")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


# ---------------------------------------------------------------- crisis and waiting-support plans


def crisis_plan(subject: str = PATIENT, **extra: Any) -> Json:
    """A draft crisis plan with the FR-43 content."""
    body: Json = {
        "resourceType": "CarePlan",
        "status": "draft",
        "intent": "plan",
        "category": [{"coding": [{"system": CS_CATEGORY, "code": "crisis"}]}],
        "subject": {"reference": subject},
        "extension": [
            {
                "url": EXT_WARNING_SIGN,
                "extension": [
                    {"url": "sign", "valueString": "Not sleeping for two nights"},
                    {"url": "action", "valueString": "Call my care coordinator; use the crisis café"},
                ],
            },
            {
                "url": EXT_CRISIS_CONTACT,
                "extension": [
                    {"url": "name", "valueString": "NCL crisis line (24/7)"},
                    {"url": "telecom", "valueString": "0800 151 0023"},
                ],
            },
            {"url": EXT_CRISIS_PREFERENCE, "valueCode": "crisis-cafe"},
            {"url": EXT_CRISIS_PREFERENCE, "valueCode": "crisis-line"},
            {"url": EXT_COPY_HELD, "valueBoolean": True},
        ],
    }
    body.update(extra)
    return body


def waiting_support_plan(subject: str = PATIENT, **extra: Any) -> Json:
    """A draft waiting-support plan: named worker, what is offered, how often."""
    body: Json = {
        "resourceType": "CarePlan",
        "status": "draft",
        "intent": "plan",
        "category": [{"coding": [{"system": CS_CATEGORY, "code": "waiting-support"}]}],
        "subject": {"reference": subject},
        "author": {"reference": CLINICIAN},
        "activity": [
            {
                "detail": {
                    "status": "scheduled",
                    "description": "Weekly check-in call from the core team while waiting",
                    "scheduledTiming": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "wk"}},
                }
            }
        ],
    }
    body.update(extra)
    return body


async def create_plan(client: httpx.AsyncClient, body: Json) -> Json:
    """POST a plan and return it (asserting 201)."""
    response = await client.post("/fhir/CarePlan", json=body, headers=FHIR)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]
