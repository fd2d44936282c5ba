# ruff: noqa: E501 - the guide's markdown tables are one line per row and cannot be wrapped
"""docs/transitions.md, produced by running the service: one young person's whole transition as API calls.

The guide is generated, not written by hand: `python -m tests.transitions.journey` runs the journey
below against the transitions app in-process (a migrated SQLite database, the gateway faked with
httpx.MockTransport, a fixed clock and seeded ids) and writes every request with the answer the
service gave. `tests/transitions/api/test_docs.py` runs it again and fails when the guide and the
service disagree.
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from textwrap import dedent
from typing import Any

import httpx

from services.kit.clock import FixedClock, parse_instant
from tests.transitions.builders import destination, params
from tests.transitions.fakes import FakeGateway

DOC = Path(__file__).resolve().parents[2] / "docs" / "transitions.md"
ORIGIN = "http://127.0.0.1:8083"
"""Where `make run` serves the transitions process; the guide's URLs use it."""
CLIENT_BASE = "http://transitions.test"
PATIENT = "Patient/yp-1"
WORKER = "PractitionerRole/barnet-cypmhs-worker"
TRANSITIONS_WORKER = "PractitionerRole/barnet-transitions-worker"
_WIDTH = 100
Show = Callable[[Any], tuple[Any, bool]]


@contextmanager
def seeded_ids(seed: int = 8083) -> Iterator[None]:
    """Every uuid4 (resource ids, event ids) from a seeded generator, so the guide is reproducible."""
    rng = random.Random(seed)
    original = uuid.uuid4
    uuid.uuid4 = lambda: uuid.UUID(int=rng.getrandbits(128), version=4)
    try:
        yield
    finally:
        uuid.uuid4 = original


def pretty(value: Any, indent: int = 0) -> str:
    """JSON the way the guides show it: small objects and lists on one line, the rest expanded."""
    compact = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, dict | list) or (indent and len(compact) + indent <= _WIDTH - 10):
        return compact
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{pad}{json.dumps(k)}: {pretty(v, indent + 2)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    if not value:
        return "[]"
    return "[\n" + ",\n".join(pad + pretty(v, indent + 2) for v in value) + "\n" + " " * indent + "]"


def rebase(value: Any) -> Any:
    """The test client's base URL written as `make run`'s."""
    if isinstance(value, str):
        return value.replace(CLIENT_BASE, ORIGIN)
    if isinstance(value, list):
        return [rebase(v) for v in value]
    if isinstance(value, dict):
        return {k: rebase(v) for k, v in value.items()}
    return value


def full(body: Any) -> tuple[Any, bool]:
    """Show the whole answer."""
    return body, False


def case_view(outputs_from: int = 0, *keys: str) -> Show:
    """Show a case Task's identity, phase and the outputs this step added (trimmed)."""

    def show(body: Any) -> tuple[Any, bool]:
        kept = {k: body[k] for k in ("resourceType", "id", "meta", "status", "businessStatus") if k in body}
        kept |= {k: body[k] for k in keys if k in body}
        if body.get("output") and outputs_from < len(body["output"]):
            kept["output"] = body["output"][outputs_from:]
        return kept, True

    return show


def keys_view(*keys: str) -> Show:
    """Show some top-level elements (trimmed)."""

    def show(body: Any) -> tuple[Any, bool]:
        return {k: body[k] for k in keys if k in body}, True

    return show


@dataclass
class Guide:
    """Runs requests against the service and writes them, with their answers, as markdown."""

    client: httpx.AsyncClient
    gateway: FakeGateway
    clock: FixedClock
    parts: list[str] = field(default_factory=list)

    def text(self, markdown: str) -> None:
        """A paragraph (or several) of prose."""
        self.parts.append(dedent(markdown).strip() + "\n")

    def at(self, moment: str, label: str) -> None:
        """Set the service's clock, and say when we are."""
        self.clock.moment = parse_instant(moment)
        self.parts.append(f"*{label}.*\n")

    async def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        etag: str | None = None,
        show: Show = full,
        query: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send one request; write its curl line, the request, the status line and the answer."""
        headers: list[tuple[str, str]] = []
        if body is not None:
            headers.append(("Content-Type", "application/fhir+json"))
        if etag is not None:
            headers.append(("If-Match", f'W/"{etag}"'))
        target = path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
        response = await self.client.request(
            method, target, headers=headers, content=json.dumps(body).encode() if body is not None else None
        )
        answer: dict[str, Any] = response.json()
        curl = f"curl -si{'' if method == 'GET' else ' -X ' + method} '{ORIGIN}{target}'"
        curl += "".join(f" -H '{k}: {v}'" for k, v in headers)
        if body is not None:
            curl += " -d @body.json"
        shown, trimmed = show(rebase(answer))
        status = f"→ {response.status_code} {HTTPStatus(response.status_code).phrase}"
        for name in ("ETag", "Location"):
            if name.lower() in response.headers:
                status += f" · `{name}: {rebase(response.headers[name.lower()])}`"
        if trimmed:
            status += " (trimmed)"
        request = f"{method} {target}\n" + "".join(f"{k}: {v}\n" for k, v in headers)
        if body is not None:
            request += "\n" + pretty(body) + "\n"
        self.parts.append(f"```sh\n{curl}\n```\n\n```http\n{request}```\n\n{status}\n\n```json\n{pretty(shown)}\n```\n")
        return answer

    def render(self) -> str:
        """The guide."""
        return "\n".join(self.parts)


def _ref(resource: dict[str, Any]) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def _outputs(case: dict[str, Any]) -> int:
    return len(case.get("output") or [])


def _version(resource: dict[str, Any]) -> str:
    version: str = resource["meta"]["versionId"]
    return version


async def journey(guide: Guide) -> None:
    """The whole transition of one young person, as an integrator would drive it."""
    g = guide
    g.gateway.young_person("yp-1", "2008-06-12", "barnet-cypmhs")
    g.gateway.young_person("yp-2", "2008-08-03", "enfield-cypmhs", high_risk=True)
    g.gateway.young_person("yp-3", "2009-02-20", "barnet-cypmhs")
    g.text(INTRO)
    g.text(LIFECYCLE)
    g.text("## 3. Walk-through")
    g.text(WALK_INTRO)

    g.text("### 3.1 The worklist: who is due a pre-transition discussion")
    g.at("2025-09-01T09:00:00Z", "Monday 1 September 2025, 09:00")
    g.text(WORKLIST)
    await g.call("GET", "/fhir/Task/$transition-worklist")
    g.text(WORKLIST_AFTER)

    g.text("### 3.2 Open the case")
    g.text(OPEN)
    case = await g.call(
        "POST", "/fhir/Task/$open-transition", params(patient=PATIENT, referringWorker=WORKER), show=full
    )
    g.text(OPEN_AFTER)

    g.text("### 3.3 Phases complete in order")
    g.text(ORDER)
    await g.call(
        "POST",
        f"/fhir/Task/{case['id']}/$decide-support",
        params(supportNeeded=True, agreedBy=[PATIENT, WORKER]),
        etag=_version(case),
    )

    g.text("### 3.4 Phase 1: the pre-transition discussion")
    g.at("2025-09-08T14:00:00Z", "Monday 8 September, 15:00")
    g.text(DISCUSSION)
    before = _outputs(case)
    case = await g.call(
        "POST",
        f"/fhir/Task/{case['id']}/$record-discussion",
        params(date="2025-09-08", participant=[PATIENT, WORKER], note="Talked through what adult services offer"),
        etag=_version(case),
        show=case_view(before),
    )
    g.text(DISCUSSION_AFTER)

    g.text("### 3.5 Phase 2: support is agreed, and the Transitions team is contacted")
    g.text(SUPPORT)
    before = _outputs(case)
    case = await g.call(
        "POST",
        f"/fhir/Task/{case['id']}/$decide-support",
        params(supportNeeded=True, agreedBy=[PATIENT, WORKER]),
        etag=_version(case),
        show=case_view(before, "owner"),
    )
    (sent,) = g.gateway.referrals.values()
    g.text(SUPPORT_AFTER)
    g.parts.append(f"```json\n{pretty(_without_meta(sent))}\n```\n")
    g.text(SUPPORT_NO)

    g.text("### 3.6 Phase 3: the multi-agency meeting")
    g.at("2025-10-06T10:00:00Z", "Monday 6 October, 11:00")
    g.text(MEETING_REFUSED)
    meeting = {
        "date": "2025-10-06T09:00:00Z",
        "attendee": [TRANSITIONS_WORKER, PATIENT, {"display": "Barnet Virtual School (education)"}],
        "destination": [destination("adult-core-cmht", "HealthcareService/barnet-core-north")],
        "summary": "Move to the core team North, with a joint visit before the handover",
    }
    await g.call(
        "POST",
        f"/fhir/Task/{case['id']}/$record-meeting",
        params(invitee=[TRANSITIONS_WORKER, PATIENT], **meeting),
        etag=_version(case),
    )
    g.text(MEETING)
    before = _outputs(case)
    invitees = [WORKER, TRANSITIONS_WORKER, PATIENT, {"display": "Barnet Virtual School (education)"}]
    case = await g.call(
        "POST",
        f"/fhir/Task/{case['id']}/$record-meeting",
        params(invitee=invitees, **meeting),
        etag=_version(case),
        show=case_view(before, "focus"),
    )
    g.text(MEETING_AFTER)
    await g.call("GET", f"/fhir/{case['focus']['reference']}")

    g.text("### 3.7 Phase 3: shared with the young person, who decides")
    g.text(AGREEMENT_TOO_EARLY)
    await g.call(
        "POST",
        f"/fhir/Task/{case['id']}/$record-agreement",
        params(decision="agreed", decidedBy=PATIENT),
        etag=_version(case),
    )
    g.text(SHARE)
    before = _outputs(case)
    case = await g.call(
        "POST",
        f"/fhir/Task/{case['id']}/$share-plan",
        params(date="2025-10-06T09:45:00Z"),
        etag=_version(case),
        show=case_view(before),
    )
    g.text(OVERRIDE)
    await g.call(
        "POST",
        f"/fhir/Task/{case['id']}/$record-agreement",
        params(decision="agreed", decidedBy="RelatedPerson/mother-of-yp-1"),
        etag=_version(case),
    )
    g.text(DISAGREE)
    before = _outputs(case)
    case = await g.call(
        "POST",
        f"/fhir/Task/{case['id']}/$record-agreement",
        params(decision="disagreed", decidedBy=PATIENT, note="Wants a team closer to college"),
        etag=_version(case),
        show=case_view(before),
    )
    g.text(REVISE)
    g.at("2025-10-20T10:00:00Z", "Monday 20 October, 11:00")
    before = _outputs(case)
    case = await g.call(
        "POST",
        f"/fhir/Task/{case['id']}/$record-meeting",
        params(
            date="2025-10-20T09:00:00Z",
            invitee=[WORKER, TRANSITIONS_WORKER, PATIENT],
            attendee=[WORKER, TRANSITIONS_WORKER, PATIENT],
            destination=[destination("young-adult-service", "HealthcareService/barnet-core-south")],
            summary="Young-adult pathway at the core team South, near college; joint visit before the handover",
        ),
        etag=_version(case),
        show=case_view(before),
    )
    case = await g.call(
        "POST",
        f"/fhir/Task/{case['id']}/$share-plan",
        params(date="2025-10-20T09:30:00Z"),
        etag=_version(case),
        show=case_view(_outputs(case)),
    )
    g.text(AGREE)
    before = _outputs(case)
    case = await g.call(
        "POST",
        f"/fhir/Task/{case['id']}/$record-agreement",
        params(decision="agreed", decidedBy=PATIENT),
        etag=_version(case),
        show=case_view(before, "extension"),
    )
    g.text(AGREE_AFTER)

    g.text("### 3.8 Phase 4: an agreed alternative time")
    g.at("2026-05-11T10:00:00Z", "Monday 11 May 2026, 11:00")
    g.text(ALTERNATIVE_TIME_REFUSED)
    await g.call(
        "POST",
        f"/fhir/Task/{case['id']}/$set-action-date",
        params(date="2026-07-01", agreedBy=[WORKER], rationale="A-levels finish on 26 June"),
        etag=_version(case),
    )
    g.text(ALTERNATIVE_TIME)
    before = _outputs(case)
    case = await g.call(
        "POST",
        f"/fhir/Task/{case['id']}/$set-action-date",
        params(
            date="2026-07-01",
            agreedBy=[PATIENT, WORKER, TRANSITIONS_WORKER],
            rationale="A-levels finish on 26 June; moving after them is a time of relative stability",
        ),
        etag=_version(case),
        show=case_view(before, "extension"),
    )

    g.text("### 3.9 Overdue plans")
    g.at("2026-07-02T09:00:00Z", "Thursday 2 July, 10:00")
    g.text(OVERDUE)
    await g.call("GET", "/fhir/Task/$transition-overdue")

    g.text("### 3.10 Phase 4: the plan is actioned")
    g.text(ACTION)
    before = _outputs(case)
    summary = (
        "Known to Barnet CYPMHS since 2022 for low mood and anxiety. Completed CBT in 2024; on sertraline "
        "50 mg. Safety plan shared; no self-harm in the last 12 months. Prefers text reminders."
    )
    case = await g.call(
        "POST",
        f"/fhir/Task/{case['id']}/$action-plan",
        params(cypSummary=summary),
        etag=_version(case),
        show=case_view(before),
    )
    adult = next(r for r in g.gateway.referrals.values() if ":adult-" in r["identifier"][0]["value"])
    g.text(ACTION_AFTER)
    g.parts.append(f"```json\n{pretty(_without_meta(adult))}\n```\n")

    g.text("### 3.11 A declined adult referral escalates (it never closes the case)")
    g.at("2026-07-06T11:00:00Z", "Monday 6 July, 12:00")
    g.text(DECLINED)
    await g.call(
        "POST",
        "/internal/events",
        {
            "id": "7f1d2c3e-5b6a-4c8d-9e0f-1a2b3c4d5e6f",
            "type": "referral-declined",
            "source": "referrals",
            "time": "2026-07-06T11:00:00.000Z",
            "focus": f"ServiceRequest/{adult['id']}",
            "subject": PATIENT,
            "requester": WORKER,
            "reason": "needs-better-met-elsewhere",
            "nextStep": "escalate",
        },
    )
    g.text(ESCALATION)
    await g.call("GET", "/fhir/Task", query={"code": "transition-escalation", "subject": PATIENT})
    case = (await g.client.get(f"/fhir/Task/{case['id']}")).json()
    g.text(CLOSE_REFUSED)
    await g.call("POST", f"/fhir/Task/{case['id']}/$close", params(), etag=_version(case))
    g.text(ALTERNATIVE)
    before = _outputs(case)
    case = await g.call(
        "POST",
        f"/fhir/Task/{case['id']}/$record-alternative",
        params(
            destination=[
                destination(
                    "transitions-clinical-service",
                    "HealthcareService/barnet-transitions",
                    "lost-confidence-with-traditional-support",
                )
            ]
        ),
        etag=_version(case),
        show=case_view(before),
    )

    g.text("### 3.12 Phase 5: continuity of care")
    g.at("2026-08-03T09:00:00Z", "Monday 3 August, 10:00")
    g.text(HANDOVER)
    handover = {"cypEnd": "2026-07-31", "adultStart": "2026-08-10"}
    await g.call("POST", f"/fhir/Task/{case['id']}/$record-handover", params(**handover), etag=_version(case))
    before = _outputs(case)
    case = await g.call(
        "POST",
        f"/fhir/Task/{case['id']}/$record-handover",
        params(**handover, rationale="The Transitions clinician returns from leave on 10 August; crisis plan shared"),
        etag=_version(case),
        show=case_view(before),
    )

    g.text("### 3.13 Phase 5: feedback and the effectiveness review")
    g.at("2026-11-02T10:00:00Z", "Monday 2 November, 10:00")
    g.text(FEEDBACK_REFUSED)
    await g.call(
        "POST",
        f"/fhir/Task/{case['id']}/$review",
        params(outcome="effective", reviewer=TRANSITIONS_WORKER),
        etag=_version(case),
    )
    g.text(FEEDBACK)
    before = _outputs(case)
    case = await g.call(
        "POST",
        f"/fhir/Task/{case['id']}/$record-feedback",
        params(
            respondent="young-person",
            experience="positive",
            comment="Meeting my new worker before I moved made it much less scary",
        ),
        etag=_version(case),
        show=case_view(before),
    )
    g.text(FEEDBACK_FAMILY)
    case = await g.call(
        "POST",
        f"/fhir/Task/{case['id']}/$record-feedback",
        params(
            respondent="family-carer",
            source="RelatedPerson/mother-of-yp-1",
            experience="mixed",
            comment="The gap in August was worrying",
        ),
        etag=_version(case),
        show=case_view(_outputs(case)),
    )
    feedback = (await g.client.get("/fhir/QuestionnaireResponse", params={"respondent": "young-person"})).json()
    g.text(FEEDBACK_RESOURCE)
    await g.call("GET", f"/fhir/QuestionnaireResponse/{feedback['entry'][0]['resource']['id']}")
    g.text(REVIEW)
    before = _outputs(case)
    case = await g.call(
        "POST",
        f"/fhir/Task/{case['id']}/$review",
        params(
            outcome="partly-effective",
            reviewer=TRANSITIONS_WORKER,
            actions="Book the adult start before the CYPMHS end date in future plans; tell families about any gap",
        ),
        etag=_version(case),
        show=case_view(before),
    )

    g.text("### 3.14 Closing the case")
    g.text(CLOSE)
    case = await g.call(
        "POST",
        f"/fhir/Task/{case['id']}/$close",
        params(note="Settled with the Transitions clinical service"),
        etag=_version(case),
        show=case_view(_outputs(case)),
    )
    g.text(STATUS)
    await g.call("GET", f"/fhir/Task/{case['id']}/$transition-status")
    g.text(PHASES_SEARCH)
    await g.call(
        "GET",
        "/fhir/Task",
        query={"code": "transition-phase", "part-of": f"Task/{case['id']}", "_summary": "count"},
    )
    g.text(REFERENCE)


def _without_meta(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k not in ("id", "meta")}


async def produce(client: httpx.AsyncClient, gateway: FakeGateway, clock: FixedClock) -> str:
    """Run the journey against an app (with seeded ids) and return the guide's text."""
    guide = Guide(client, gateway, clock)
    with seeded_ids():
        await journey(guide)
    return guide.render()


async def _write() -> None:
    from services.kit.migrate import upgrade
    from services.transitions.main import create_app
    from services.transitions.settings import Settings
    from tests.transitions.fakes import GATEWAY

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/transitions.db"
        await asyncio.to_thread(upgrade, "transitions", url)
        gateway, clock = FakeGateway(), FixedClock()
        settings = Settings(database_url=url, gateway_url=GATEWAY, run_background_tasks=False)
        app = create_app(settings, clock, gateway.transport)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=CLIENT_BASE) as client:
            text = await produce(client, gateway, clock)
        await app.state.database.dispose()
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")


# ---------------------------------------------------------------- the prose

INTRO = """
# Transitions: an integrator's guide

This guide is for teams connecting an EPR, or the thin clinical client, to Continuum's transitions
service: the five-phase move of young people from children and young people's mental health
services (CYPMHS) to adult services. It explains what a transition case is, walks one young person
through all five phases with real requests and the answers the service gave, and ends with the
reference: operations, parameters, codes, events and the requirement each rule comes from.

Every request and answer in section 3 was produced by running the service (see section 4.8), so
the guide cannot drift from the code.

## 1. What a transition case is

The partnership's strategy describes five phases (requirements section 4.1, quoted exactly):

1. Pre-transition discussions are initiated before the young person reaches 17½ years of age.
2. If it is agreed that support with transition is needed, then the Transitions team is contacted.
3. A transition plan is then developed in a multi-agency transition meeting which the young
   person's referring worker is invited to. This plan is shared with the young person and will only
   become the formalised plan if the young person agrees with the recommendations.
4. The transitions plan is then actioned usually at the age of 18 or an agreed alternative time.
5. The effectiveness of the plan is evaluated and reviewed based on feedback.

A case is three kinds of FHIR R4 resource:

- a **Task** with `code` `transition-case` (system
  `https://continuum.example.org/fhir/CodeSystem/task-code`). Its `businessStatus` is the current
  phase, `for` is the young person, `requester` the referring worker (the CYPMHS worker), `owner` the
  sending CYPMHS team and, once support is agreed, the borough's Transitions team. Its `input`s say
  where the case comes from; its `output`s record what each step found.
- a **Task per phase** (`code` `transition-phase`, `partOf` the case), with the phase's own record
  and, for phases 1 and 4, its due date in `restriction.period.end`.
- the **transition plan**, a CarePlan with `category` `transition-plan` (system
  `https://continuum.example.org/fhir/CodeSystem/careplan-category`), the case's `focus`. It is
  `draft` until the young person agrees, then `active` (formalised), then `completed`.

Feedback is stored as **QuestionnaireResponse**s answering
`https://continuum.example.org/fhir/Questionnaire/transition-feedback`, and a declined adult referral
creates an escalation **Task** (`code` `transition-escalation`) for the borough's Transitions team.

Everything changes through **named operations on the case Task**, each taking a `Parameters` body
and `If-Match` with the case's current version: `POST /fhir/Task/{case}/$record-discussion`,
`$decide-support`, `$record-meeting`, `$share-plan`, `$record-agreement`, `$set-action-date`,
`$action-plan`, `$record-feedback`, `$record-handover`, `$record-alternative`, `$review`, `$close`,
`$reopen` and `$flag-high-risk`. The answer is the case's new version. `PUT`, `POST` and `DELETE`
on the resources themselves are 405.

**Base URL.** `http://127.0.0.1:8083/fhir` is the transitions process that `make run` starts
(environment prefix `TRANSITIONS_`). Through the gateway the base is `http://127.0.0.1:8080/fhir`
and the paths are the same. `GET /fhir/metadata` is the CapabilityStatement, `/docs` the OpenAPI
description, `GET /health` checks the service and its database.

**Other services.** The transitions service reads the CYPMHS caseloads (the referrals service's
EpisodeOfCare) and birth dates (the gateway's Patient), and sends its referrals (ServiceRequest to
the referrals service), always through the gateway with its own access token. It hears about its
referrals (accepted, declined, redirected) from the gateway's Subscriptions at `POST
/internal/events`. It imports no other service.

**Content type, tokens, errors, versions.** As for every Continuum service (see the referrals
guide, section 1): bodies are `application/fhir+json`; with `TRANSITIONS_AUTH_PUBLIC_KEY_FILE` set,
every request needs a bearer token from the gateway, and a token naming a clinician acts only on
cases of their own team (the sending CYPMHS team or the borough's Transitions team). Every error is
an OperationOutcome whose issues name the element at fault in `expression`; nothing is changed when
a request is refused.

| status | issue `code` | when |
|---|---|---|
| 400 | `invalid`, `structure` | not JSON, not `Parameters`, a value of the wrong type, an unknown search parameter |
| 401 / 403 | `login` / `forbidden` | no valid token / not allowed (scopes, or another team's case) |
| 404 | `not-found` | no such case, resource, version or route |
| 405 | `not-supported` | changing a resource other than through the case's operations |
| 409 | `conflict`, `duplicate` | a step out of order (FR-59); a second open case; closing with a declined referral unresolved or before the review |
| 412 | `conflict` | `If-Match` missing or stale |
| 422 | `required`, `code-invalid`, `business-rule` | a rule of the transition is broken (the diagnostics name the requirement) |
| 502 / 504 | `transient` / `timeout` | the gateway (or the service behind it) could not be reached; nothing was changed |
"""

LIFECYCLE = """
## 2. The phases

The case Task's `businessStatus` (system `https://continuum.example.org/fhir/CodeSystem/transition-phase`):

```text
1 pre-transition-discussion ──$record-discussion──▶ 2 support-decision
2 support-decision ──$decide-support (yes)──▶ 3 transition-planning
                   ──$decide-support (no)───▶ not-needed ──$reopen──▶ 2
3 transition-planning: $record-meeting, $share-plan, $record-agreement (disagreed) stay in 3
                       $record-agreement (agreed) formalises the plan ──▶ 4 plan-actioning
4 plan-actioning: $set-action-date stays in 4; $action-plan sends the referrals ──▶ 5 evaluation
5 evaluation: $record-feedback, $record-handover, $record-alternative, $review stay in 5
              $close ──▶ closed
a declined adult referral keeps the case in 5, or brings a closed case back to 5
$flag-high-risk: at any open phase, without moving it
```

| phase | case `status` | what it needs before it completes |
|---|---|---|
| `pre-transition-discussion` (1) | `in-progress` | the discussion's date; on or after DOB + 17y6m it is recorded as late (FR-53) |
| `support-decision` (2) | `in-progress` | support needed yes/no, agreed with the young person and a worker (FR-54) |
| `transition-planning` (3) | `in-progress` | a meeting with the referring worker invited; the plan shared; the young person's own agreement (FR-55, FR-56) |
| `plan-actioning` (4) | `in-progress` | the plan actioned (referrals sent) at 18 or an agreed alternative time (FR-57, FR-64) |
| `evaluation` (5) | `in-progress` | the young person's feedback (or their declining) and the effectiveness review; no declined referral unresolved (FR-58, FR-62) |
| `closed` | `completed` | |
| `not-needed` | `completed` | can be reopened at phase 2 (FR-54) |

A step that does not belong to the case's phase is refused with 409 naming `Task.businessStatus`:
phases complete in order (FR-59).
"""

WALK_INTRO = """
Amani (`Patient/yp-1`, born 12 June 2008) is on the caseload of Barnet CYPMHS; her worker is Dana
Patel (`PractitionerRole/barnet-cypmhs-worker`). Her 17½ deadline is 12 December 2025 and her 18th
birthday 12 June 2026. The answers below are the service's own, with the ids it generated; some
long answers are trimmed to the elements that matter for the step (marked *trimmed*).
"""

WORKLIST = """
`GET /fhir/Task/$transition-worklist` lists the young people on a CYPMHS caseload (an `active` or
`onhold` EpisodeOfCare at a CYPMHS team) who are at or past the lead-in age (17y0m by default,
`TRANSITIONS_WORKLIST_FROM_MONTHS`) and have no phase-1 record yet. High-risk young people come first
(FR-60: a `high-risk` flag on their Patient record, or on their case), then the nearest 17½ deadline.
Each row has the deadline (DOB + 17 years 6 months in calendar months; a day the month lacks, such
as 29 February, becomes the month's last day), the days left, and `pastDeadline` when a discussion
today would already be late. It takes `borough`, `service` (a CYPMHS team), `_count` and `_offset`.
"""

WORKLIST_AFTER = """
Enfield's young person is high risk, so she comes first although her deadline is later. Born in
February 2009, `Patient/yp-3` is not 17 yet and is not listed.
"""

OPEN = """
A case belongs to a young person with an open CYPMHS episode (FR-52). The service finds it through
the gateway; when the person has several, name one in `episode`. The referring worker is a worker of
that CYPMHS team. A CYPMHS run by another provider (Camden and Islington's are Whittington Health's)
may send a transition too. `highRisk` with `highRiskReason` (`complex-needs`,
`multi-agency-involvement`, `other` with `highRiskNote`) flags the case; a high-risk flag on the
Patient record is carried over. A person has one open case at a time (409 `duplicate`).
"""

OPEN_AFTER = """
The case starts at phase 1, owned by the sending team, with the 17½ deadline in the
`transition-phase1-deadline` extension. The phase-1 Task (`GET /fhir/Task?part-of=Task/{case}`)
carries the same deadline as its `restriction.period.end`.
"""

ORDER = """
Deciding on support before the discussion is recorded is a step out of order:
"""

DISCUSSION = """
`$record-discussion` takes the discussion's `date` (today when absent; never in the future), the
`participant`s and a `note`. A discussion on or after the 17½ deadline is recorded as late
(`late-initiation`, FR-53); the age at the discussion is kept for reporting how early planning
starts (Q-TR-13).
"""

DISCUSSION_AFTER = """
Phase 1's Task is completed (with the age band at completion, FR-65) and phase 2's starts.
"""

SUPPORT = """
`$decide-support` records whether support with the transition is needed, agreed by the young person
and a worker (`agreedBy` includes the Patient and a PractitionerRole). When it is, the service
refers the young person to the borough's Transitions team: one `ServiceRequest` through the gateway,
requested by the referring worker, with no GP anywhere (FR-54).
"""

SUPPORT_AFTER = """
This is the referral the referrals service received (its id is in the `transitions-referral` output).
Its identifier is derived from the case, and it is sent with `If-None-Exist` on it, so a retried or
raced step never makes a second referral. The source is `internal-team` for a partnership CYPMHS and
`other-health-professional` for an external provider's:
"""

SUPPORT_NO = """
With `supportNeeded` false the case closes as `not-needed` (its `statusReason` says so) with the
`reason` recorded; `$reopen` with a `reason` brings it back to phase 2.
"""

MEETING_REFUSED = """
The plan is developed in a multi-agency meeting. `$record-meeting` takes the meeting's `date`, its
`invitee`s and `attendee`s (separate lists; a reference, or a `display` for an agency with no record
here), the plan's `destination`s and a `summary`. The young person's referring worker must be among
the invitees (FR-55), whoever attended:
"""

MEETING = """
With the referring worker invited, the meeting is recorded on the phase-3 Task (a
`transition-meeting` extension with every invitee and attendee) and the first meeting creates the
plan as a `draft` CarePlan, the case's `focus`. Each `destination` has a `kind`:
`adult-core-cmht`, `intensive-team`, `young-adult-service`, `transitions-clinical-service` (with a
`reason`: `does-not-meet-adult-eligibility` or `lost-confidence-with-traditional-support`, FR-61)
or `remain-in-cyp-0-25`; and a `service`, a HealthcareService of that kind.
"""

MEETING_AFTER = """
The plan: the young person is a `contributor` (co-production, Q-TR-08), each destination an
`activity`.
"""

AGREEMENT_TOO_EARLY = """
The plan becomes formal only if the young person agrees with it, and only after it has been shared
with her (FR-56):
"""

SHARE = """
`$share-plan` records when the plan was shared with the young person (`date`, now when absent):
"""

OVERRIDE = """
The decision is the young person's own: nobody else can agree for her, parent or clinician (FR-56;
P-8 records that no override is provided):
"""

DISAGREE = """
Amani does not agree: she would rather be seen near her college. The plan stays `draft`, and the
case stays in phase 3. Anything that would activate the plan (a phase-4 step) is refused with 409.
"""

REVISE = """
A later meeting revises the plan. New destinations make it a new proposal: it must be shared again,
and the young person decides again.
"""

AGREE = """
This time Amani agrees. Her agreement formalises the plan (`active`), and the case moves to phase 4
with the plan to be actioned on her 18th birthday (FR-57), in the
`transition-planned-action-date` extension:
"""

AGREE_AFTER = """
The plan records the decision (`transition-plan-young-person-agreement`: decision, decided by,
when) and its `period.start` is the planned action date.
"""

ALTERNATIVE_TIME_REFUSED = """
The plan is actioned at 18 "or an agreed alternative time". `$set-action-date` takes the `date`,
who agreed (`agreedBy`, which must include the young person, P-7) and why (`rationale`); the date
may fall before or after the 18th birthday (Q-TR-12).
"""

ALTERNATIVE_TIME = """
With Amani among those who agreed:
"""

OVERDUE = """
A formalised plan not actioned by its planned date is overdue from the next day (FR-57).
`GET /fhir/Task/$transition-overdue` lists such cases, high-risk first (`borough`, `_count`,
`_offset`); each case's `$transition-status` says `overdue` too (section 3.14).
"""

ACTION = """
`$action-plan` sends the adult-service referrals the plan names (`remain-in-cyp-0-25` sends none).
Each carries the formalised plan (`basedOn` and `supportingInfo`) and a summary of the young
person's CYPMHS history (`cypSummary`, required), so she does not tell her story again (FR-64).
"""

ACTION_AFTER = """
The referral the referrals service received: the summary travels as a contained DocumentReference.
The plan's activity now points at it (`outcomeReference`), `scheduled` until the adult team decides.
"""

DECLINED = """
The core team South declines the referral. The referrals service writes a `referral-declined` event;
the gateway delivers it, through the transitions service's Subscription, to `POST /internal/events`
(the body is the event). An event about a referral this service sent is applied once: a repeated
event id answers `already applied`. `referral-accepted` and `referral-redirected` are applied too
(the plan follows the referral); events about other referrals are acknowledged and ignored.
"""

ESCALATION = """
A declined adult referral is escalated, never silently returned (FR-62, Q-TR-09): an urgent Task for
the borough's Transitions team, part of the case, focused on the declined referral.
"""

CLOSE_REFUSED = """
Until an alternative destination or the young person's own choice is recorded, the case cannot
close:
"""

ALTERNATIVE = """
`$record-alternative` takes either one `destination` (sent at once, with the plan and the summary)
or the young person's `choice` with `decidedBy` her Patient reference. Here the Transitions team's
own clinical service takes Amani on, because she has lost confidence with traditional support
(Q-TR-10). Her escalation is completed.
"""

HANDOVER = """
`$record-handover` records when CYPMHS care ended (`cypEnd`) and adult care starts (`adultStart`).
A gap between them, or an adult start not yet known, needs a `rationale` (FR-63); the gap in days
is kept for reporting (M-56):
"""

FEEDBACK_REFUSED = """
The effectiveness review is based on feedback: without the young person's feedback (or her
declining to give it) neither the review nor closing is possible (FR-58).
"""

FEEDBACK = """
`$record-feedback` takes the `respondent` (`young-person`, `family-carer`, `referring-worker`,
`adult-team`), its `source` (the young person's own Patient by default; a RelatedPerson for family;
a PractitionerRole for workers), the `experience` (`positive`, `mixed`, `negative`) and a `comment`;
or `declined` true when the young person was asked and declined. Each is stored as a
QuestionnaireResponse.
"""

FEEDBACK_FAMILY = """
Her mother's feedback (optional, as are the workers'):
"""

FEEDBACK_RESOURCE = """
The young person's QuestionnaireResponse (`GET /fhir/QuestionnaireResponse?respondent=young-person`
finds all of them):
"""

REVIEW = """
`$review` records the outcome (`effective`, `partly-effective`, `not-effective`), the `reviewer`
and, unless the plan was fully effective, the `actions` taken.
"""

CLOSE = """
`$close` closes the case once the feedback and the review are recorded and no declined referral is
waiting for an alternative. The plan is `completed`.
"""

STATUS = """
`GET /fhir/Task/{case}/$transition-status` says where a case stands today: phase, the 17½ deadline
and whether phase 1 was late, the 18th birthday and the planned action date, whether the plan is
overdue, the young person's age and age band today (FR-65: CYP is 0 to 17 years and 364 days; the
day before the 18th birthday is `0-17`, the birthday `18-25`), open escalations and the continuity
gap.
"""

PHASES_SEARCH = """
The case's five phase Tasks (`_summary=count` counts them; without it the Bundle holds them, each
with its own outputs; without `code` the escalation, also part of the case, is counted too):
"""

REFERENCE = """
## 4. Reference

### 4.1 Interactions and search

| type | create | change | read, vread, history | search | operations |
|---|---|---|---|---|---|
| Task | `$open-transition` (case), the steps (phase and escalation Tasks) | only the case's operations | yes | yes | `$open-transition`, `$transition-worklist`, `$transition-overdue`, the steps, `$transition-status`, `$validate` |
| CarePlan | by `$record-meeting` | by the phase 3 to 5 steps | yes | yes | `$validate` |
| QuestionnaireResponse | by `$record-feedback` | no | yes | yes | `$validate` |

Search answers a `searchset` Bundle with `total` and paging links; the common rules (`_count`,
`_offset`, `_sort`, `_total`, `_summary=count`, comma-separated alternatives, `:not` on tokens, an
unknown parameter refused with 400) are those of every Continuum service.

**Task** (sort keys `_lastUpdated`, `authored-on`, `phase1-deadline`, `planned-action-date`;
`_include=Task:part-of`, `_include=Task:focus`, `_revinclude=Task:part-of`): `_id`, `_lastUpdated`,
`code` (`transition-case`, `transition-phase`, `transition-escalation`), `status`, `business-status`
(the phase), `subject`/`patient`, `part-of`, `focus`, `owner`, `requester`, `authored-on`, `high-risk`
(`true`/`false`), `borough`.

**CarePlan** (sort `_lastUpdated`, `created`): `_id`, `_lastUpdated`, `subject`/`patient`, `status`,
`category`.

**QuestionnaireResponse** (sort `_lastUpdated`, `authored`): `_id`, `_lastUpdated`,
`subject`/`patient`, `questionnaire`, `status`, `based-on`, `source`, `respondent`, `authored`.

### 4.2 The steps and their parameters

Every step is `POST /fhir/Task/{case}/${step}` with `If-Match` and a `Parameters` body, and may name
the `actor` (a PractitionerRole; a clinician's token names it anyway), kept in the `changed-by`
extension.

| step | phase | parameters (* required) | requirement |
|---|---|---|---|
| `$open-transition` (type level) | starts 1 | `patient`*, `referringWorker`*, `episode`, `highRisk`, `highRiskReason`…, `highRiskNote` | FR-52 |
| `$record-discussion` | 1 → 2 | `date`, `participant`…, `note` | FR-53 |
| `$decide-support` | 2 → 3 or not-needed | `supportNeeded`*, `agreedBy`…* (the young person and a worker), `reason` (* when no) | FR-54 |
| `$reopen` | not-needed → 2 | `reason`* | FR-54 |
| `$record-meeting` | 3 | `date`*, `invitee`…* (the referring worker), `attendee`…, `destination`… (* at the first meeting: parts `kind`*, `service`, `reason`), `summary`, `author`, `note` | FR-55, FR-61 |
| `$share-plan` | 3 | `date` | FR-56 |
| `$record-agreement` | 3 → 3 or 4 | `decision`* (`agreed`, `disagreed`), `decidedBy`* (the young person), `note` | FR-56 |
| `$set-action-date` | 4 | `date`*, `agreedBy`…* (with the young person), `rationale`* | FR-57 |
| `$action-plan` | 4 → 5 | `cypSummary`* | FR-57, FR-64 |
| `$record-feedback` | 5 | `respondent`*, `source`, `experience` (* unless declined), `comment`, `declined` | FR-58 |
| `$record-handover` | 5 | `cypEnd`*, `adultStart`, `rationale` (* when there is a gap) | FR-63 |
| `$record-alternative` | 5 | `destination` or `choice` with `decidedBy` (the young person) | FR-62 |
| `$review` | 5 | `outcome`*, `reviewer`*, `actions` (* unless effective) | FR-58 |
| `$close` | 5 → closed | `note` | FR-58, FR-62 |
| `$flag-high-risk` | any open | `highRisk` (default true), `highRiskReason`…, `highRiskNote` | FR-60 |

### 4.3 Codes and extensions

Code systems under `https://continuum.example.org/fhir/CodeSystem/`: `transition-phase`,
`transition-task-input`, `transition-task-output`, `transition-high-risk-reason`,
`transition-destination`, `transitions-clinical-service-reason`, `transition-plan-agreement`,
`transition-feedback-respondent`, `transition-experience`, `transition-effectiveness`,
`transition-status-reason`; shared with other services: `task-code`, `careplan-category`,
`referral-source`. Extensions under `https://continuum.example.org/fhir/StructureDefinition/`:
`transition-phase1-deadline`, `transition-planned-action-date`, `transition-agreed-alternative-time`,
`transition-high-risk`, `transition-case`, `transition-plan-shared-with-young-person`,
`transition-plan-young-person-agreement`, `transition-meeting`, `transition-feedback-respondent`,
`changed-by`. Adult referrals are coded SNOMED CT 308292007 *Transfer of care*; the referral to the
Transitions team 390866009 *Referral to mental health team*.

### 4.4 Events the service writes

Written in the same transaction as the change (outbox) and delivered to the gateway:
`transition-case-opened`, `transition-phase-changed` (every phase change: `fromPhase`, `toPhase`,
`phaseNumber`, `borough`, `sendingService`, `highRisk`, `ageBand` at the event date),
`transition-high-risk-flagged`, `transition-escalated` (the escalation Task and the declined
referral), `transition-continuity-recorded` (`gapDays`).

### 4.5 Events the service consumes

At `POST /internal/events` (a token with the `events` scope): `referral-accepted`,
`referral-declined`, `referral-redirected` from the referrals service, through the gateway's
Subscriptions. Each is applied once per event id.

### 4.6 Requirements and the rules that keep them

| requirement | rule | refused with |
|---|---|---|
| FR-52 | a case needs an open CYPMHS episode; the referring worker is that team's; one open case | 422 `patient`/`episode`/`referringWorker`; 409 `duplicate` |
| FR-53 | deadline DOB + 17y6m; on or after it the discussion is late; the worklist from 17y0m | 422 `date` (future) |
| FR-54 | support agreed by the young person and a worker; yes refers once to the borough's Transitions team; no records its reason | 422 `agreedBy`, `reason` |
| FR-55 | the referring worker is invited; invitees and attendees apart | 422 `invitee` |
| FR-56 | agreement after sharing, by the young person only; only agreement activates the plan | 422 shared extension, `decidedBy`; 409 for phase-4 steps |
| FR-57 | planned date = 18th birthday, or an agreed alternative (who, with the young person, and why); overdue the day after | 422 `agreedBy`, `rationale` |
| FR-58 | the young person's feedback (or declining) before the review and closing; the review before closing | 422 the young-person-feedback output; 409 |
| FR-59 | phases in order | 409 `Task.businessStatus` |
| FR-60 | high risk with reasons, at any phase; first on worklists | 422 `highRiskReason`, `highRiskNote` |
| FR-61 | destination kinds and their services; the Transitions clinical service with its reason | 422 the destination's `service`/`reason` |
| FR-62 | a declined adult referral escalates; no closing without an alternative or the young person's choice | 409 on `$close` |
| FR-63 | a gap before adult care needs a rationale; the gap in days is reported | 422 `rationale` |
| FR-64 | adult referrals carry the formalised plan and a CYP summary | 422 `cypSummary` |
| FR-65 | age bands at the event date; CYP is under 18 | — |

### 4.7 Settings

`TRANSITIONS_DATABASE_URL` (default `sqlite+aiosqlite:///var/transitions.db`),
`TRANSITIONS_GATEWAY_URL` (`http://127.0.0.1:8080`), `TRANSITIONS_TIMEZONE` (`Europe/London`: what
"today" is for deadlines), `TRANSITIONS_WORKLIST_FROM_MONTHS` (204 = 17y0m),
`TRANSITIONS_PHASE1_DEADLINE_MONTHS` (210 = 17y6m), `TRANSITIONS_ADULT_YEARS` (18),
`TRANSITIONS_YOUNG_ADULT_TO_YEARS` (25), and the settings every service has (token verification,
the service's own client credentials, event delivery, page sizes, body limit).

### 4.8 How this guide is made

`python -m tests.transitions.journey` runs section 3 against the service in-process (a migrated
SQLite database, the gateway faked, a fixed clock, seeded ids) and writes this file;
`tests/transitions/api/test_docs.py` runs it again, on SQLite and PostgreSQL, and fails if a single
character differs.
"""


if __name__ == "__main__":
    asyncio.run(_write())
