"""The clinicians' thin client (port 8090): `uvicorn client.main:create_app --factory`.

It holds no data and no rules. Each page is one or more FHIR calls to the gateway made with the
signed-in clinician's token; a refusal is shown as the gateway's OperationOutcome in plain words.
Forms are parsed from `application/x-www-form-urlencoded` bodies directly (python-multipart is
not installed, and nothing here uploads files).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from client import dialog, kpis
from client import transitions as steps
from client import vocabulary as words
from client.gateway import ApiError, Gateway, client_secret, parameter, parts
from client.html import (
    date_input,
    e,
    error_summary,
    field,
    grouped_select,
    notice,
    page,
    select,
    tag,
    text_input,
    textarea,
)
from client.names import display, patient_names
from client.sessions import COOKIE, Session, Sessions
from client.settings import Settings

STATIC = Path(__file__).parent / "static"
KPI_DAYS = 90
"""The dashboard's default period: the last 90 days, today included."""
KPI_EVALUATIONS_AT_ONCE = 6
"""How many `$evaluate-measure` calls the dashboard has in flight at once."""
EPISODE_STATUS = {
    "planned": "Planned",
    "waitlist": "Waiting list",
    "active": "Active",
    "onhold": "On hold",
    "finished": "Finished",
    "cancelled": "Cancelled",
}
EXT = "https://continuum.example.org/fhir/StructureDefinition"

# Form fields of each decision, by the Parameters name the API uses, with the label shown.
FIELDS: dict[str, dict[str, tuple[str, str]]] = {
    "accept": {
        "waitingSupport": ("accept-waitingSupport", "Who supports the person while they wait"),
        "supportOffered": ("accept-supportOffered", "What they offer"),
    },
    "accept-no-support": {
        "noSupportRationale": ("nosupport-noSupportRationale", "Why no support is needed"),
        "noSupportAssessor": ("nosupport-noSupportRationale", "Assessor"),
        "noSupportAssessedAt": ("nosupport-noSupportRationale", "Assessed at"),
        "waitingSupport": ("nosupport-noSupportRationale", "Why no support is needed"),
    },
    "decline": {
        "reason": ("decline-reason", "Reason for declining"),
        "rationale": ("decline-rationale", "Rationale"),
        "assessment": ("decline-assessment", "Needs assessment"),
        "nextStep": ("decline-nextStep", "Next step"),
        "destination": ("decline-destination", "Where the referral goes next"),
        "advice": ("decline-advice", "Advice"),
        "commissioningRule": ("decline-commissioningRule", "Commissioning rule"),
    },
    "redirect": {
        "destination": ("redirect-destination", "Team to redirect to"),
        "note": ("redirect-note", "Note for the receiving team"),
    },
    "escalate": {"note": ("escalate-note", "Why this needs the team lead")},
}


@dataclass(frozen=True)
class DialogEpisode:
    """An episode's open DIALOG+ plan (if any), the DIALOG scale, and its person with their name."""

    plan: dict[str, Any] | None
    scale: dialog.Scale
    patient: str
    people: dict[str, str]


def create_app(settings: Settings | None = None) -> FastAPI:
    """The client app."""
    settings = settings or Settings()
    gateway = Gateway(settings.gateway_url.rstrip("/"), settings.timeout_seconds)
    sessions = Sessions()
    app = FastAPI(title="Continuum clinicians' client", docs_url=None, redoc_url=None, openapi_url=None)

    def current(request: Request) -> Session | None:
        return sessions.get(request.cookies.get(COOKIE))

    def html(content: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(
            content,
            status,
            headers={
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'self'; style-src 'self'; form-action 'self'",
                "Referrer-Policy": "same-origin",
            },
        )

    def to_sign_in(next_path: str = "/inbox") -> RedirectResponse:
        return RedirectResponse(f"/sign-in?next={quote(next_path)}", status_code=303)

    async def form_of(request: Request) -> dict[str, str]:
        body = (await request.body()).decode(errors="replace")
        return {k: v[0].strip() for k, v in parse_qs(body, keep_blank_values=True).items()}

    def titled(session: Session, title: str, body: str, status: int = 200) -> HTMLResponse:
        who = f"{session.name}, {session.team_name}"
        return html(page(title, body, signed_in_as=who, csrf=session.csrf), status)

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/static/style.css", include_in_schema=False)
    async def stylesheet() -> FileResponse:
        return FileResponse(STATIC / "style.css", media_type="text/css")

    @app.get("/", include_in_schema=False)
    async def home(request: Request) -> RedirectResponse:
        return RedirectResponse("/inbox" if current(request) else "/sign-in", status_code=303)

    # ------------------------------------------------------------------ signing in

    def sign_in_page(next_path: str, chosen: str = "", problem: str = "", status: int = 200) -> HTMLResponse:
        error = (
            f'<div class="error-summary" role="alert"><h2>There is a problem</h2><p>{e(problem)}</p></div>'
            if problem
            else ""
        )
        body = (
            f"{error}<p>Development sign-in: choose the PractitionerRole you act as. The gateway issues a "
            "token for it; this client keeps it on the server, never in your browser.</p>"
            '<form method="post" action="/sign-in" novalidate>'
            f'<input type="hidden" name="next" value="{e(next_path)}">'
            + field("Sign in as", "role", grouped_select("role", "role", words.roles_by_team(), chosen))
            + '<button class="app-button" type="submit">Sign in</button></form>'
        )
        return html(page("Sign in", body), status)

    @app.get("/sign-in", include_in_schema=False)
    async def sign_in_form(next: str = "/inbox") -> HTMLResponse:
        return sign_in_page(_local(next))

    @app.post("/sign-in", include_in_schema=False)
    async def sign_in(request: Request) -> Response:
        form = await form_of(request)
        role_id, next_path = form.get("role", ""), _local(form.get("next", "/inbox"))
        role = words.role(role_id)
        if role is None:
            return sign_in_page(next_path, role_id, "Choose who you are signing in as.", 422)
        try:
            secret = client_secret(settings.clients_file, settings.client_id)
            answer = await gateway.token(settings.client_id, secret, role.id)
        except ApiError as error:
            return sign_in_page(next_path, role_id, "; ".join(p.text for p in error.problems), 502)
        except (OSError, KeyError, ValueError):
            return sign_in_page(next_path, role_id, "The clinicians' client credentials are not configured.", 500)
        lifetime = min(int(answer.get("expires_in", 3600)) - 60, settings.session_minutes * 60)
        session = Session(
            role.id, role.practitioner_name, role.team, words.team_name(role.team), answer["access_token"],
            time.time() + lifetime,
        )  # fmt: skip
        response = RedirectResponse(next_path, status_code=303)
        response.set_cookie(
            COOKIE, sessions.open(session), max_age=lifetime, httponly=True, samesite="lax",
            secure=settings.secure_cookies, path="/",
        )  # fmt: skip
        return response

    @app.post("/sign-out", include_in_schema=False)
    async def sign_out(request: Request) -> Response:
        form = await form_of(request)
        session = current(request)
        if session is not None and form.get("csrf") == session.csrf:
            sessions.close(request.cookies.get(COOKIE))
        response = RedirectResponse("/sign-in", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # ------------------------------------------------------------------ the team inbox

    @app.get("/inbox", include_in_schema=False)
    async def inbox(request: Request) -> Response:
        session = current(request)
        if session is None:
            return to_sign_in("/inbox")
        try:
            bundle = await gateway.get(
                session.token,
                "Task",
                {
                    "owner": f"HealthcareService/{session.team}",
                    "status": "requested",
                    "code": "referral",
                    "_sort": "wait",
                    "_include": "Task:focus",
                    "_count": "100",
                },
            )
        except ApiError as error:
            return api_failure(session, "Team inbox", error)
        tasks, referrals = _split(bundle)
        clocks = await asyncio.gather(
            *(_waiting(gateway, session.token, _ref(t.get("focus"))) for t in tasks), return_exceptions=False
        )
        escalated = await _escalated(gateway, session.token)
        people = await patient_names(gateway, session.token, [_ref(t.get("for")) for t in tasks])
        rows = []
        for task, clock in zip(tasks, clocks, strict=True):
            referral = referrals.get(_ref(task.get("focus")), {})
            priority = referral.get("priority", "routine")
            days = f"{clock.get('daysWaiting')} of {clock.get('targetDays')} days" if clock else "not known"
            breach = tag("Over target", "app-tag--red") if clock and clock.get("breach") else ""
            esc = escalated.get(f"Task/{task['id']}")
            esc_html = (
                tag("Escalated", "app-tag--orange") if esc else ("not known" if esc is None and not escalated else "No")
            )
            reason = _reasons(referral)
            rows.append(
                "<tr>"
                f'<td><a href="/referrals/{e(task["id"])}">{e(display(task.get("for"), people))}</a></td>'
                f"<td>{e(reason)}</td>"
                f"<td>{_urgency(priority)}</td>"
                f"<td>{e(days)} {breach}</td>"
                f"<td>{esc_html}</td>"
                f"<td>{e(words.STATES.get(_state(task), _state(task)))}</td>"
                f"<td>{e(display(task.get('requester'), people))}</td>"
                "</tr>"
            )
        table = (
            '<table class="app-table"><caption>Referrals awaiting a decision, longest wait first</caption>'
            '<thead><tr><th scope="col">Person</th><th scope="col">Reason for referral</th>'
            '<th scope="col">Urgency</th><th scope="col">Waiting (target)</th><th scope="col">Escalated</th>'
            '<th scope="col">State</th><th scope="col">Referred by</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
            if rows
            else "<p>No referrals are waiting for a decision.</p>"
        )
        flash = notice(request.query_params["done"]) if request.query_params.get("done") else ""
        return titled(session, f"Team inbox: {session.team_name}", flash + table)

    # ------------------------------------------------------------------ one referral: decide

    async def decision_page(
        session: Session,
        task_id: str,
        error: ApiError | None = None,
        which: str = "",
        form: dict[str, str] | None = None,
    ) -> HTMLResponse:
        try:
            task = await gateway.get(session.token, f"Task/{task_id}")
            focus = _ref(task.get("focus"))
            referral, clock = await asyncio.gather(
                gateway.get(session.token, focus), _waiting(gateway, session.token, focus)
            )
        except ApiError as failure:
            return api_failure(session, "Referral", failure)
        form = form or {}
        people = await patient_names(gateway, session.token, [_ref(task.get("for"))])
        version = task.get("meta", {}).get("versionId", "")
        hidden = (
            f'<input type="hidden" name="csrf" value="{e(session.csrf)}">'
            f'<input type="hidden" name="version" value="{e(version)}">'
        )
        summary = ""
        if error is not None:
            ids = {name: fid for name, (fid, _) in FIELDS.get(which, {}).items()}
            labels = {name: label for name, (_, label) in FIELDS.get(which, {}).items()}
            summary = error_summary(error, ids, labels)
        priority = referral.get("priority", "routine")
        details = (
            '<dl class="app-summary">'
            f"<dt>Person</dt><dd>{e(display(task.get('for'), people))}</dd>"
            f"<dt>Reason for referral</dt><dd>{e(_reasons(referral))}</dd>"
            f"<dt>Referred by</dt><dd>{e(display(task.get('requester'), people))}</dd>"
            f"<dt>Urgency</dt><dd>{e(words.PRIORITIES.get(priority, priority))}</dd>"
            f"<dt>State</dt><dd>{e(words.STATES.get(_state(task), _state(task)))} (version {e(version)})</dd>"
            f"<dt>Waiting</dt><dd>{e(_clock_text(clock))}</dd></dl>"
        )
        if task.get("status") != "requested" and _state(task) not in ("received", "triage"):
            return titled(session, "Referral", summary + details + "<p>This referral has been decided.</p>")
        requester = _ref(task.get("requester")).removeprefix("PractitionerRole/")
        accept = (
            '<section aria-labelledby="accept-h"><h2 id="accept-h">Accept onto the waiting list</h2>'
            f'<form method="post" action="/referrals/{e(task_id)}/accept">{hidden}'
            + field(
                "Who supports the person while they wait",
                "accept-waitingSupport",
                grouped_select(
                    "waitingSupport",
                    "accept-waitingSupport",
                    words.roles_by_team(),
                    form.get("waitingSupport", requester),
                ),
                "Usually the referring worker's team keeps supporting until the first appointment.",
            )
            + field(
                "What they offer",
                "accept-supportOffered",
                textarea("supportOffered", "accept-supportOffered", form.get("supportOffered", "")),
            )
            + '<button class="app-button" type="submit">Accept with this support plan</button></form>'
            f'<form method="post" action="/referrals/{e(task_id)}/accept-no-support">{hidden}'
            + field(
                "Or: why no support is needed while waiting (your clinical assessment)",
                "nosupport-noSupportRationale",
                textarea("noSupportRationale", "nosupport-noSupportRationale", form.get("noSupportRationale", "")),
            )
            + '<button class="app-button app-button--secondary" type="submit">Accept: no support needed</button>'
            "</form></section>"
        )
        decline = (
            '<section aria-labelledby="decline-h"><h2 id="decline-h">Decline</h2>'
            "<p>A decline always says where the referral goes next. The person is never sent back to their GP.</p>"
            f'<form method="post" action="/referrals/{e(task_id)}/decline">{hidden}'
            + field(
                "Reason for declining",
                "decline-reason",
                select("reason", "decline-reason", words.DECLINE_REASONS, form.get("reason", ""), "Choose a reason"),
            )
            + field(
                "Rationale", "decline-rationale", textarea("rationale", "decline-rationale", form.get("rationale", ""))
            )
            + field(
                "Needs assessment",
                "decline-assessment",
                text_input("assessment", "decline-assessment", form.get("assessment", "")),
                "The assessment the decision rests on, for example QuestionnaireResponse/123.",
            )
            + field(
                "Next step",
                "decline-nextStep",
                select(
                    "nextStep", "decline-nextStep", words.NEXT_STEPS, form.get("nextStep", ""), "Choose the next step"
                ),
            )
            + field(
                "Where the referral goes next",
                "decline-destination",
                select("destination", "decline-destination", words.destinations(), form.get("destination", ""), "None"),
                "For a redirect or signpost.",
            )
            + field(
                "Advice", "decline-advice", textarea("advice", "decline-advice", form.get("advice", "")), "For advice."
            )
            + field(
                "Commissioning rule",
                "decline-commissioningRule",
                text_input("commissioningRule", "decline-commissioningRule", form.get("commissioningRule", "")),
                "Only when the reason is 'not commissioned'.",
            )
            + '<button class="app-button app-button--warning" type="submit">Decline</button></form></section>'
        )
        redirect = (
            '<section aria-labelledby="redirect-h"><h2 id="redirect-h">Redirect to another team</h2>'
            f'<form method="post" action="/referrals/{e(task_id)}/redirect">{hidden}'
            + field(
                "Team to redirect to",
                "redirect-destination",
                select(
                    "destination",
                    "redirect-destination",
                    words.destinations(),
                    form.get("destination", ""),
                    "Choose a team",
                ),
            )
            + field(
                "Note for the receiving team", "redirect-note", textarea("note", "redirect-note", form.get("note", ""))
            )
            + '<button class="app-button app-button--secondary" type="submit">Redirect</button></form></section>'
        )
        escalate = (
            '<section aria-labelledby="escalate-h"><h2 id="escalate-h">Escalate to the team lead</h2>'
            f'<form method="post" action="/referrals/{e(task_id)}/escalate">{hidden}'
            + field(
                "Why this needs the team lead", "escalate-note", textarea("note", "escalate-note", form.get("note", ""))
            )
            + '<button class="app-button app-button--secondary" type="submit">Escalate</button></form></section>'
        )
        status = error.status if error is not None and error.status in (403, 409, 412, 422) else 200
        return titled(
            session, "Decide on a referral", summary + details + accept + decline + redirect + escalate, status
        )

    @app.get("/referrals/{task_id}", include_in_schema=False)
    async def referral(request: Request, task_id: str) -> Response:
        session = current(request)
        if session is None:
            return to_sign_in(f"/referrals/{task_id}")
        return await decision_page(session, task_id)

    @app.post("/referrals/{task_id}/{action}", include_in_schema=False)
    async def decide(request: Request, task_id: str, action: str) -> Response:
        session = current(request)
        if session is None:
            return to_sign_in(f"/referrals/{task_id}")
        form = await form_of(request)
        if form.get("csrf") != session.csrf:
            return html(page("Sign in again", "<p>This form has expired. Please go back and try again.</p>"), 403)
        actor = {"name": "actor", "valueReference": {"reference": f"PractitionerRole/{session.role}"}}
        built = _parameters(action, form, session)
        if built is None:
            return html(page("Not found", "<p>There is no such action.</p>"), 404)
        operation, parameters, done = built
        try:
            await gateway.operation(
                session.token, f"Task/{task_id}/${operation}", [*parameters, actor], form.get("version", "")
            )
        except ApiError as error:
            if error.status == 401:
                return to_sign_in(f"/referrals/{task_id}")
            return await decision_page(session, task_id, error, action, form)
        return RedirectResponse(f"/inbox?done={quote(done)}", status_code=303)

    # ------------------------------------------------------------------ patient tracking list

    @app.get("/ptl", include_in_schema=False)
    async def ptl(request: Request) -> Response:
        session = current(request)
        if session is None:
            return to_sign_in("/ptl")
        query = {"service": request.query_params.get("service") or session.team}
        for name in ("borough", "age-band"):
            if request.query_params.get(name):
                query[name] = request.query_params[name]
        try:
            answer = await gateway.get(session.token, "ServiceRequest/$ptl", query)
        except ApiError as error:
            return api_failure(session, "Patient tracking list", error)
        found = [parts(p) for p in answer.get("parameter", []) if p.get("name") == "row"]
        people = await patient_names(gateway, session.token, [_ref(r.get("patient")) for r in found])
        rows = []
        for r in found:
            breach = bool(r.get("breach"))
            rows.append(
                f'<tr class="{"app-row--breach" if breach else ""}">'
                f"<td>{e(display(r.get('patient'), people))}</td><td>{e(r.get('daysWaiting'))}</td>"
                f"<td>{tag('Breach', 'app-tag--red') if breach else 'No'}</td>"
                f"<td>{e(words.SUPPORT.get(r.get('interimSupport', ''), r.get('interimSupport')))}</td>"
                f"<td>{'Yes' if r.get('escalated') else 'No'}</td><td>{e(r.get('ageBand', ''))}</td>"
                f"<td>{'Yes' if r.get('highRisk') else 'No'}</td></tr>"
            )
        filters = (
            '<form method="get" action="/ptl" class="app-filters">'
            + field(
                "Service",
                "ptl-service",
                select("service", "ptl-service", words.destinations(), query["service"]),
            )
            + field(
                "Borough",
                "ptl-borough",
                select(
                    "borough",
                    "ptl-borough",
                    words.BOROUGHS,
                    query.get("borough", ""),
                    "Any",
                ),
            )
            + field(
                "Age band",
                "ptl-age",
                select(
                    "age-band",
                    "ptl-age",
                    [(a, a) for a in ("0-17", "18-25", "26-64", "65+")],
                    query.get("age-band", ""),
                    "Any",
                ),
            )
            + '<button class="app-button app-button--secondary" type="submit">Filter</button></form>'
        )
        total = parameter(answer, "total")
        table = (
            f'<table class="app-table"><caption>{e(total)} people waiting, longest wait first</caption>'
            '<thead><tr><th scope="col">Person</th><th scope="col">Days waiting</th><th scope="col">Breach</th>'
            '<th scope="col">Support while waiting</th><th scope="col">Escalated</th><th scope="col">Age band</th>'
            f'<th scope="col">High risk</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
        )
        return titled(session, f"Patient tracking list: {words.team_name(query['service'])}", filters + table)

    # ------------------------------------------------------------------ caseload and DIALOG+ sessions

    def expired() -> HTMLResponse:
        return html(page("Sign in again", "<p>This form has expired. Please go back and try again.</p>"), 403)

    def hidden_fields(session: Session, version: str, **extra: str) -> str:
        more = "".join(f'<input type="hidden" name="{e(k)}" value="{e(v)}">' for k, v in extra.items())
        return (
            f'<input type="hidden" name="csrf" value="{e(session.csrf)}">'
            f'<input type="hidden" name="version" value="{e(version)}">{more}'
        )

    @app.get("/caseload", include_in_schema=False)
    async def caseload(request: Request) -> Response:
        session = current(request)
        if session is None:
            return to_sign_in("/caseload")
        try:
            bundle = await gateway.get(
                session.token, "EpisodeOfCare", {"team": f"HealthcareService/{session.team}", "_count": "100"}
            )
        except ApiError as error:
            return api_failure(session, "Caseload", error)
        episodes = [
            x["resource"]
            for x in bundle.get("entry", [])
            if x.get("resource", {}).get("resourceType") == "EpisodeOfCare"
        ]
        people = await patient_names(gateway, session.token, [_ref(x.get("patient")) for x in episodes])
        rows = "".join(
            f"<tr><td>{e(display(x.get('patient'), people))}</td>"
            f"<td>{e(EPISODE_STATUS.get(x.get('status', ''), x.get('status', '')))}</td>"
            f"<td>{e(dialog.short_date(x.get('period', {}).get('start')))}</td>"
            f'<td><a href="/episodes/{e(x["id"])}/dialog">DIALOG+ session</a> · '
            f'<a href="/episodes/{e(x["id"])}/plan">Care plan and scores</a></td></tr>'
            for x in episodes
        )
        table = (
            f'<table class="app-table"><caption>People on the caseload of {e(session.team_name)}</caption>'
            '<thead><tr><th scope="col">Person</th><th scope="col">Episode</th><th scope="col">Since</th>'
            f'<th scope="col">DIALOG+</th></tr></thead><tbody>{rows}</tbody></table>'
            if rows
            else "<p>Nobody is on this team's caseload.</p>"
        )
        return titled(session, f"Caseload: {session.team_name}", table)

    async def episode_and_plan(session: Session, episode_id: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The episode, and its open DIALOG+ plan (draft or active) if it has one."""
        episode, bundle = await asyncio.gather(
            gateway.get(session.token, f"EpisodeOfCare/{episode_id}"),
            gateway.get(
                session.token,
                "CarePlan",
                {"category": dialog.DIALOG_PLUS, "episode": f"EpisodeOfCare/{episode_id}", "_count": "50"},
            ),
        )
        plans = [
            x["resource"]
            for x in bundle.get("entry", [])
            if x.get("resource", {}).get("resourceType") == "CarePlan"
            and x["resource"].get("status") in ("draft", "active")
        ]
        return episode, (plans[0] if plans else None)

    async def episode_for_dialog(session: Session, episode_id: str) -> DialogEpisode:
        """What the DIALOG+ session and care-plan pages of an episode both show."""
        (episode, plan), questionnaire = await asyncio.gather(
            episode_and_plan(session, episode_id), gateway.get(session.token, "Questionnaire/dialog")
        )
        patient = _ref(episode.get("patient"))
        people = await patient_names(gateway, session.token, [patient])
        return DialogEpisode(plan, dialog.scale_of(questionnaire), patient, people)

    async def session_page(
        session: Session,
        episode_id: str,
        error: ApiError | None = None,
        form: dict[str, str] | None = None,
        fields: dict[str, tuple[str, str]] | None = None,
    ) -> HTMLResponse:
        try:
            shown = await episode_for_dialog(session, episode_id)
        except ApiError as failure:
            return api_failure(session, "DIALOG+ session", failure)
        plan, scale, patient, people = shown.plan, shown.scale, shown.patient, shown.people
        name = display(patient, people)
        version = str(plan.get("meta", {}).get("versionId", "")) if plan else ""
        summary = (
            dialog.refusal(
                error,
                error.summary_about("care plan", "The care plans service could not record this session."),
                fields or {},
            )
            if error is not None
            else ""
        )
        intro = (
            f'<p>DIALOG+ with {e(name)}. The session revises their care plan (<a href="/episodes/{e(episode_id)}/plan">'
            "see the plan and their scores</a>).</p>"
            if plan
            else f"<p>DIALOG+ with {e(name)}. This first session starts their care plan.</p>"
        )
        body = (
            summary
            + intro
            + dialog.session_form(
                scale, f"/episodes/{episode_id}/dialog", hidden_fields(session, version), plan, form or {}, people
            )
        )
        status = _shown_status(error)
        return titled(session, f"DIALOG+ session: {name}", body, status)

    @app.get("/episodes/{episode_id}/dialog", include_in_schema=False)
    async def dialog_form(request: Request, episode_id: str) -> Response:
        session = current(request)
        if session is None:
            return to_sign_in(f"/episodes/{episode_id}/dialog")
        return await session_page(session, episode_id)

    @app.post("/episodes/{episode_id}/dialog", include_in_schema=False)
    async def dialog_session(request: Request, episode_id: str) -> Response:
        session = current(request)
        if session is None:
            return to_sign_in(f"/episodes/{episode_id}/dialog")
        form = await form_of(request)
        if form.get("csrf") != session.csrf:
            return expired()
        try:
            (episode, plan), questionnaire = await asyncio.gather(
                episode_and_plan(session, episode_id), gateway.get(session.token, "Questionnaire/dialog")
            )
        except ApiError as failure:
            return api_failure(session, "DIALOG+ session", failure)
        built = dialog.session_parameters(
            dialog.scale_of(questionnaire),
            form,
            episode=f"EpisodeOfCare/{episode_id}",
            patient=_ref(episode.get("patient")),
            referral=_ref((episode.get("referralRequest") or [None])[0]),
            clinician=f"PractitionerRole/{session.role}",
            open_ids=[str(a["id"]) for a in dialog.open_actions(plan)],
            now=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        try:
            await gateway.operation(
                session.token, "CarePlan/$dialog-plus-session", built.parameters, form.get("version") or None
            )
        except ApiError as error:
            if error.status == 401:
                return to_sign_in(f"/episodes/{episode_id}/dialog")
            return await session_page(session, episode_id, error, form, built.fields)
        done = "DIALOG+ session recorded; the care plan is up to date."
        return RedirectResponse(f"/episodes/{episode_id}/plan?done={quote(done)}", status_code=303)

    async def plan_page(
        session: Session,
        episode_id: str,
        error: ApiError | None = None,
        form: dict[str, str] | None = None,
        done: str = "",
    ) -> HTMLResponse:
        try:
            shown = await episode_for_dialog(session, episode_id)
        except ApiError as failure:
            return api_failure(session, "Care plan", failure)
        plan, scale, patient, people = shown.plan, shown.scale, shown.patient, shown.people
        name = display(patient, people)
        try:
            trend = await gateway.get(session.token, "Observation/$dialog-trend", {"subject": patient})
            scores = f"<p>{e(dialog.score_words(trend))}</p>" + dialog.charts(dialog.trend_of(trend), scale)
        except ApiError as failure:
            scores = f'<p class="app-hint">The scores could not be read: {e(failure.summary_about("score", ""))}</p>'
        summary = ""
        if error is not None:
            summary = error_summary(
                error,
                {"agreement": "activate-method", "capacityAssessment": "activate-method"},
                {"agreement": "How the person agreed with the plan", "capacityAssessment": "Capacity assessment"},
                error.summary_about("care plan", "The plan cannot be made active yet."),
            )
        start = (
            f'<p><a class="app-button app-button--link" href="/episodes/{e(episode_id)}/dialog">'
            "Start a DIALOG+ session</a></p>"
        )
        head, content = "", "<p>There is no DIALOG+ care plan for this episode yet.</p>"
        if plan is not None:
            head, content = dialog.plan_summary(plan, people, {i.link_id: i.text for i in scale.items()})
            if plan.get("status") == "draft":
                version = str(plan.get("meta", {}).get("versionId", ""))
                content += dialog.activation_form(
                    f"/episodes/{episode_id}/plan/activate",
                    hidden_fields(session, version, plan=str(plan.get("id", ""))),
                    form or {},
                )
        body = (
            (notice(done) if done else "")
            + summary
            + start
            + head
            + '<section aria-labelledby="scores-h"><h2 id="scores-h">Scores over time</h2>'
            + scores
            + "</section>"
            + content
        )
        status = _shown_status(error)
        return titled(session, f"Care plan: {name}", body, status)

    @app.get("/episodes/{episode_id}/plan", include_in_schema=False)
    async def care_plan(request: Request, episode_id: str) -> Response:
        session = current(request)
        if session is None:
            return to_sign_in(f"/episodes/{episode_id}/plan")
        return await plan_page(session, episode_id, done=request.query_params.get("done", ""))

    @app.post("/episodes/{episode_id}/plan/activate", include_in_schema=False)
    async def activate_plan(request: Request, episode_id: str) -> Response:
        session = current(request)
        if session is None:
            return to_sign_in(f"/episodes/{episode_id}/plan")
        form = await form_of(request)
        if form.get("csrf") != session.csrf:
            return expired()
        parameters: list[dict[str, Any]] = []
        if form.get("method"):
            when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            agreement = [{"name": "when", "valueDateTime": when}, {"name": "method", "valueCode": form["method"]}]
            parameters.append({"name": "agreement", "part": agreement})
        try:
            await gateway.operation(
                session.token, f"CarePlan/{form.get('plan', '')}/$activate", parameters, form.get("version", "")
            )
        except ApiError as error:
            if error.status == 401:
                return to_sign_in(f"/episodes/{episode_id}/plan")
            return await plan_page(session, episode_id, error, form)
        done = "The care plan is active."
        return RedirectResponse(f"/episodes/{episode_id}/plan?done={quote(done)}", status_code=303)

    # ------------------------------------------------------------------ transitions

    async def transitions_page(session: Session, error: ApiError | None = None, done: str = "") -> HTMLResponse:
        scope = words.worklist_scope(session.team)
        try:
            worklist = await gateway.get(session.token, "Task/$transition-worklist", {**scope, "_count": "100"})
        except ApiError as failure:
            return api_failure(session, "Transitions", failure)
        rows = [parts(p) for p in worklist.get("parameter", []) if p.get("name") == "row"]
        # A clinician searches cases by their own team (owner): the sending CYPMHS team until support
        # is agreed, the borough's Transitions team after it.
        owner = f"HealthcareService/{session.team}"
        cases_problem = ""
        try:
            owned = await gateway.get(
                session.token, "Task", {"code": "transition-case", "owner": owner, "_count": "100"}
            )
        except ApiError as failure:
            owned, cases_problem = {}, failure.summary_about("transition case", "")
        cases = {
            str(x["resource"]["id"]): x["resource"]
            for x in owned.get("entry", [])
            if x.get("resource", {}).get("resourceType") == "Task"
        }
        people = await patient_names(
            gateway,
            session.token,
            [_ref(r.get("patient")) for r in rows] + [_ref(c.get("for")) for c in cases.values()],
        )
        summary = (
            error_summary(
                error,
                {},
                {},
                error.summary_about("transition case", "The transitions service could not open this case."),
            )
            if error is not None
            else ""
        )
        lines = []
        for r in rows:
            case = _ref(r.get("case"))
            if case:
                act = f'<a href="/transitions/cases/{e(case.removeprefix("Task/"))}">Go to the case</a>'
            else:
                act = (
                    '<form method="post" action="/transitions/open" class="app-inline-form">'
                    + hidden_fields(session, "", patient=_ref(r.get("patient")), episode=_ref(r.get("episode")))
                    + '<button class="app-button app-button--secondary" type="submit">Open a transition case'
                    f'<span class="app-visually-hidden"> for {e(display(r.get("patient"), people))}</span>'
                    "</button></form>"
                )
            late = tag("Past the 17½ deadline", "app-tag--red") if r.get("pastDeadline") else ""
            lines.append(
                f'<tr class="{"app-row--breach" if r.get("pastDeadline") else ""}">'
                f"<td>{e(display(r.get('patient'), people))}</td><td>{e(r.get('age', ''))}</td>"
                f"<td>{e(dialog.short_date(r.get('phase1Deadline')))} {late}</td>"
                f"<td>{e(r.get('daysToDeadline', ''))}</td>"
                f"<td>{tag('High risk', 'app-tag--red') if r.get('highRisk') else 'No'}</td>"
                f"<td>{e(display(r.get('service'), people))}</td><td>{act}</td></tr>"
            )
        table = (
            '<table class="app-table"><caption>Young people due a pre-transition discussion, high risk first, '
            "then the nearest 17½ deadline</caption><thead><tr>"
            '<th scope="col">Young person</th><th scope="col">Age</th><th scope="col">17½ deadline</th>'
            '<th scope="col">Days left</th><th scope="col">High risk</th><th scope="col">CYPMHS team</th>'
            f'<th scope="col">Case</th></tr></thead><tbody>{"".join(lines)}</tbody></table>'
            if lines
            else "<p>Nobody is due a pre-transition discussion.</p>"
        )
        case_lines = "".join(
            f'<tr><td><a href="/transitions/cases/{e(c["id"])}">{e(display(c.get("for"), people))}</a></td>'
            f"<td>{e(steps.phase_text(steps.phase_of(c)))}</td><td>{e(display(c.get('owner'), people))}</td>"
            f"<td>{e(dialog.short_date(c.get('lastModified')))}</td></tr>"
            for c in sorted(cases.values(), key=lambda c: str(c.get("lastModified", "")), reverse=True)
        )
        case_table = (
            '<table class="app-table"><caption>Transition cases your team holds</caption>'
            '<thead><tr><th scope="col">Young person</th><th scope="col">Phase</th><th scope="col">Team now</th>'
            f'<th scope="col">Last change</th></tr></thead><tbody>{case_lines}</tbody></table>'
            if case_lines
            else f"<p>{e(cases_problem or 'Your team holds no transition cases.')}</p>"
        )
        body = (
            (notice(done) if done else "")
            + summary
            + '<section aria-labelledby="worklist-h"><h2 id="worklist-h">Worklist</h2>'
            + table
            + '</section><section aria-labelledby="cases-h"><h2 id="cases-h">Cases</h2>'
            + case_table
            + "</section>"
        )
        status = _shown_status(error)
        return titled(session, "Transitions to adult services", body, status)

    @app.get("/transitions", include_in_schema=False)
    async def transitions(request: Request) -> Response:
        session = current(request)
        if session is None:
            return to_sign_in("/transitions")
        return await transitions_page(session, done=request.query_params.get("done", ""))

    @app.post("/transitions/open", include_in_schema=False)
    async def open_case(request: Request) -> Response:
        session = current(request)
        if session is None:
            return to_sign_in("/transitions")
        form = await form_of(request)
        if form.get("csrf") != session.csrf:
            return expired()
        parameters: list[dict[str, Any]] = [
            {"name": "patient", "valueReference": {"reference": form.get("patient", "")}},
            {"name": "referringWorker", "valueReference": {"reference": f"PractitionerRole/{session.role}"}},
        ]
        if form.get("episode"):
            parameters.append({"name": "episode", "valueReference": {"reference": form["episode"]}})
        try:
            case = await gateway.operation(session.token, "Task/$open-transition", parameters, None)
        except ApiError as error:
            if error.status == 401:
                return to_sign_in("/transitions")
            return await transitions_page(session, error)
        done = "Transition case opened at phase 1."
        return RedirectResponse(f"/transitions/cases/{quote(str(case['id']))}?done={quote(done)}", status_code=303)

    async def case_page(
        session: Session,
        case_id: str,
        error: ApiError | None = None,
        failed: str = "",
        form: dict[str, str] | None = None,
        done: str = "",
    ) -> HTMLResponse:
        try:
            task = await gateway.get(session.token, f"Task/{case_id}")
        except ApiError as failure:
            return api_failure(session, "Transition case", failure)
        try:
            status = await gateway.get(session.token, f"Task/{case_id}/$transition-status")
        except ApiError:
            status = {}
        patient = _ref(task.get("for"))
        people = await patient_names(gateway, session.token, [patient])
        who = steps.Who(
            patient, display(patient, people), _ref(task.get("requester")), f"PractitionerRole/{session.role}"
        )
        phase = steps.phase_of(task)
        version = str(task.get("meta", {}).get("versionId", ""))

        def said(name: str) -> str:
            value = parameter(status, name)
            if value is None:
                return "Not yet"
            if isinstance(value, bool):
                return "Yes" if value else "No"
            if isinstance(value, dict):
                return str(value.get("display") or value.get("code") or display(value, people))
            return dialog.short_date(value) if len(str(value)) >= 10 and str(value)[4] == "-" else str(value)

        details = (
            '<dl class="app-summary">'
            f"<dt>Young person</dt><dd>{e(display(patient, people))} (age {e(said('ageToday'))})</dd>"
            f"<dt>Phase</dt><dd>{e(steps.phase_text(phase))}</dd>"
            f"<dt>Referring worker</dt><dd>{e(display(task.get('requester'), people))}</dd>"
            f"<dt>Team now</dt><dd>{e(display(task.get('owner'), people))}</dd>"
            f"<dt>17½ deadline</dt><dd>{e(said('phase1Deadline'))}</dd>"
            f"<dt>Discussion</dt><dd>{e(said('discussionDate'))}"
            f"{' ' + tag('Late', 'app-tag--red') if parameter(status, 'lateInitiation') else ''}</dd>"
            f"<dt>18th birthday</dt><dd>{e(said('eighteenthBirthday'))}</dd>"
            f"<dt>Planned action date</dt><dd>{e(said('plannedActionDate'))}"
            f"{' ' + tag('Overdue', 'app-tag--red') if parameter(status, 'overdue') else ''}</dd>"
            f"<dt>High risk</dt><dd>{e(said('highRisk'))}</dd>"
            f"<dt>Transition plan</dt><dd>{e(said('planStatus'))}</dd>"
            f"<dt>Open escalations</dt><dd>{e(said('openEscalations'))}</dd>"
            f"<dt>Version</dt><dd>{e(version)}</dd></dl>"
        )
        summary = ""
        if error is not None:
            step = steps.STEP_BY_OP.get(failed)
            ids, labels = steps.field_ids(step) if step else ({}, {})
            summary = error_summary(
                error,
                ids,
                labels,
                error.summary_about("transition case", "The transitions service could not record this step."),
            )
        forms = "".join(
            steps.step_form(
                case_id, step, hidden_fields(session, version), who, form or {} if step.op == failed else {}
            )
            for step in steps.STEPS.get(phase, ())
        )
        body = (
            (notice(done) if done else "")
            + summary
            + details
            + steps.progress(phase)
            + forms
            + '<section aria-labelledby="recorded-h"><h2 id="recorded-h">What the steps recorded</h2>'
            + steps.output_rows(task, people)
            + "</section>"
        )
        answer = _shown_status(error)
        return titled(session, f"Transition case: {display(patient, people)}", body, answer)

    @app.get("/transitions/cases/{case_id}", include_in_schema=False)
    async def transition_case(request: Request, case_id: str) -> Response:
        session = current(request)
        if session is None:
            return to_sign_in(f"/transitions/cases/{case_id}")
        return await case_page(session, case_id, done=request.query_params.get("done", ""))

    @app.post("/transitions/cases/{case_id}/{op}", include_in_schema=False)
    async def transition_step(request: Request, case_id: str, op: str) -> Response:
        session = current(request)
        if session is None:
            return to_sign_in(f"/transitions/cases/{case_id}")
        form = await form_of(request)
        if form.get("csrf") != session.csrf:
            return expired()
        step = steps.STEP_BY_OP.get(op)
        if step is None:
            return html(page("Not found", "<p>There is no such step.</p>"), 404)
        try:
            task = await gateway.get(session.token, f"Task/{case_id}")
        except ApiError as failure:
            return api_failure(session, "Transition case", failure)
        patient = _ref(task.get("for"))
        who = steps.Who(patient, patient, _ref(task.get("requester")), f"PractitionerRole/{session.role}")
        try:
            await gateway.operation(
                session.token, f"Task/{case_id}/${op}", steps.step_parameters(step, form, who), form.get("version", "")
            )
        except ApiError as error:
            if error.status == 401:
                return to_sign_in(f"/transitions/cases/{case_id}")
            return await case_page(session, case_id, error, op, form)
        done = f"Recorded: {step.title.lower()}."
        return RedirectResponse(f"/transitions/cases/{quote(case_id)}?done={quote(done)}", status_code=303)

    # ------------------------------------------------------------------ KPI dashboard

    def kpi_period(request: Request) -> dict[str, str]:
        today = datetime.now(UTC).date()
        return {
            "periodStart": request.query_params.get("periodStart") or str(today - timedelta(days=KPI_DAYS - 1)),
            "periodEnd": request.query_params.get("periodEnd") or str(today),
        }

    def period_form(action: str, period: dict[str, str]) -> str:
        return (
            f'<form method="get" action="{e(action)}" class="app-filters">'
            + field("From", "kpi-periodStart", date_input("periodStart", "kpi-periodStart", period["periodStart"]))
            + field("To (inclusive)", "kpi-periodEnd", date_input("periodEnd", "kpi-periodEnd", period["periodEnd"]))
            + '<button class="app-button app-button--secondary" type="submit">Show this period</button></form>'
        )

    def period_refusal(error: ApiError) -> str:
        """The gateway's refusal of the period, each problem linked to the date it names."""
        named = ApiError(
            error.status,
            [replace(p, parameter=p.parameter or p.element) for p in error.problems],
        )
        return error_summary(
            named,
            {"periodStart": "kpi-periodStart", "periodEnd": "kpi-periodEnd"},
            {"periodStart": "From", "periodEnd": "To"},
            error.summary_about("report", "The reports could not be made for this period."),
        )

    @app.get("/kpis", include_in_schema=False)
    async def kpi_dashboard(request: Request) -> Response:
        session = current(request)
        if session is None:
            return to_sign_in("/kpis")
        period = kpi_period(request)
        try:
            bundle = await gateway.get(session.token, "Measure", {"_count": "100"})
        except ApiError as error:
            return kpi_failure(session, "KPI dashboard", error)
        measures = [
            kpis.measure_of(x["resource"])
            for x in bundle.get("entry", [])
            if x.get("resource", {}).get("resourceType") == "Measure"
        ]
        at_once = asyncio.Semaphore(KPI_EVALUATIONS_AT_ONCE)

        async def evaluated(measure: kpis.Measure) -> dict[str, Any] | ApiError:
            async with at_once:
                try:
                    return await gateway.get(
                        session.token, f"Measure/{quote(measure.id, safe='')}/$evaluate-measure", period
                    )
                except ApiError as error:
                    return error

        answers = await asyncio.gather(*(evaluated(m) for m in measures))
        failures = [a for a in answers if isinstance(a, ApiError)]
        if failures and len(failures) == len(answers) and failures[0].status in (400, 401, 403):
            if failures[0].status == 401:
                return to_sign_in("/kpis")
            body = period_refusal(failures[0]) + period_form("/kpis", period)
            return titled(session, "KPI dashboard", body, failures[0].status)
        reports: dict[str, dict[str, Any] | str] = {
            m.id: a.summary_about("report", "It could not be evaluated.") if isinstance(a, ApiError) else a
            for m, a in zip(measures, answers, strict=True)
        }
        intro = (
            f"<p>{len(measures)} measures from {e(period['periodStart'])} to {e(period['periodEnd'])} "
            "(both days included). Choose a measure for its breakdown by borough and by ethnic group.</p>"
        )
        shown = kpis.dashboard(measures, reports, "?" + urlencode(period))
        return titled(session, "KPI dashboard", period_form("/kpis", period) + intro + shown)

    @app.get("/kpis/{measure_id}", include_in_schema=False)
    async def kpi_breakdown(request: Request, measure_id: str) -> Response:
        session = current(request)
        if session is None:
            return to_sign_in(f"/kpis/{quote(measure_id, safe='')}")
        period = kpi_period(request)
        path = f"Measure/{quote(measure_id, safe='')}"
        try:
            resource = await gateway.get(session.token, path)
        except ApiError as error:
            return kpi_failure(session, "KPI breakdown", error)
        measure = kpis.measure_of(resource)
        action = f"/kpis/{quote(measure.id, safe='')}"
        back = f'<p><a href="/kpis?{e(urlencode(period))}">Back to every measure</a></p>'
        try:
            report = await gateway.get(session.token, f"{path}/$evaluate-measure", period)
        except ApiError as error:
            if error.status == 401:
                return to_sign_in(action)
            body = back + period_refusal(error) + period_form(action, period)
            return titled(session, measure.title, body, _shown_status(error))
        body = (
            back
            + period_form(action, period)
            + f"<p>From {e(period['periodStart'])} to {e(period['periodEnd'])} (both days included).</p>"
            + kpis.summary(measure, report)
            + kpis.breakdown(measure, report)
        )
        return titled(session, measure.title, body)

    def kpi_failure(session: Session, title: str, error: ApiError) -> HTMLResponse:
        items = "".join(f"<li>{e(p.text)}{' (' + e(p.element) + ')' if p.element else ''}</li>" for p in error.problems)
        body = (
            '<div class="error-summary" role="alert"><h2>There is a problem</h2>'
            f"<p>{e(error.summary_about('report', 'The reports could not be made.'))}</p>"
            f'<ul class="error-list">{items}</ul></div>'
        )
        return titled(session, title, body, _shown_status(error))

    def api_failure(session: Session, title: str, error: ApiError) -> HTMLResponse:
        items = "".join(f"<li>{e(p.text)}{' (' + e(p.element) + ')' if p.element else ''}</li>" for p in error.problems)
        body = (
            f'<div class="error-summary" role="alert"><h2>There is a problem</h2><p>{e(error.summary)}</p>'
            f'<ul class="error-list">{items}</ul></div>'
        )
        return titled(session, title, body, error.status if 400 <= error.status < 500 else 502)

    return app


def _parameters(action: str, form: dict[str, str], session: Session) -> tuple[str, list[dict[str, Any]], str] | None:
    """The operation, its Parameters (only what the clinician filled in) and the confirmation."""
    out: list[dict[str, Any]] = []

    def ref(name: str, value: str) -> None:
        if value:
            out.append({"name": name, "valueReference": {"reference": value}})

    def string(name: str, value: str) -> None:
        if value:
            out.append({"name": name, "valueString": value})

    def code(name: str, value: str) -> None:
        if value:
            out.append({"name": name, "valueCode": value})

    if action == "accept":
        ref("waitingSupport", f"PractitionerRole/{form['waitingSupport']}" if form.get("waitingSupport") else "")
        string("supportOffered", form.get("supportOffered", ""))
        return "accept", out, "Referral accepted onto the waiting list with a support plan."
    if action == "accept-no-support":
        rationale = form.get("noSupportRationale", "")
        if rationale:
            ref("noSupportAssessor", f"PractitionerRole/{session.role}")
            string("noSupportRationale", rationale)
            out.append(
                {"name": "noSupportAssessedAt", "valueDateTime": datetime.now(UTC).isoformat(timespec="seconds")}
            )
        return "accept", out, "Referral accepted onto the waiting list: assessed that no support is needed."
    if action == "decline":
        code("reason", form.get("reason", ""))
        string("rationale", form.get("rationale", ""))
        ref("assessment", form.get("assessment", ""))
        code("nextStep", form.get("nextStep", ""))
        ref("destination", f"HealthcareService/{form['destination']}" if form.get("destination") else "")
        string("advice", form.get("advice", ""))
        string("commissioningRule", form.get("commissioningRule", ""))
        return "decline", out, "Referral declined, with its next step."
    if action == "redirect":
        ref("destination", f"HealthcareService/{form['destination']}" if form.get("destination") else "")
        string("note", form.get("note", ""))
        return "redirect", out, "Referral redirected."
    if action == "escalate":
        string("note", form.get("note", ""))
        return "escalate", out, "Referral escalated to the team lead."
    return None


def _local(path: str) -> str:
    """Only paths on this site are followed after sign-in."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/inbox"


def _ref(value: Any) -> str:
    return str(value.get("reference", "")) if isinstance(value, dict) else ""


def _state(task: dict[str, Any]) -> str:
    codings = task.get("businessStatus", {}).get("coding", [])
    return str(codings[0].get("code", "")) if codings else ""


def _split(bundle: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    tasks, included = [], {}
    for entry in bundle.get("entry", []):
        resource = entry.get("resource", {})
        if resource.get("resourceType") == "Task":
            tasks.append(resource)
        else:
            included[f"{resource.get('resourceType')}/{resource.get('id')}"] = resource
    return tasks, included


async def _waiting(gateway: Gateway, token: str, referral: str) -> dict[str, Any]:
    """The waiting clock of a referral ({} when it cannot be read)."""
    if not referral:
        return {}
    try:
        answer = await gateway.get(token, f"{referral}/$waiting-time")
    except ApiError:
        return {}
    return {
        name: parameter(answer, name) for name in ("daysWaiting", "targetDays", "breach", "clockStart", "clockStop")
    }


async def _escalated(gateway: Gateway, token: str) -> dict[str, bool]:
    """Referral Tasks with an open escalation ({} when the clinician may not search them)."""
    try:
        bundle = await gateway.get(
            token, "Task", {"code": "acceptance-decision-escalation", "status": "requested", "_count": "500"}
        )
    except ApiError:
        return {}
    found = {_ref(entry.get("resource", {}).get("focus")): True for entry in bundle.get("entry", [])}
    return found or {"": False}


def _urgency(priority: str) -> str:
    text = words.PRIORITIES.get(priority, priority)
    return tag(text, "app-tag--red") if priority in ("urgent", "asap", "stat") else e(text)


def _reasons(referral: dict[str, Any]) -> str:
    return "; ".join(str(r.get("text", "")) for r in referral.get("reasonCode", []))


def _clock_text(clock: dict[str, Any]) -> str:
    if not clock:
        return "The waiting clock could not be read."
    text = f"{clock.get('daysWaiting')} days of a {clock.get('targetDays')}-day target"
    if clock.get("breach"):
        text += " (over target)"
    if clock.get("clockStart"):
        text += f"; clock started {str(clock['clockStart'])[:10]}"
    return text


def _shown_status(error: ApiError | None) -> int:
    """The status of a page shown again after a refusal: the gateway's 4xx, 502 for its failures."""
    if error is None:
        return 200
    return error.status if 400 <= error.status < 500 else 502
