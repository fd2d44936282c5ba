"""Item 9: authorization across teams (BOLA) for every resource type and operation.

One person is known to two Barnet teams: on the core team's caseload and referred by it to the
psychosis team. A clinician of a team with no relationship with them (Camden early intervention)
holds a valid token with full user scopes (and a carer's portal acts for someone the person has
not consented to share with); every read, history, search, create, update and named
operation on each of the person's resources is refused with 403, through the gateway and directly
at the owning service (which verifies the token itself), and nothing changes. The same requests
from a clinician of a team that does know the person are not refused (the control, so each 403
is the team check's doing and not a malformed request's).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.kit.testing import outcome
from tests.careplans.builders import crisis_plan
from tests.e2e.conftest import nhs_number, patient
from tests.referrals.builders import ACCEPT_WITH_SUPPORT, contact, episode, params, referral
from tests.reliability.conftest import FHIR, Deployment, DeploymentFactory
from tests.transitions.builders import params as transition_params

CORE = "PractitionerRole/barnet-core-north-worker"
PSYCHOSIS = "PractitionerRole/barnet-psychosis-worker"
OUTSIDER = "PractitionerRole/camden-eip-worker"
PSYCHOSIS_TEAM = "HealthcareService/barnet-psychosis"
STRANGER = ("carer-portal", "RelatedPerson/someone-without-consent")
CYPMHS_WORKER = "PractitionerRole/barnet-cypmhs-worker"
TRANSITIONS_WORKER = "PractitionerRole/barnet-transitions-worker"
OTHER_CYPMHS = ("clinician-app", "PractitionerRole/enfield-cypmhs-worker")


@dataclass
class Person:
    """The person and the ids of their records."""

    patient: str
    nhs: str
    episode: dict[str, Any]
    referral: dict[str, Any]
    task: dict[str, Any]
    accepted_task: dict[str, Any]
    encounter: dict[str, Any]
    communication: dict[str, Any]
    plan: dict[str, Any]
    young_person: str
    case: dict[str, Any]


@dataclass(frozen=True)
class Call:
    """One request: method, path and body built from the person's records; which service owns it."""

    name: str
    service: str
    method: str
    path: Callable[[Person], str]
    body: Callable[[Person], dict[str, Any] | None] = lambda _: None
    query: Callable[[Person], dict[str, str]] = lambda _: {}
    if_match: Callable[[Person], str | None] = lambda _: None
    insider: str = PSYCHOSIS
    """Who does know the person (the control); empty when nobody but a system client may."""
    outsider: tuple[str, str] = ("clinician-app", OUTSIDER)
    """The client and user who must be refused."""


def _etag(resource: dict[str, Any]) -> str:
    return f'W/"{resource["meta"]["versionId"]}"'


DECISIONS = {
    "accept": ACCEPT_WITH_SUPPORT,
    "decline": params(reason="not-eligible", nextStep="advice-only", note="Not for us", actor=PSYCHOSIS),
    "redirect": params(destination="HealthcareService/barnet-core-south", actor=PSYCHOSIS),
    "triage": params(eligibility="eligible", actor=PSYCHOSIS),
    "escalate": params(reason="Disagree with the decision", actor=PSYCHOSIS),
    "complete": params(actor=PSYCHOSIS),
    "cancel": params(reason="No longer needed", actor=CORE),
}


def _decision(verb: str) -> Call:
    """A named operation on the pending referral's Task ($complete: on the accepted one)."""

    def task(person: Person) -> dict[str, Any]:
        return person.accepted_task if verb == "complete" else person.task

    return Call(
        f"${verb}",
        "referrals",
        "POST",
        lambda p: f"/fhir/Task/{task(p)['id']}/${verb}",
        body=lambda _: DECISIONS[verb],
        if_match=lambda p: _etag(task(p)),
        insider=CORE if verb == "cancel" else PSYCHOSIS,
    )


CALLS: list[Call] = [
    # ServiceRequest
    Call("read referral", "referrals", "GET", lambda p: f"/fhir/ServiceRequest/{p.referral['id']}"),
    Call("referral history", "referrals", "GET", lambda p: f"/fhir/ServiceRequest/{p.referral['id']}/_history"),
    Call("referral version", "referrals", "GET", lambda p: f"/fhir/ServiceRequest/{p.referral['id']}/_history/1"),
    Call("waiting time", "referrals", "GET", lambda p: f"/fhir/ServiceRequest/{p.referral['id']}/$waiting-time"),
    Call(
        "search referrals", "referrals", "GET", lambda _: "/fhir/ServiceRequest", query=lambda p: {"subject": p.patient}
    ),
    Call("search all referrals", "referrals", "GET", lambda _: "/fhir/ServiceRequest", insider=""),
    Call(
        "refer as someone else",
        "referrals",
        "POST",
        lambda _: "/fhir/ServiceRequest",
        body=lambda p: referral(subject=p.patient),
        insider=CORE,
    ),
    # Task: reads, searches and every named operation
    Call("read task", "referrals", "GET", lambda p: f"/fhir/Task/{p.task['id']}"),
    Call("task history", "referrals", "GET", lambda p: f"/fhir/Task/{p.task['id']}/_history"),
    Call(
        "search referral tasks",
        "referrals",
        "GET",
        lambda _: "/fhir/Task",
        query=lambda p: {"subject": p.patient, "code": "referral"},
    ),
    Call(
        "search tasks of all services",
        "referrals",
        "GET",
        lambda _: "/fhir/Task",
        query=lambda p: {"subject": p.patient},
    ),
    Call(
        "another team's worklist", "referrals", "GET", lambda _: "/fhir/Task", query=lambda _: {"owner": PSYCHOSIS_TEAM}
    ),
    *[_decision(verb) for verb in DECISIONS],
    # EpisodeOfCare
    Call("read episode", "referrals", "GET", lambda p: f"/fhir/EpisodeOfCare/{p.episode['id']}", insider=CORE),
    Call(
        "search episodes", "referrals", "GET", lambda _: "/fhir/EpisodeOfCare", query=lambda p: {"patient": p.patient}
    ),
    Call(
        "close episode",
        "referrals",
        "POST",
        lambda p: f"/fhir/EpisodeOfCare/{p.episode['id']}/$close",
        body=lambda _: params(reason="treatment-complete", actor=CORE),
        if_match=lambda p: _etag(p.episode),
        insider=CORE,
    ),
    Call(
        "open an episode for them",
        "referrals",
        "POST",
        lambda _: "/fhir/EpisodeOfCare",
        body=lambda p: episode(team="HealthcareService/camden-eip", patient=p.patient),
        insider="",
    ),
    Call(
        "open an episode at their team",
        "referrals",
        "POST",
        lambda _: "/fhir/EpisodeOfCare",
        body=lambda p: episode(team="HealthcareService/barnet-psychosis", patient=p.patient),
        insider="",
    ),
    # Encounter
    Call("read contact", "referrals", "GET", lambda p: f"/fhir/Encounter/{p.encounter['id']}"),
    Call("search contacts", "referrals", "GET", lambda _: "/fhir/Encounter", query=lambda p: {"subject": p.patient}),
    Call(
        "record a contact",
        "referrals",
        "POST",
        lambda _: "/fhir/Encounter",
        body=lambda p: contact(p.referral["id"], "2026-01-07T10:00:00Z", subject=p.patient),
    ),
    Call(
        "change a contact",
        "referrals",
        "PUT",
        lambda p: f"/fhir/Encounter/{p.encounter['id']}",
        body=lambda p: {k: v for k, v in p.encounter.items() if k != "meta"},
        if_match=lambda p: _etag(p.encounter),
    ),
    # Communication
    Call("read letter", "referrals", "GET", lambda p: f"/fhir/Communication/{p.communication['id']}"),
    Call("search letters", "referrals", "GET", lambda _: "/fhir/Communication", query=lambda p: {"subject": p.patient}),
    # CarePlan: any partnership worker reads plans (FR-45); a carer only with the person's consent (FR-40)
    Call("carer reads a plan", "careplans", "GET", lambda p: f"/fhir/CarePlan/{p.plan['id']}", outsider=STRANGER),
    Call(
        "carer searches plans",
        "careplans",
        "GET",
        lambda _: "/fhir/CarePlan",
        query=lambda p: {"subject": p.patient},
        outsider=STRANGER,
    ),
    # Transition cases: the sending CYPMHS team and the borough's Transitions team only
    Call(
        "read transition case",
        "transitions",
        "GET",
        lambda p: f"/fhir/Task/{p.case['id']}",
        insider=TRANSITIONS_WORKER,
        outsider=OTHER_CYPMHS,
    ),
    Call(
        "search transition tasks",
        "transitions",
        "GET",
        lambda _: "/fhir/Task",
        query=lambda p: {"subject": p.young_person, "code": "transition-case"},
        insider=TRANSITIONS_WORKER,
        outsider=OTHER_CYPMHS,
    ),
    Call(
        "record a discussion",
        "transitions",
        "POST",
        lambda p: f"/fhir/Task/{p.case['id']}/$record-discussion",
        body=lambda p: transition_params(date="2026-01-05", participant=[p.young_person, CYPMHS_WORKER]),
        if_match=lambda p: _etag(p.case),
        insider=CYPMHS_WORKER,
        outsider=OTHER_CYPMHS,
    ),
    Call(
        "open a case for their young person",
        "transitions",
        "POST",
        lambda _: "/fhir/Task/$open-transition",
        body=lambda p: transition_params(patient=p.young_person, referringWorker=OTHER_CYPMHS[1]),
        insider="",
        outsider=OTHER_CYPMHS,
    ),
    # Patient and Flag (the gateway's own)
    Call("read patient", "gateway", "GET", lambda p: f"/fhir/Patient/{p.patient.removeprefix('Patient/')}"),
    Call(
        "find patient",
        "gateway",
        "GET",
        lambda _: "/fhir/Patient",
        query=lambda p: {"identifier": f"https://fhir.nhs.uk/Id/nhs-number|{p.nhs}"},
    ),
    Call("search flags", "gateway", "GET", lambda _: "/fhir/Flag", query=lambda p: {"patient": p.patient}),
    Call(
        "audit trail",
        "gateway",
        "GET",
        lambda _: "/fhir/AuditEvent",
        query=lambda p: {"patient": p.patient},
        insider="",
    ),
    Call("subscriptions", "gateway", "GET", lambda _: "/fhir/Subscription", insider=""),
    Call("consents", "gateway", "GET", lambda _: "/fhir/Consent", query=lambda p: {"patient": p.patient}, insider=""),
]


async def _created(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=FHIR)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _first(client: httpx.AsyncClient, path: str, query: dict[str, str]) -> dict[str, Any]:
    response = await client.get(path, params=query)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()["entry"][0]["resource"]
    return found


@pytest.fixture
async def secured(make_deployment: DeploymentFactory) -> Deployment:
    """Every process verifying tokens."""
    return await make_deployment(secured=True)


@pytest.fixture
async def person(secured: Deployment) -> Person:
    """A person on the core team's caseload, with two referrals to the psychosis team (one accepted)."""
    epr = secured.client(token=await secured.token("epr-beh"))
    nhs = nhs_number(980_000_000)
    subject = f"Patient/{(await _created(epr, '/fhir/Patient', patient(nhs)))['id']}"
    caseload = await _created(epr, "/fhir/EpisodeOfCare", episode(patient=subject))
    pending = await _created(epr, "/fhir/ServiceRequest", referral(subject=subject))
    task = await _first(epr, "/fhir/Task", {"focus": f"ServiceRequest/{pending['id']}", "code": "referral"})
    second = await _created(epr, "/fhir/ServiceRequest", referral(subject=subject))
    accepted = await _first(epr, "/fhir/Task", {"focus": f"ServiceRequest/{second['id']}", "code": "referral"})
    answer = await epr.post(
        f"/fhir/Task/{accepted['id']}/$accept", json=ACCEPT_WITH_SUPPORT, headers={**FHIR, "If-Match": _etag(accepted)}
    )
    assert answer.status_code == 200, answer.text
    accepted = (await epr.get(f"/fhir/Task/{accepted['id']}")).json()
    encounter = await _created(epr, "/fhir/Encounter", contact(pending["id"], "2026-01-06T10:00:00Z", subject=subject))
    letter = await _first(epr, "/fhir/Communication", {"subject": subject})
    plan = await _created(epr, "/fhir/CarePlan", crisis_plan(subject=subject))
    # A young person of 17 and a quarter on Barnet CYPMHS's caseload, with their transition case open.
    young = await _created(epr, "/fhir/Patient", patient(nhs_number(985_000_000), birthDate="2008-10-01"))
    young_person = f"Patient/{young['id']}"
    await _created(epr, "/fhir/EpisodeOfCare", episode("HealthcareService/barnet-cypmhs", young_person))
    cypmhs = secured.client(token=await secured.token("clinician-app", fhir_user=CYPMHS_WORKER))
    opening = transition_params(patient=young_person, referringWorker=CYPMHS_WORKER)
    case = await _created(cypmhs, "/fhir/Task/$open-transition", opening)
    return Person(subject, nhs, caseload, pending, task, accepted, encounter, letter, plan, young_person, case)


async def _send(client: httpx.AsyncClient, call: Call, person: Person) -> httpx.Response:
    headers = dict(FHIR)
    if (etag := call.if_match(person)) is not None:
        headers["If-Match"] = etag
    body = call.body(person)
    return await client.request(
        call.method, call.path(person), params=call.query(person), json=body, headers=headers if body else {}
    )


async def test_a_clinician_of_another_team_is_refused_everything(secured: Deployment, person: Person) -> None:
    """Every call of the table, through the gateway and directly; each refused, none changing anything."""
    tokens = {
        outsider: await secured.token(outsider[0], fhir_user=outsider[1]) for outsider in {c.outsider for c in CALLS}
    }
    epr = secured.client(token=await secured.token("epr-beh"))
    episodes = (await epr.get("/fhir/EpisodeOfCare", params={"patient": person.patient})).json()["total"]
    failures = []
    for call in CALLS:
        for route in ["gateway"] if call.service == "gateway" else ["gateway", call.service]:
            response = await _send(secured.client(route, token=tokens[call.outsider]), call, person)
            if response.status_code != 403 or outcome(response)["issue"][0]["code"] != "forbidden":
                failures.append(f"{call.name} via {route}: {response.status_code} {response.text[:200]}")
    mine = (person.referral, person.task, person.accepted_task, person.episode, person.encounter, person.plan)
    for resource in (*mine, person.case):
        now = (await epr.get(f"/fhir/{resource['resourceType']}/{resource['id']}")).json()
        if now["meta"]["versionId"] != resource["meta"]["versionId"]:
            failures.append(f"{resource['resourceType']}/{resource['id']} was changed")
    listed = await epr.get("/fhir/EpisodeOfCare", params={"patient": person.patient})
    if listed.json()["total"] != episodes:
        failures.append("an episode was opened for the person")
    assert not failures, "\n".join(failures)


async def test_a_clinician_of_a_team_that_knows_the_person_is_not_refused(secured: Deployment, person: Person) -> None:
    """The control: the same reads and searches by a team that knows the person succeed."""
    failures = []
    for call in (c for c in CALLS if c.insider and c.method == "GET"):
        insider = await secured.token("clinician-app", fhir_user=call.insider)
        for route in ["gateway"] if call.service == "gateway" else ["gateway", call.service]:
            response = await _send(secured.client(route, token=insider), call, person)
            if response.status_code != 200:
                failures.append(f"{call.name} via {route}: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)
