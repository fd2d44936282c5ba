"""One young person from the transitions worklist to an evaluated case, with every process real (issue 5).

The walk is docs/transitions.md's (tests/transitions/journey.py), sent through the gateway over
HTTP with real tokens: an EPR registers a 17¼-year-old and puts them on Barnet CYPMHS's caseload
(an EpisodeOfCare at the referrals service); the transitions service finds them for its worklist by
reading that caseload and the Patient's birth date through the gateway with its own client
credentials; the CYPMHS worker opens the case and walks phases 1 and 2 (the referral to Barnet's
Transitions team lands in the referrals service), the Transitions worker phases 3 to 5 (the adult
referral the plan names lands in the referrals service, carrying the plan). The adult team declines;
the referrals outbox → the gateway → its internal Subscription → transitions' `/internal/events`
escalates it (FR-62); an alternative destination, the handover, feedback and the review let the case
close as evaluated (FR-58).

Dates are today's: the young person is born 17 years 3 months before today (Europe/London, the
service's default timezone), so the discussion is on time and every "not in the future" rule holds.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.e2e.conftest import FHIR, Stack, created, eventually, nhs_number, patient
from tests.referrals.builders import episode
from tests.transitions.builders import destination, outputs, params, phase_of

CYPMHS = "HealthcareService/barnet-cypmhs"
WORKER = "PractitionerRole/barnet-cypmhs-worker"
TRANSITIONS_TEAM = "HealthcareService/barnet-transitions"
TRANSITIONS_WORKER = "PractitionerRole/barnet-transitions-worker"
ADULT_TEAM = "HealthcareService/barnet-core-south"
ADULT_WORKER = "PractitionerRole/barnet-core-south-worker"
REFERRAL_ID = "https://continuum.example.org/fhir/Id/transition-referral"
EXT_PHASE1_DEADLINE = "https://continuum.example.org/fhir/StructureDefinition/transition-phase1-deadline"
LONDON = ZoneInfo("Europe/London")
EVENT_TIMEOUT_SECONDS = 10.0
"""The decline travels two outboxes polled every 0.2 s; a second or so is usual."""


def months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier (the month's last day when it lacks the day)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The body of an answer with the expected status."""
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


def now() -> str:
    """This moment as a FHIR dateTime (the services refuse meetings and shares in the future)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def worklist_of(cypmhs: httpx.Client) -> dict[str, Any]:
    """Barnet CYPMHS's transitions worklist, as its worker sees it (read through the gateway on demand)."""
    return ok(cypmhs.get("/fhir/Task/$transition-worklist", params={"service": "barnet-cypmhs"}))


def row_for(worklist: dict[str, Any], subject: str) -> dict[str, Any] | None:
    """A worklist row's parts by name, for one young person (None when they are not listed)."""
    for parameter in worklist["parameter"]:
        if parameter["name"] != "row":
            continue
        parts = {part["name"]: part for part in parameter["part"]}
        if parts["patient"]["valueReference"]["reference"] == subject:
            return parts
    return None


def referrals_with(client: httpx.Client, subject: str, performer: str) -> list[dict[str, Any]]:
    """The ServiceRequests the referrals service holds for a person and a receiving team."""
    found = ok(client.get("/fhir/ServiceRequest", params={"subject": subject, "performer": performer}))
    return [e["resource"] for e in found.get("entry", []) if e["resource"]["resourceType"] == "ServiceRequest"]


class Case:
    """The transition case Task, stepped through the gateway with If-Match at its current version."""

    def __init__(self, task: dict[str, Any]) -> None:
        self.task = task

    @property
    def id(self) -> str:
        """The case Task's id."""
        task_id: str = self.task["id"]
        return task_id

    def step(self, client: httpx.Client, name: str, body: dict[str, Any]) -> None:
        """POST one named operation (200); the answer is the case's new version."""
        headers = {**FHIR, "If-Match": f'W/"{self.task["meta"]["versionId"]}"'}
        self.task = ok(client.post(f"/fhir/Task/{self.id}/${name}", json=body, headers=headers))

    def refresh(self, client: httpx.Client) -> None:
        """Read the case again (events change it behind our back)."""
        self.task = ok(client.get(f"/fhir/Task/{self.id}"))


def test_one_young_person_from_worklist_to_evaluated_case(stack: Stack) -> None:
    today = datetime.now(LONDON).date()
    birth = months_before(today, 17 * 12 + 3)
    with (
        stack.client(stack.token("epr-beh")) as epr,
        stack.client(stack.token("clinician-app", fhir_user=WORKER)) as cypmhs,
        stack.client(stack.token("clinician-app", fhir_user=TRANSITIONS_WORKER)) as transitions,
        stack.client(stack.token("clinician-app", fhir_user=ADULT_WORKER)) as adult_team,
    ):
        # An EPR registers the young person and puts them on Barnet CYPMHS's caseload.
        person = created(
            epr.post("/fhir/Patient", json=patient(nhs_number(), birthDate=birth.isoformat()), headers=FHIR)
        )
        subject = f"Patient/{person['id']}"
        cyp_episode = created(epr.post("/fhir/EpisodeOfCare", json=episode(CYPMHS, subject), headers=FHIR))

        # The worklist: transitions reads the caseload and the birth date through the gateway (FR-53).
        worklist = worklist_of(cypmhs)
        row = row_for(worklist, subject)
        assert row is not None, f"{subject} is not on the worklist: {worklist}"
        deadline = months_before(birth, -(17 * 12 + 6))
        assert row["birthDate"]["valueDate"] == birth.isoformat()
        assert row["age"]["valueString"] == "17y 3m"
        assert row["phase1Deadline"]["valueDate"] == deadline.isoformat()
        assert row["daysToDeadline"]["valueInteger"] == (deadline - today).days
        assert row["pastDeadline"]["valueBoolean"] is False
        assert row["service"]["valueReference"]["reference"] == CYPMHS
        assert row["episode"]["valueReference"]["reference"] == f"EpisodeOfCare/{cyp_episode['id']}"
        assert "case" not in row

        # Open the case (FR-52): phase 1, owned by the sending team, with the 17½ deadline.
        case = Case(
            ok(
                cypmhs.post(
                    "/fhir/Task/$open-transition", json=params(patient=subject, referringWorker=WORKER), headers=FHIR
                ),
                201,
            )
        )
        assert phase_of(case.task) == "pre-transition-discussion"
        assert case.task["owner"]["reference"] == CYPMHS
        assert {"url": EXT_PHASE1_DEADLINE, "valueDate": deadline.isoformat()} in case.task["extension"]
        # Until the discussion is recorded the young person stays on the worklist, with the case.
        waiting = row_for(worklist_of(cypmhs), subject)
        assert waiting is not None, "the young person left the worklist before the discussion"
        assert waiting["case"]["valueReference"]["reference"] == f"Task/{case.id}"

        # Phase 1: the pre-transition discussion, today (before the 17½ deadline: on time).
        participants = [subject, WORKER]
        case.step(cypmhs, "record-discussion", params(date=today.isoformat(), participant=participants))
        assert phase_of(case.task) == "support-decision"
        assert outputs(case.task, "discussion-date") == [today.isoformat()]
        assert outputs(case.task, "late-initiation") == [False]
        assert row_for(worklist_of(cypmhs), subject) is None, (
            "a young person with a phase-1 record is still on the worklist"
        )

        # Phase 2: support is agreed; the Transitions team is referred to, in the referrals service (FR-54).
        case.step(cypmhs, "decide-support", params(supportNeeded=True, agreedBy=participants))
        assert phase_of(case.task) == "transition-planning"
        [sent] = outputs(case.task, "transitions-referral")
        [to_transitions] = referrals_with(epr, subject, TRANSITIONS_TEAM)
        assert sent["reference"] == f"ServiceRequest/{to_transitions['id']}"
        assert to_transitions["identifier"] == [{"system": REFERRAL_ID, "value": f"{case.id}:transitions-team"}]
        assert to_transitions["code"]["coding"][0]["code"] == "390866009"
        assert to_transitions["requester"]["reference"] == WORKER
        assert {"reference": f"Task/{case.id}", "display": "Transition case"} in to_transitions["supportingInfo"]

        # Phase 3: the multi-agency meeting makes the plan; shared; the young person agrees (FR-55, FR-56).
        meeting = params(
            date=now(),
            invitee=[WORKER, TRANSITIONS_WORKER, subject, {"display": "Barnet Virtual School (education)"}],
            attendee=[TRANSITIONS_WORKER, subject, {"display": "Barnet Virtual School (education)"}],
            destination=[destination("young-adult-service", ADULT_TEAM)],
            summary="Young-adult pathway at the core team South, near college; joint visit before the handover",
        )
        case.step(transitions, "record-meeting", meeting)
        plan = case.task["focus"]["reference"]
        assert ok(transitions.get(f"/fhir/{plan}"))["status"] == "draft"
        case.step(transitions, "share-plan", params(date=now()))
        case.step(transitions, "record-agreement", params(decision="agreed", decidedBy=subject))
        assert phase_of(case.task) == "plan-actioning"
        assert ok(transitions.get(f"/fhir/{plan}"))["status"] == "active"

        # Phase 4: an agreed alternative time (today, before the 18th birthday: Q-TR-12), then actioning
        # sends the adult referral the plan names, carrying the plan (FR-57, FR-64).
        agreed = [subject, WORKER, TRANSITIONS_WORKER]
        rationale = "Exams are over; moving now is a time of relative stability"
        case.step(transitions, "set-action-date", params(date=today.isoformat(), agreedBy=agreed, rationale=rationale))
        assert phase_of(case.task) == "plan-actioning"
        summary = (
            "Known to Barnet CYPMHS since 2022 for low mood and anxiety. Completed CBT in 2024; on sertraline "
            "50 mg. Safety plan shared; no self-harm in the last 12 months. Prefers text reminders."
        )
        case.step(transitions, "action-plan", params(cypSummary=summary))
        assert phase_of(case.task) == "evaluation"
        [adult] = referrals_with(epr, subject, ADULT_TEAM)
        assert outputs(case.task, "adult-referral") == [{"reference": f"ServiceRequest/{adult['id']}"}]
        assert adult["identifier"] == [{"system": REFERRAL_ID, "value": f"{case.id}:adult-0"}]
        assert adult["code"]["coding"][0]["code"] == "308292007"
        assert [b["reference"] for b in adult["basedOn"]] == [plan]
        supporting = [s["reference"] for s in adult["supportingInfo"]]
        assert plan in supporting
        assert "#cyp-summary" in supporting
        assert f"EpisodeOfCare/{cyp_episode['id']}" in supporting
        assert adult["contained"][0]["description"] == summary

        # The adult team declines; the event comes back through the gateway's Subscription (FR-62).
        query = {"owner": ADULT_TEAM, "focus": f"ServiceRequest/{adult['id']}", "code": "referral"}
        found = ok(adult_team.get("/fhir/Task", params=query))
        [adult_task] = [e["resource"] for e in found["entry"]]
        decline = {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "reason", "valueCode": "needs-better-met-elsewhere"},
                {"name": "rationale", "valueString": "Needs are better met by the Transitions clinical service"},
                {"name": "assessment", "valueReference": {"reference": "QuestionnaireResponse/assessment-1"}},
                {"name": "nextStep", "valueCode": "escalate"},
            ],
        }
        etag = f'W/"{adult_task["meta"]["versionId"]}"'
        ok(adult_team.post(f"/fhir/Task/{adult_task['id']}/$decline", json=decline, headers={**FHIR, "If-Match": etag}))

        def escalation() -> dict[str, Any] | None:
            query = {"code": "transition-escalation", "subject": subject}
            found = ok(transitions.get("/fhir/Task", params=query))
            return found["entry"][0]["resource"] if found.get("entry") else None

        escalated = eventually(escalation, EVENT_TIMEOUT_SECONDS, "the escalation of the declined referral")
        assert escalated["owner"]["reference"] == TRANSITIONS_TEAM
        assert escalated["focus"]["reference"] == f"ServiceRequest/{adult['id']}"
        assert escalated["partOf"] == [{"reference": f"Task/{case.id}"}]
        case.refresh(transitions)
        assert phase_of(case.task) == "evaluation", "a declined referral moved the case out of phase 5"

        # Phase 5: an alternative destination, the handover, feedback and the review; then the case closes.
        alternative = destination(
            "transitions-clinical-service", TRANSITIONS_TEAM, "lost-confidence-with-traditional-support"
        )
        case.step(transitions, "record-alternative", params(destination=[alternative]))
        assert len(referrals_with(epr, subject, TRANSITIONS_TEAM)) == 2, "the alternative was not sent"
        assert ok(transitions.get(f"/fhir/Task/{escalated['id']}"))["status"] == "completed"
        case.step(transitions, "record-handover", params(cypEnd=today.isoformat(), adultStart=today.isoformat()))
        case.step(
            transitions,
            "record-feedback",
            params(respondent="young-person", experience="positive", comment="Meeting my new worker first helped"),
        )
        case.step(transitions, "review", params(outcome="effective", reviewer=TRANSITIONS_WORKER))
        case.step(transitions, "close", params(note="Settled with the Transitions clinical service"))
        assert (phase_of(case.task), case.task["status"]) == ("closed", "completed")
        assert ok(transitions.get(f"/fhir/{plan}"))["status"] == "completed"
        status = {p["name"]: p for p in ok(transitions.get(f"/fhir/Task/{case.id}/$transition-status"))["parameter"]}
        assert status["phase"]["valueCoding"]["code"] == "closed"
        assert status["discussionDate"]["valueDate"] == today.isoformat()
        assert status["lateInitiation"]["valueBoolean"] is False
        assert status["plannedActionDate"]["valueDate"] == today.isoformat()
        assert status["overdue"]["valueBoolean"] is False
        assert status["planStatus"]["valueCode"] == "completed"
        assert status["openEscalations"]["valueInteger"] == 0
        assert status["continuityGapDays"]["valueInteger"] == 0
        phases = ok(
            epr.get("/fhir/Task", params={"code": "transition-phase", "part-of": f"Task/{case.id}", "_count": "10"})
        )
        assert phases["total"] == 5
        assert {t["resource"]["status"] for t in phases["entry"]} == {"completed"}
