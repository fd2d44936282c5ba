"""The clinicians' client in headless Chromium, against the real gateway and referrals processes.

GET pages are loaded by Chromium (`--dump-dom`, `--screenshot`); signing in goes through the
client's own form, submitted by the browser, so the session cookie and the redirect are the
browser's. Form POSTs that decide on a referral are sent with httpx to the client (as the browser
would send them), and the page the client answers is then rendered by Chromium for a screenshot.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.conftest import (
    Browser,
    Referral,
    rendered,
    send_referral,
    sign_in_then,
    signed_in,
)
from tests.e2e.conftest import Service, Stack

PSYCHOSIS_WORKER = "barnet-psychosis-worker"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests keep the pages they hand to Chromium."""
    return Path(tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="module")
def referral_to_accept(stack: Stack) -> Referral:
    """A referral to the psychosis team, waiting for a decision."""
    return send_referral(stack, "Persistent psychotic symptoms despite core team support")


@pytest.fixture(scope="module")
def referral_to_decline(stack: Stack) -> Referral:
    """Another referral to the psychosis team, for the refused decline."""
    return send_referral(stack, "Voices and daily cannabis use")


def form_tokens(html: str) -> tuple[str, str]:
    """The anti-forgery token and Task version a decision page's forms carry."""
    csrf = re.search(r'name="csrf" value="([^"]+)"', html)
    version = re.search(r'name="version" value="([^"]+)"', html)
    assert csrf, html[:500]
    assert version, html[:500]
    return csrf.group(1), version.group(1)


def test_sign_in_page_lists_the_seeded_clinicians(browser: Browser, client_app: Service) -> None:
    dom = browser.dom(f"{client_app.url}/sign-in")
    assert '<label class="app-label" for="role">Sign in as</label>' in dom
    assert f'value="{PSYCHOSIS_WORKER}"' in dom
    assert "Barnet Psychosis and Rehabilitation Team" in dom
    browser.screenshot(f"{client_app.url}/sign-in", "01-sign-in.png")


def test_signed_out_pages_send_you_to_sign_in(browser: Browser, client_app: Service) -> None:
    dom = browser.dom(f"{client_app.url}/inbox")
    assert "<h1>Sign in</h1>" in dom


def test_inbox_shows_the_referral_with_its_clock_and_urgency(
    browser: Browser, client_app: Service, workdir: Path, referral_to_accept: Referral, referral_to_decline: Referral
) -> None:
    url = sign_in_then(workdir, client_app, PSYCHOSIS_WORKER, "/inbox")
    dom = browser.dom(url)
    assert "Team inbox: Barnet Psychosis and Rehabilitation Team" in dom
    assert f'href="/referrals/{referral_to_accept.task_id}"' in dom
    assert "Ada Okafor" in dom, "the person is named (from the gateway's Patient record)"
    assert f"Patient/{referral_to_accept.patient_id}" not in dom
    assert "Ben Patel, Barnet Core Community Mental Health Team North" in dom, "the referrer is named"
    assert "Persistent psychotic symptoms despite core team support" in dom
    assert re.search(r"0 of \d+ days", dom), "the waiting clock ($waiting-time) is shown"
    assert "Urgent" in dom
    assert "Signed in as" in dom
    browser.screenshot(url, "02-inbox.png")


def test_decision_page_offers_no_return_to_the_gp(
    browser: Browser, client_app: Service, workdir: Path, referral_to_decline: Referral
) -> None:
    url = sign_in_then(workdir, client_app, PSYCHOSIS_WORKER, f"/referrals/{referral_to_decline.task_id}")
    dom = browser.dom(url)
    assert "<h1>Decide on a referral</h1>" in dom
    for label in (
        "Who supports the person while they wait",
        "Reason for declining",
        "Next step",
        "Team to redirect to",
    ):
        assert f">{label}</label>" in dom
    assert "gp-referral-requested" not in dom
    assert 'value="barnet-gp"' not in dom
    assert 'value="barnet-eip"' in dom
    browser.screenshot(url, "03-referral.png")


def test_accept_with_a_support_plan(
    browser: Browser, client_app: Service, stack: Stack, workdir: Path, referral_to_accept: Referral
) -> None:
    with signed_in(client_app, PSYCHOSIS_WORKER) as http:
        page = http.get(f"/referrals/{referral_to_accept.task_id}")
        assert page.status_code == 200
        csrf, version = form_tokens(page.text)
        offered = "Weekly check-in calls from the core team's care coordinator until the first appointment"
        answer = http.post(
            f"/referrals/{referral_to_accept.task_id}/accept",
            data={
                "csrf": csrf,
                "version": version,
                "waitingSupport": "barnet-core-north-worker",
                "supportOffered": offered,
            },
        )
        assert answer.status_code == 303, answer.text
        inbox = http.get(answer.headers["location"])
    assert "Referral accepted onto the waiting list with a support plan." in inbox.text
    assert f"/referrals/{referral_to_accept.task_id}" not in inbox.text
    browser.screenshot(rendered(workdir, client_app, inbox.text, "accepted.html"), "04-accepted.png")
    with stack.client(stack.token("epr-beh")) as epr:
        task = epr.get(f"/fhir/Task/{referral_to_accept.task_id}").json()
    assert task["businessStatus"]["coding"][0]["code"] == "accepted-waiting"
    outputs = {o["type"]["coding"][0]["code"]: o for o in task["output"]}
    assert outputs["waiting-support-by"]["valueReference"]["reference"] == "PractitionerRole/barnet-core-north-worker"
    assert outputs["waiting-support-offered"]["valueString"] == offered
    changed_by = [x for x in task["extension"] if x["url"].endswith("/changed-by")]
    assert changed_by[0]["valueReference"]["reference"] == f"PractitionerRole/{PSYCHOSIS_WORKER}"


def test_a_forbidden_decline_is_refused_in_plain_words(
    browser: Browser, client_app: Service, stack: Stack, workdir: Path, referral_to_decline: Referral
) -> None:
    with signed_in(client_app, PSYCHOSIS_WORKER) as http:
        csrf, version = form_tokens(http.get(f"/referrals/{referral_to_decline.task_id}").text)
        answer = http.post(
            f"/referrals/{referral_to_decline.task_id}/decline",
            data={
                "csrf": csrf,
                "version": version,
                "reason": "substance-misuse",  # not offered by the page; sent as a tampered form would be
                "rationale": "Daily cannabis use; the team asks for six months' abstinence first",
                "assessment": "QuestionnaireResponse/psychosis-screen",
                "nextStep": "signpost",
                "destination": "barnet-substance-misuse",
            },
        )
    assert answer.status_code == 422
    assert "There is a problem" in answer.text
    assert "The referral service could not accept this decision." in answer.text
    assert '<a href="#decline-reason">Reason for declining</a>:' in answer.text
    assert "substance misuse is not a reason to exclude anyone" in answer.text
    assert 'id="decline-rationale" name="rationale" rows="3">Daily cannabis use' in answer.text, (
        "what was typed is kept"
    )
    browser.screenshot(rendered(workdir, client_app, answer.text, "refused.html"), "05-decline-refused.png")
    with stack.client(stack.token("epr-beh")) as epr:
        task = epr.get(f"/fhir/Task/{referral_to_decline.task_id}").json()
    assert task["businessStatus"]["coding"][0]["code"] == "received"
    assert task["meta"]["versionId"] == version


def test_a_form_without_the_session_token_is_refused(client_app: Service, referral_to_decline: Referral) -> None:
    with signed_in(client_app, PSYCHOSIS_WORKER) as http:
        answer = http.post(f"/referrals/{referral_to_decline.task_id}/redirect", data={"destination": "barnet-eip"})
    assert answer.status_code == 403


def test_patient_tracking_list(
    browser: Browser, client_app: Service, workdir: Path, referral_to_accept: Referral
) -> None:
    url = sign_in_then(workdir, client_app, PSYCHOSIS_WORKER, "/ptl")
    dom = browser.dom(url)
    assert "Patient tracking list: Barnet Psychosis and Rehabilitation Team" in dom
    assert "Ada Okafor" in dom
    assert f"Patient/{referral_to_accept.patient_id}" not in dom
    browser.screenshot(url, "06-patient-tracking-list.png")
