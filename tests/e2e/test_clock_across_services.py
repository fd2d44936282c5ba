"""The waiting clock across real processes (FR-12, FR-50): care-plan events stop a referral's clock.

A referral's clock stops when the last of four conditions is first met: seen, assessed (a finished
face-to-face contact with an assessment, recorded in the referrals service), a baseline outcome
(the referral's first DIALOG, recorded in the care-plans service), and an intervention started or a
co-produced care plan completed (the first DIALOG+ session of the episode starts an intervention;
activating its plan completes the co-produced plan). The care-plan conditions travel as events:
the care-plans outbox → the gateway's `/internal/events` → the referrals service's Subscription →
its `/internal/events` → the clock.

Every clinical time is the moment the test sends it (to the millisecond, strictly increasing), so
each comes after the referral was received and the clock stop is the session's date exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.e2e.conftest import FHIR, Stack, created, eventually, nhs_number, patient
from tests.referrals.builders import ACCEPT_WITH_SUPPORT, contact, episode, referral

PSYCHOSIS_TEAM = "HealthcareService/barnet-psychosis"
PSYCHOSIS_WORKER = "PractitionerRole/barnet-psychosis-worker"
DIALOG = "https://continuum.example.org/fhir/Questionnaire/dialog"
SATISFACTION = "https://continuum.example.org/fhir/CodeSystem/dialog-satisfaction"
SATISFACTION_DISPLAY = {
    "1": "totally dissatisfied",
    "2": "very dissatisfied",
    "3": "fairly dissatisfied",
    "4": "in the middle",
    "5": "fairly satisfied",
    "6": "very satisfied",
    "7": "totally satisfied",
}
# The DIALOG items by group (docs/careplans.md, section 2), each with a rating and "more help?".
RATINGS: dict[str, dict[str, tuple[str, bool]]] = {
    "life-domains": {
        "mental-health": ("4", False),
        "physical-health": ("5", False),
        "job-situation": ("3", False),
        "accommodation": ("2", True),
        "leisure": ("4", False),
        "partner-family": ("5", False),
        "friendships": ("3", True),
        "personal-safety": ("5", False),
    },
    "treatment-aspects": {
        "medication": ("5", False),
        "practical-help": ("4", False),
        "meetings": ("6", False),
    },
}
SECTIONS = (
    "what-matters-to-me",
    "strengths",
    "important-people",
    "cultural-needs",
    "physical-health",
    "drug-and-alcohol",
    "social-goals",
)
POLL_SECONDS = 10.0

_last_stamp: datetime | None = None


def stamp() -> str:
    """Now as a FHIR instant to the millisecond, later than every stamp handed out before."""
    global _last_stamp
    now = datetime.now(UTC)
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    if _last_stamp is not None and now <= _last_stamp:
        now = _last_stamp + timedelta(milliseconds=1)
    _last_stamp = now
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def moment(text: str) -> datetime:
    """A FHIR instant as an aware datetime (to compare instants whatever their spelling)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# ---------------------------------------------------------------- care-plans payloads (docs/careplans.md)


def dialog_response(subject: str, referral_id: str, authored: str) -> dict[str, Any]:
    """A completed DIALOG as a tablet records it (section 3.4), basedOn the referral."""
    groups = []
    for group, items in RATINGS.items():
        answered = []
        for link_id, (rating, more_help) in items.items():
            coding = {"system": SATISFACTION, "code": rating, "display": SATISFACTION_DISPLAY[rating]}
            answered.append(
                {
                    "linkId": link_id,
                    "item": [
                        {"linkId": f"{link_id}.satisfaction", "answer": [{"valueCoding": coding}]},
                        {"linkId": f"{link_id}.more-help", "answer": [{"valueBoolean": more_help}]},
                    ],
                }
            )
        groups.append({"linkId": group, "item": answered})
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": DIALOG,
        "status": "completed",
        "subject": {"reference": subject},
        "item": groups,
        "authored": authored,
        "basedOn": [{"reference": f"ServiceRequest/{referral_id}"}],
    }


def session(episode_ref: str, response: str, date: str) -> dict[str, Any]:
    """A first DIALOG+ session (section 3.2): the recorded DIALOG, one domain, every section, long-term."""
    domain = [
        {"name": "item", "valueCode": "accommodation"},
        {"name": "understanding", "valueString": "The flat is warm and near my sister"},
        {"name": "lookingForward", "valueString": "The damp is fixed; a first step is reporting it in writing"},
        {"name": "exploringOptions", "valueString": "I can write to the council; my worker can chase the housing team"},
        {
            "name": "action",
            "part": [
                {"name": "description", "valueString": "Write to the council about the damp, with a photo"},
                {"name": "who", "valueCode": "person"},
                {"name": "by", "valueDate": (moment(date) + timedelta(days=14)).date().isoformat()},
            ],
        },
    ]
    sections = [
        {
            "name": "section",
            "part": [
                {"name": "code", "valueCode": code},
                {"name": "text", "valueString": f"About {code}: none identified"},
            ],
        }
        for code in SECTIONS
    ]
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "episode", "valueReference": {"reference": episode_ref}},
            {"name": "clinician", "valueReference": {"reference": PSYCHOSIS_WORKER}},
            {"name": "response", "valueReference": {"reference": response}},
            {"name": "date", "valueDateTime": date},
            {"name": "domain", "part": domain},
            *sections,
            {"name": "longTerm", "valueBoolean": True},
            {
                "name": "careTeamMember",
                "part": [
                    {"name": "role", "valueCode": "key-worker"},
                    {"name": "member", "valueReference": {"reference": PSYCHOSIS_WORKER}},
                ],
            },
        ],
    }


def agreement(when: str) -> dict[str, Any]:
    """`$activate` with the person's verbal agreement (section 3.3)."""
    return {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "agreement",
                "part": [{"name": "when", "valueDateTime": when}, {"name": "method", "valueCode": "verbal"}],
            }
        ],
    }


# ---------------------------------------------------------------- reading the clock


def referral_task(client: httpx.Client, subject: str, referral_id: str) -> dict[str, Any]:
    """The Task tracking a referral (a clinician's search names the person)."""
    query = {"patient": subject, "focus": f"ServiceRequest/{referral_id}", "code": "referral"}
    found = client.get("/fhir/Task", params=query)
    assert found.status_code == 200, found.text
    [entry] = found.json()["entry"]
    task: dict[str, Any] = entry["resource"]
    return task


def business_status(task: dict[str, Any]) -> str:
    """The referral state a Task carries."""
    code: str = task["businessStatus"]["coding"][0]["code"]
    return code


class Clock:
    """A referral's `$waiting-time`, read through the gateway."""

    def __init__(self, parameters: dict[str, Any]) -> None:
        self.parameters = parameters
        self.values: dict[str, Any] = {}
        self.conditions: dict[str, datetime | None] = {}
        for parameter in parameters.get("parameter") or []:
            if parameter["name"] == "condition":
                parts = {p["name"]: p for p in parameter["part"]}
                met = parts["met"]["valueBoolean"]
                self.conditions[parts["name"]["valueCode"]] = moment(parts["at"]["valueDateTime"]) if met else None
            else:
                value = next((v for k, v in parameter.items() if k.startswith("value")), None)
                self.values[parameter["name"]] = value

    @property
    def clock_stop(self) -> datetime | None:
        """When the clock stopped, if it has."""
        text = self.values.get("clockStop")
        return moment(text) if isinstance(text, str) else None


def read_clock(client: httpx.Client, referral_id: str) -> Clock:
    """`GET /fhir/ServiceRequest/{id}/$waiting-time`."""
    response = client.get(f"/fhir/ServiceRequest/{referral_id}/$waiting-time")
    assert response.status_code == 200, response.text
    return Clock(response.json())


def clock_when(client: httpx.Client, referral_id: str, what: str, holds: Callable[[Clock], bool]) -> Clock:
    """Poll the clock until `holds(clock)` (the events cross three processes)."""

    def probe() -> Clock | None:
        clock = read_clock(client, referral_id)
        return clock if holds(clock) else None

    found: Clock = eventually(probe, POLL_SECONDS, what, interval=0.1)
    return found


# ---------------------------------------------------------------- the test


def test_the_clock_stops_only_when_the_last_condition_is_met_across_services(stack: Stack) -> None:
    with stack.client(stack.token("epr-beh")) as epr:
        person = created(epr.post("/fhir/Patient", json=patient(nhs_number()), headers=FHIR))
        subject = f"Patient/{person['id']}"
        created(epr.post("/fhir/EpisodeOfCare", json=episode(patient=subject), headers=FHIR))
        sent = created(epr.post("/fhir/ServiceRequest", json=referral(subject=subject), headers=FHIR))
    referral_id: str = sent["id"]

    with stack.client(stack.token("clinician-app", fhir_user=PSYCHOSIS_WORKER)) as clinician:
        task = referral_task(clinician, subject, referral_id)
        accepted = clinician.post(
            f"/fhir/Task/{task['id']}/$accept",
            json=ACCEPT_WITH_SUPPORT,
            headers={**FHIR, "If-Match": f'W/"{task["meta"]["versionId"]}"'},
        )
        assert accepted.status_code == 200, accepted.text
        assert business_status(accepted.json()) == "accepted-waiting"
        waiting = clinician.get(
            "/fhir/EpisodeOfCare", params={"patient": subject, "incoming-referral": f"ServiceRequest/{referral_id}"}
        )
        assert waiting.status_code == 200, waiting.text
        [waiting_entry] = waiting.json()["entry"]
        waiting_episode = waiting_entry["resource"]
        assert waiting_episode["status"] == "waitlist"

        # (a) and (b): seen face to face, with an assessment, in the referrals service itself.
        seen_at = stamp()
        created(
            clinician.post(
                "/fhir/Encounter", json=contact(referral_id, seen_at, "assessment", subject=subject), headers=FHIR
            )
        )
        clock = read_clock(clinician, referral_id)
        assert clock.conditions["seen"] == moment(seen_at)
        assert clock.conditions["assessed"] == moment(seen_at)
        assert clock.conditions["baseline-outcome"] is None
        assert clock.clock_stop is None

        # (c): the referral's first DIALOG is its baseline; careplans tells the clock through the gateway.
        baseline_at = stamp()
        response = created(
            clinician.post(
                "/fhir/QuestionnaireResponse", json=dialog_response(subject, referral_id, baseline_at), headers=FHIR
            )
        )
        clock = clock_when(
            clinician,
            referral_id,
            "the baseline-outcome-recorded event at the referral's clock",
            lambda c: c.conditions.get("baseline-outcome") is not None,
        )
        assert clock.conditions["baseline-outcome"] == moment(baseline_at)
        assert clock.conditions["intervention-or-careplan"] is None
        assert clock.clock_stop is None, "the clock stopped with three of the four conditions met"
        assert business_status(referral_task(clinician, subject, referral_id)) == "accepted-waiting"

        # (d): the first DIALOG+ session of the episode starts an intervention (intervention-started).
        session_at = stamp()
        started = clinician.post(
            "/fhir/CarePlan/$dialog-plus-session",
            json=session(
                f"EpisodeOfCare/{waiting_episode['id']}", f"QuestionnaireResponse/{response['id']}", session_at
            ),
            headers=FHIR,
        )
        plan = created(started)
        assert plan["status"] == "draft"
        clock = clock_when(clinician, referral_id, "the clock stop", lambda c: c.clock_stop is not None)
        assert clock.conditions == {
            "seen": moment(seen_at),
            "assessed": moment(seen_at),
            "baseline-outcome": moment(baseline_at),
            "intervention-or-careplan": moment(session_at),
        }
        assert clock.clock_stop == moment(session_at), "the stop is the time the last condition was met"
        assert clock.clock_stop == max(t for t in clock.conditions.values() if t is not None)
        assert moment(clock.values["clockStart"]) < moment(seen_at)
        task = referral_task(clinician, subject, referral_id)
        assert business_status(task) == "started"
        assert task["status"] == "in-progress"
        assert clinician.get(f"/fhir/EpisodeOfCare/{waiting_episode['id']}").json()["status"] == "active"

        # The co-produced plan completes (coproduced-careplan-completed): the same condition, met later,
        # so the stop does not move and the referral is not started again.
        agreed_at = stamp()
        activated = clinician.post(
            f"/fhir/CarePlan/{plan['id']}/$activate",
            json=agreement(agreed_at),
            headers={**FHIR, "If-Match": f'W/"{plan["meta"]["versionId"]}"'},
        )
        assert activated.status_code == 200, activated.text
        assert activated.json()["status"] == "active"

        def careplan_completed() -> list[tuple[Any, ...]] | None:
            rows = stack.referrals.query(
                "SELECT milestone FROM clock_event WHERE spell = ? AND milestone = ?",
                referral_id,
                "coproduced-careplan-completed",
            )
            return rows or None

        eventually(careplan_completed, POLL_SECONDS, "the coproduced-careplan-completed event at the clock")
        after = read_clock(clinician, referral_id)
        assert after.clock_stop == moment(session_at)
        assert after.conditions == clock.conditions
        assert referral_task(clinician, subject, referral_id)["meta"]["versionId"] == task["meta"]["versionId"]
