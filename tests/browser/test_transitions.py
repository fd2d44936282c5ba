"""The transitions pages in the clinicians' client, against the real gateway, referrals and transitions processes.

An EPR registers a young person of 17 years and 3 months and puts them on Barnet CYPMHS's caseload.
Their CYPMHS worker sees them on the transitions worklist, opens a case, is refused a step out of
order (in plain words), records the pre-transition discussion (phase 1 → 2) and the agreement that
support is needed (phase 2 → 3, which refers them to Barnet's Transitions team).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.browser.conftest import Browser, rendered, sign_in_then, signed_in
from tests.e2e.conftest import FHIR, Service, Stack, created, nhs_number, patient

CYPMHS_WORKER = "barnet-cypmhs-worker"
CYPMHS = "HealthcareService/barnet-cypmhs"
EPISODE_TEAM = "https://continuum.example.org/fhir/StructureDefinition/episode-healthcare-service"
LONDON = ZoneInfo("Europe/London")


def months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier (the month's last day when it lacks the day)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


@dataclass(frozen=True)
class YoungPerson:
    """A young person on Barnet CYPMHS's caseload."""

    patient_id: str
    episode_id: str
    deadline: date


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests keep the pages they hand to Chromium."""
    return Path(tmp_path_factory.mktemp("transitions"))


@pytest.fixture(scope="module")
def young_person(stack: Stack) -> YoungPerson:
    """Zara Ahmed, 17 years and 3 months old today, on Barnet CYPMHS's caseload."""
    today = datetime.now(LONDON).date()
    birth = months_before(today, 17 * 12 + 3)
    named = patient(nhs_number(), birthDate=birth.isoformat(), name=[{"family": "Ahmed", "given": ["Zara"]}])
    with stack.client(stack.token("epr-beh")) as epr:
        registered = created(epr.post("/fhir/Patient", json=named, headers=FHIR))
        episode = {
            "resourceType": "EpisodeOfCare",
            "status": "active",
            "patient": {"reference": f"Patient/{registered['id']}"},
            "extension": [{"url": EPISODE_TEAM, "valueReference": {"reference": CYPMHS}}],
        }
        opened = created(epr.post("/fhir/EpisodeOfCare", json=episode, headers=FHIR))
    return YoungPerson(registered["id"], opened["id"], months_before(birth, -(17 * 12 + 6)))


def case_of(stack: Stack, patient_id: str) -> dict[str, Any]:
    """The young person's case Task as the transitions service holds it (read by an EPR)."""
    with stack.client(stack.token("epr-beh")) as epr:
        found = epr.get("/fhir/Task", params={"code": "transition-case", "subject": f"Patient/{patient_id}"}).json()
    [entry] = found["entry"]
    task: dict[str, Any] = entry["resource"]
    return task


def phase(task: dict[str, Any]) -> str:
    """The case's phase code."""
    code: str = task["businessStatus"]["coding"][0]["code"]
    return code


def csrf_and_version(html: str) -> tuple[str, str]:
    """The anti-forgery token and the case version a page's first form carries."""
    csrf = re.search(r'name="csrf" value="([^"]+)"', html)
    version = re.search(r'name="version" value="([^"]*)"', html)
    assert csrf, html[:500]
    assert version, html[:500]
    return csrf.group(1), version.group(1)


def test_the_worklist_shows_the_young_person_with_their_deadline(
    browser: Browser, client_app: Service, workdir: Path, young_person: YoungPerson
) -> None:
    url = sign_in_then(workdir, client_app, CYPMHS_WORKER, "/transitions")
    dom = browser.dom(url)
    assert "<h1>Transitions to adult services</h1>" in dom
    assert "Zara Ahmed" in dom
    assert f"Patient/{young_person.patient_id}" not in dom.replace(f'value="Patient/{young_person.patient_id}"', ""), (
        "the person is named on the page (the reference is only in the hidden form field)"
    )
    assert young_person.deadline.strftime("%-d %b %Y") in dom, "the 17½ deadline"
    assert "17y 3m" in dom
    assert "Barnet CYPMHS" in dom
    assert "Open a transition case" in dom
    browser.screenshot(url, "11-transitions-worklist.png")


def test_a_case_is_opened_and_walked_from_phase_1_to_phase_3(
    browser: Browser, client_app: Service, stack: Stack, workdir: Path, young_person: YoungPerson
) -> None:
    subject = f"Patient/{young_person.patient_id}"
    me = f"PractitionerRole/{CYPMHS_WORKER}"
    with signed_in(client_app, CYPMHS_WORKER) as http:
        csrf, _ = csrf_and_version(http.get("/transitions").text)
        opened = http.post(
            "/transitions/open",
            data={
                "csrf": csrf,
                "version": "",
                "patient": subject,
                "episode": f"EpisodeOfCare/{young_person.episode_id}",
            },
        )
        assert opened.status_code == 303, opened.text
        case_id = case_of(stack, young_person.patient_id)["id"]
        assert opened.headers["location"].startswith(f"/transitions/cases/{case_id}")
        page = http.get(opened.headers["location"]).text
        assert "Transition case opened at phase 1." in page
        assert "<h1>Transition case: Zara Ahmed</h1>" in page
        assert "Phase 1 of 5: Pre-transition discussion" in page
        assert '<li aria-current="step" class="app-phase" data-phase="pre-transition-discussion">' in page
        assert 'action="/transitions/cases/' + case_id + '/record-discussion"' in page
        assert "Dana Patel, Barnet CYPMHS" in page, "the referring worker is named"

        # A step of a later phase, sent as a tampered form would be: refused, in plain words.
        csrf, version = csrf_and_version(page)
        refused = http.post(
            f"/transitions/cases/{case_id}/decide-support",
            data={"csrf": csrf, "version": version, "supportNeeded": "yes", "agreedBy-0": subject, "agreedBy-1": me},
        )
        assert refused.status_code == 409
        assert "This cannot be done in the transition case&#x27;s current state." in refused.text
        assert "<strong>Phase</strong>: Cannot decide-support while the case is at phase 1" in refused.text
        assert "phases complete in order" in refused.text
        browser.screenshot(rendered(workdir, client_app, refused.text, "refused.html"), "12-transition-refused.png")
        assert phase(case_of(stack, young_person.patient_id)) == "pre-transition-discussion"

        # Phase 1 → 2: the pre-transition discussion, today, with the young person.
        today = datetime.now(LONDON).date().isoformat()
        recorded = http.post(
            f"/transitions/cases/{case_id}/record-discussion",
            data={
                "csrf": csrf,
                "version": version,
                "date": today,
                "participant-0": subject,
                "participant-1": me,
                "note": "Talked through what adult services offer",
            },
        )
        assert recorded.status_code == 303, recorded.text
        case = case_of(stack, young_person.patient_id)
        assert phase(case) == "support-decision"
        outputs = {o["type"]["coding"][0]["code"]: o for o in case["output"]}
        assert outputs["discussion-date"]["valueDate"] == today
        assert outputs["late-initiation"]["valueBoolean"] is False
        page = http.get(recorded.headers["location"]).text
        assert "Phase 2 of 5: Agree whether support with the transition is needed" in page
        assert '<li aria-current="step" class="app-phase" data-phase="support-decision">' in page

        # Phase 2 → 3: support is agreed with the young person; they are referred to the Transitions team.
        csrf, version = csrf_and_version(page)
        agreed = http.post(
            f"/transitions/cases/{case_id}/decide-support",
            data={"csrf": csrf, "version": version, "supportNeeded": "yes", "agreedBy-0": subject, "agreedBy-1": me},
        )
        assert agreed.status_code == 303, agreed.text
    case = case_of(stack, young_person.patient_id)
    assert phase(case) == "transition-planning"
    assert case["owner"]["reference"] == "HealthcareService/barnet-transitions"
    changed_by = [x for x in case.get("extension", []) if x["url"].endswith("/changed-by")]
    assert changed_by, "the step names who took it"
    assert changed_by[0]["valueReference"]["reference"] == me
    url = sign_in_then(workdir, client_app, CYPMHS_WORKER, f"/transitions/cases/{case_id}")
    dom = browser.dom(url)
    assert "Phase 3 of 5" in dom
    assert "Barnet Transitions Team" in dom, "the team now holding the case is named"
    assert "Record the multi-agency transition meeting" in dom
    browser.screenshot(url, "13-transition-case.png")


def test_a_step_form_without_the_session_token_is_refused(
    client_app: Service, stack: Stack, young_person: YoungPerson
) -> None:
    case = case_of(stack, young_person.patient_id)
    with signed_in(client_app, CYPMHS_WORKER) as http:
        answer = http.post(f"/transitions/cases/{case['id']}/share-plan", data={"version": case["meta"]["versionId"]})
    assert answer.status_code == 403
    assert case_of(stack, young_person.patient_id)["meta"] == case["meta"]
