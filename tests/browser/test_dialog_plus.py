"""A DIALOG+ session in the clinicians' client, against the real gateway, referrals and care-plans processes.

An EPR registers a person and puts them on the Barnet core team (north)'s caseload. Their key
worker finds them on the caseload, runs a first DIALOG+ session (the 11 ratings, one domain with the
four steps and an agreed action), sees the draft plan and the chart of the scores; at the next
session a new action without reviewing the open one is refused in plain words, and with the review
the chart shows both sessions against the baseline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import Browser, rendered, sign_in_then, signed_in
from tests.e2e.conftest import FHIR, Service, Stack, created, nhs_number, patient

KEY_WORKER = "barnet-core-north-worker"
TEAM = "HealthcareService/barnet-core-north"
EPISODE_TEAM = "https://continuum.example.org/fhir/StructureDefinition/episode-healthcare-service"
FIRST = {
    "mental-health": "4",
    "physical-health": "5",
    "job-situation": "3",
    "accommodation": "2",
    "leisure": "4",
    "partner-family": "5",
    "friendships": "3",
    "personal-safety": "5",
    "medication": "5",
    "practical-help": "4",
    "meetings": "6",
}
"""Life domains mean 31/8 = 3.875 → 3.88 (the baseline); treatment aspects mean 15/3 = 5."""
SECOND = {**FIRST, "mental-health": "5", "job-situation": "4", "accommodation": "4", "friendships": "4"}
"""Life domains mean 36/8 = 4.5."""
FIRST_ACTION = "Write to the council about the damp, with a photo"
SECOND_ACTION = "Try the sleep routine from the leaflet"


@dataclass(frozen=True)
class OnCaseload:
    """A person on the core team's caseload."""

    patient_id: str
    episode_id: str


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests keep the pages they hand to Chromium."""
    return Path(tmp_path_factory.mktemp("dialog"))


@pytest.fixture(scope="module")
def person(stack: Stack) -> OnCaseload:
    """Kofi Mensah, registered by an EPR and on the Barnet core team (north)'s caseload."""
    named = patient(nhs_number(), name=[{"family": "Mensah", "given": ["Kofi"]}])
    with stack.client(stack.token("epr-beh")) as epr:
        registered = created(epr.post("/fhir/Patient", json=named, headers=FHIR))
        episode = {
            "resourceType": "EpisodeOfCare",
            "status": "active",
            "patient": {"reference": f"Patient/{registered['id']}"},
            "extension": [{"url": EPISODE_TEAM, "valueReference": {"reference": TEAM}}],
        }
        opened = created(epr.post("/fhir/EpisodeOfCare", json=episode, headers=FHIR))
    return OnCaseload(registered["id"], opened["id"])


def tokens(html: str) -> tuple[str, str]:
    """The anti-forgery token and the plan version a session form carries ("" before the first session)."""
    csrf = re.search(r'name="csrf" value="([^"]+)"', html)
    version = re.search(r'name="version" value="([^"]*)"', html)
    assert csrf, html[:500]
    assert version, html[:500]
    return csrf.group(1), version.group(1)


def ratings(values: dict[str, str], more_help: tuple[str, ...] = ()) -> dict[str, str]:
    """The rating radios (and "need more help" ticks) as the browser posts them."""
    form = {f"rating-{item}": value for item, value in values.items()}
    form.update({f"help-{item}": "yes" for item in more_help})
    return form


def by_date(days: int) -> str:
    """A date `days` from today, as a date input sends it."""
    return (date.today() + timedelta(days=days)).isoformat()


def plan_of(stack: Stack, episode_id: str) -> dict[str, Any]:
    """The episode's DIALOG+ plan as the care-plans service holds it (read by an EPR)."""
    with stack.client(stack.token("epr-beh")) as epr:
        found = epr.get(
            "/fhir/CarePlan",
            params={"category": "dialog-plus-personalised-plan", "episode": f"EpisodeOfCare/{episode_id}"},
        ).json()
    [entry] = found["entry"]
    plan: dict[str, Any] = entry["resource"]
    return plan


def test_the_caseload_names_the_person_and_offers_dialog_plus(
    browser: Browser, client_app: Service, workdir: Path, person: OnCaseload
) -> None:
    url = sign_in_then(workdir, client_app, KEY_WORKER, "/caseload")
    dom = browser.dom(url)
    assert "<h1>Caseload: Barnet Core Community Mental Health Team North</h1>" in dom
    assert "Kofi Mensah" in dom
    assert f"Patient/{person.patient_id}" not in dom, "a raw reference is shown instead of the name"
    assert f'href="/episodes/{person.episode_id}/dialog"' in dom
    browser.screenshot(url, "07-caseload.png")


def test_the_session_page_shows_the_eleven_ratings_and_the_four_steps(
    browser: Browser, client_app: Service, workdir: Path, person: OnCaseload
) -> None:
    url = sign_in_then(workdir, client_app, KEY_WORKER, f"/episodes/{person.episode_id}/dialog")
    dom = browser.dom(url)
    assert "<h1>DIALOG+ session: Kofi Mensah</h1>" in dom
    legends = re.findall(r'<fieldset class="app-fieldset app-rating" id="rating-([a-z-]+)">', dom)
    assert legends == list(FIRST), "the 11 items, in the Questionnaire's order"
    assert '<legend class="app-legend">Mental health: How satisfied are you with your mental health?</legend>' in dom
    assert dom.count('type="radio"') == 11 * 9, "1 to 7 and the two reasons for not rating, for each item"
    assert dom.count('<label for="help-') == 11
    assert dom.count("Do you need more help in this area?") == 11
    assert "Choose up to three domains" in dom
    assert re.findall(r'<select class="app-select" id="(domain\d)-item"', dom) == ["domain1", "domain2", "domain3"], (
        "three domain slots, no more"
    )
    for step in ("Understanding", "Looking forward", "Exploring options", "Who does it", "By when"):
        assert f">{step}" in dom
    assert "There are no open actions from earlier sessions." in dom
    assert 'name="csrf"' in dom
    browser.screenshot(url, "08-dialog-session.png")


def test_a_session_form_without_the_session_token_is_refused(client_app: Service, person: OnCaseload) -> None:
    with signed_in(client_app, KEY_WORKER) as http:
        answer = http.post(f"/episodes/{person.episode_id}/dialog", data=ratings(FIRST))
    assert answer.status_code == 403


def first_session(http: httpx.Client, episode_id: str) -> httpx.Response:
    csrf, version = tokens(http.get(f"/episodes/{episode_id}/dialog").text)
    assert version == "", "no plan yet: the first session creates it"
    form = {
        "csrf": csrf,
        "version": version,
        **ratings(FIRST, more_help=("accommodation", "friendships")),
        "domain1-item": "accommodation",
        "domain1-understanding": "The flat is warm and near my sister <and> damp",
        "domain1-lookingForward": "The damp is fixed; a first step is reporting it in writing",
        "domain1-exploringOptions": "I can write to the council; my worker can chase the housing team",
        "domain1-action1-description": FIRST_ACTION,
        "domain1-action1-who": "person",
        "domain1-action1-by": by_date(14),
    }
    return http.post(f"/episodes/{episode_id}/dialog", data=form)


def test_a_first_session_makes_the_plan_and_charts_the_baseline(
    browser: Browser, client_app: Service, stack: Stack, workdir: Path, person: OnCaseload
) -> None:
    with signed_in(client_app, KEY_WORKER) as http:
        answer = first_session(http, person.episode_id)
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"].startswith(f"/episodes/{person.episode_id}/plan")
        shown = http.get(answer.headers["location"])
    assert shown.status_code == 200
    page = shown.text
    assert "DIALOG+ session recorded; the care plan is up to date." in page
    assert "<h1>Care plan: Kofi Mensah</h1>" in page
    assert "Draft: not yet agreed" in page
    assert FIRST_ACTION in page
    assert "The flat is warm and near my sister &lt;and&gt; damp" in page, "what was typed is escaped"
    assert "<and>" not in page
    assert "Ben Patel, Barnet" in page, "the key worker is named, not referenced"
    assert '<svg class="app-chart" id="chart-means" role="img"' in page
    assert '<title id="chart-means-title">DIALOG mean scores over sessions</title>' in page
    assert re.search(r"Quality of life \(mean of the 8 life domains\) \(baseline 3\.88\): 3\.88 on ", page)
    assert re.search(r"Treatment satisfaction \(mean of the 3 treatment aspects\) \(baseline 5\): 5 on ", page)
    assert re.search(r'<desc id="chart-accommodation-desc">Accommodation \(baseline 2\): 2 on ', page)
    assert page.count('role="img"') == 12, "the two means and one chart per item"
    plan = plan_of(stack, person.episode_id)
    assert plan["status"] == "draft"
    [activity] = plan["activity"]
    assert activity["detail"]["description"] == FIRST_ACTION
    assert activity["detail"]["scheduledPeriod"]["end"] == by_date(14)
    assert plan["author"] == {"reference": f"PractitionerRole/{KEY_WORKER}"}


def test_new_actions_before_the_open_ones_are_reviewed_are_refused_in_plain_words(
    browser: Browser, client_app: Service, stack: Stack, workdir: Path, person: OnCaseload
) -> None:
    before = plan_of(stack, person.episode_id)
    [activity] = before["activity"]
    action_id = activity["id"]
    with signed_in(client_app, KEY_WORKER) as http:
        form_page = http.get(f"/episodes/{person.episode_id}/dialog").text
        assert f'id="review-{action_id}-outcome"' in form_page, "the open action is offered for review"
        assert FIRST_ACTION in form_page
        csrf, version = tokens(form_page)
        assert version == before["meta"]["versionId"]
        answer = http.post(
            f"/episodes/{person.episode_id}/dialog",
            data={
                "csrf": csrf,
                "version": version,
                **ratings(SECOND),
                "domain1-item": "mental-health",
                "domain1-understanding": "The voices are quieter since the medication changed",
                "domain1-lookingForward": "Sleeping through the night",
                "domain1-exploringOptions": "A sleep routine leaflet",
                "domain1-action1-description": SECOND_ACTION,
                "domain1-action1-who": "person",
                "domain1-action1-by": by_date(14),
            },
        )
    assert answer.status_code == 422
    assert "There is a problem" in answer.text
    assert "The care plans service could not record this session." in answer.text
    assert f'<a href="#review-{action_id}-outcome">How did it go?</a>:' in answer.text
    assert f"Review the open action &#x27;{action_id}&#x27;" in answer.text
    assert 'value="The voices are quieter since the medication changed"' not in answer.text
    assert ">The voices are quieter since the medication changed</textarea>" in answer.text, "what was typed is kept"
    browser.screenshot(rendered(workdir, client_app, answer.text, "dialog-refused.html"), "09-dialog-refused.png")
    assert plan_of(stack, person.episode_id)["meta"] == before["meta"], "nothing was changed"


def test_the_next_session_reviews_the_action_and_the_chart_shows_both_sessions(
    browser: Browser, client_app: Service, stack: Stack, workdir: Path, person: OnCaseload
) -> None:
    [activity] = plan_of(stack, person.episode_id)["activity"]
    action_id = activity["id"]
    with signed_in(client_app, KEY_WORKER) as http:
        csrf, version = tokens(http.get(f"/episodes/{person.episode_id}/dialog").text)
        answer = http.post(
            f"/episodes/{person.episode_id}/dialog",
            data={
                "csrf": csrf,
                "version": version,
                **ratings(SECOND),
                f"review-{action_id}-outcome": "done",
                f"review-{action_id}-note": "Letter sent; the council inspected",
                "domain1-item": "mental-health",
                "domain1-understanding": "The voices are quieter since the medication changed",
                "domain1-lookingForward": "Sleeping through the night",
                "domain1-exploringOptions": "A sleep routine leaflet",
                "domain1-action1-description": SECOND_ACTION,
                "domain1-action1-who": "clinician",
                "domain1-action1-by": by_date(21),
            },
        )
    assert answer.status_code == 303, answer.text
    plan = plan_of(stack, person.episode_id)
    statuses = {a["detail"]["description"]: a["detail"]["status"] for a in plan["activity"]}
    assert statuses == {FIRST_ACTION: "completed", SECOND_ACTION: "not-started"}
    url = sign_in_then(workdir, client_app, KEY_WORKER, f"/episodes/{person.episode_id}/plan")
    dom = browser.dom(url)
    assert "<h1>Care plan: Kofi Mensah</h1>" in dom
    assert "Letter sent; the council inspected" in dom
    assert re.search(
        r"Quality of life \(mean of the 8 life domains\) \(baseline 3\.88\): 3\.88 on [^,]+, 4\.5 on ", dom
    )
    assert re.search(r"Accommodation \(baseline 2\): 2 on [^,]+, 4 on ", dom)
    assert dom.count("<polyline") == 13, "a line for each mean and each item, now that there are two sessions"
    assert "Baseline 3.88" in dom, "the baseline is marked on the chart"
    assert "2 DIALOGs recorded." in dom
    assert "Make the plan active" in dom
    browser.screenshot(url, "10-care-plan-chart.png")


def test_making_the_plan_active_without_the_persons_agreement_is_refused_in_plain_words(
    browser: Browser, client_app: Service, stack: Stack, workdir: Path, person: OnCaseload
) -> None:
    before = plan_of(stack, person.episode_id)
    with signed_in(client_app, KEY_WORKER) as http:
        page = http.get(f"/episodes/{person.episode_id}/plan").text
        form = re.search(r'<form method="post" action="/episodes/[^"]+/plan/activate" novalidate>(.*?)</form>', page)
        assert form, "a draft plan offers to be made active"
        csrf, version = tokens(form.group(1))
        plan_id = re.search(r'name="plan" value="([^"]+)"', form.group(1))
        assert plan_id
        assert plan_id.group(1) == before["id"]
        answer = http.post(
            f"/episodes/{person.episode_id}/plan/activate",
            data={"csrf": csrf, "version": version, "plan": plan_id.group(1), "method": ""},
        )
    assert answer.status_code == 422
    assert "The plan cannot be made active yet." in answer.text
    assert "only with the person&#x27;s agreement recorded" in answer.text
    assert '<svg class="app-chart" id="chart-means"' in answer.text, "the page is shown again, with the chart"
    browser.screenshot(
        rendered(workdir, client_app, answer.text, "activate-refused.html"), "10b-activation-refused.png"
    )
    after = plan_of(stack, person.episode_id)
    assert after["status"] == "draft"
    assert after["meta"] == before["meta"]
