"""Writes docs/careplans.md: the integrator's guide, with every example request really sent.

Run `python -m tests.careplans.walkthrough` after changing the API; `test_docs.py` fails when the
guide and the service disagree. The app runs in-process on a fresh SQLite database with a fixed
clock and seeded ids, so the answers shown are the service's own and the text is reproducible.
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from unittest import mock

import httpx

from services.careplans.domain.dialog import ITEMS
from services.careplans.main import create_app, publish_definitions
from services.careplans.persistence import tables
from services.careplans.settings import Settings
from services.kit.clock import FixedClock
from services.kit.migrate import upgrade
from services.kit.outbox import Outbox
from tests.careplans import builders as b

DOC = Path(__file__).resolve().parents[2] / "docs" / "careplans.md"
PROSE = Path(__file__).resolve().parent / "guide"
"""The guide's fixed prose (sections 1, 2 and 4); section 3 is written from the requests below."""
Json = dict[str, Any]
Trim = Callable[[Any], Any]


@contextmanager
def seeded_ids(seed: int = 2026) -> Iterator[None]:
    """uuid4 from a seeded generator, so the guide's ids are the same every time it is written."""
    rng = random.Random(seed)
    with mock.patch("uuid.uuid4", side_effect=lambda: uuid.UUID(int=rng.getrandbits(128), version=4)):
        yield


def dumps(value: Any, indent: int = 0) -> str:
    """JSON as the guide shows it: anything that fits on a line stays on one line."""
    flat = json.dumps(value, ensure_ascii=False)
    if len(flat) + indent <= 120 or not isinstance(value, dict | list) or not value:
        return flat
    inner = " " * (indent + 2)
    if isinstance(value, list):
        lines = [inner + dumps(v, indent + 2) for v in value]
        return "[\n" + ",\n".join(lines) + "\n" + " " * indent + "]"
    lines = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {dumps(v, indent + 2)}" for k, v in value.items()]
    return "{\n" + ",\n".join(lines) + "\n" + " " * indent + "}"


class Guide:
    """The guide being written, and the client whose requests it records."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.parts: list[str] = []

    def say(self, text: str) -> None:
        """Add prose."""
        self.parts.append(text.rstrip() + "\n")

    async def send(
        self,
        method: str,
        path: str,
        body: Json | None = None,
        headers: dict[str, str] | None = None,
        *,
        trim: Trim | None = None,
    ) -> httpx.Response:
        """Send a request, and write it and the service's answer into the guide."""
        sent = {**(b.FHIR if body is not None else {}), **(headers or {})}
        request = [f"{method} {path}", *(f"{k}: {v}" for k, v in sent.items())]
        if body is not None:
            request += ["", dumps(body)]
        self.parts.append("```http\n" + "\n".join(request) + "\n```\n")
        response = await self.client.request(method, path, json=body, headers=sent)
        shown = [f"`{h}: {response.headers[h]}`" for h in ("ETag", "Location") if h in response.headers]
        status = f"→ {response.status_code} {HTTPStatus(response.status_code).phrase}"
        note = " (trimmed)" if trim else ""
        self.parts.append(" ".join([status, *shown]) + note + "\n")
        content = response.json()
        self.parts.append("```json\n" + dumps(trim(content) if trim else content) + "\n```\n")
        return response

    def text(self) -> str:
        """The whole guide."""
        return "\n".join(self.parts)


# ---------------------------------------------------------------- trimming answers


def keep(*keys: str, **replace: Any) -> Callable[[Json], Json]:
    """Show only some keys of a resource (others become "…")."""

    def apply(value: Json) -> Json:
        shown = {k: replace[k](value[k]) if k in replace else value[k] for k in keys if k in value}
        return {**shown, "…": "…"} if len(shown) < len(value) else shown

    return apply


def first_item_only(questionnaire: Json) -> Json:
    """The Questionnaire with only its first item shown."""
    group = questionnaire["item"][0]
    item = {**group["item"][0]}
    return keep("resourceType", "id", "meta", "url", "version", "name", "status")(questionnaire) | {
        "item": [{**group, "item": [item, "…"]}, "…"]
    }


def activities(plan: Json) -> list[Json]:
    """A plan's activities in brief."""
    return [
        {
            "id": a["id"],
            "description": a["detail"]["description"],
            "status": a["detail"]["status"],
            "progress": [p["text"] for p in a.get("progress", [])],
        }
        for a in plan["activity"]
    ]


def plan_summary(plan: Json) -> Json:
    """What changed in a plan, without its long content."""
    return keep("resourceType", "id", "meta", "status", "contributor", "goal", "supportingInfo", "replaces")(plan) | {
        "activity (summarised)": activities(plan) if plan.get("activity") else []
    }


def trend_summary(trend: Json) -> Json:
    """The trend with two of its thirteen series."""
    kept = []
    for parameter in trend["parameter"]:
        code = parameter.get("part", [{}])[0].get("valueCode")
        if parameter["name"] != "series" or code in ("sqol", "accommodation"):
            kept.append(parameter)
    return {"resourceType": "Parameters", "parameter": [*kept, "… (11 more series)"]}


# ---------------------------------------------------------------- the walk-through


def item_table() -> str:
    """The DIALOG items as a Markdown table's rows."""
    return "\n".join(f"| {i.group.value} | `{i.link_id}` | {i.snomed} | {i.text} |" for i in ITEMS)


async def walk(guide: Guide, clock: FixedClock, app: Any) -> None:
    """Every request of section 3, in order."""
    say, send = guide.say, guide.send
    say("### 3.1 The DIALOG Questionnaire\n\nThe service publishes it; read it to render the scale.")
    await send("GET", "/fhir/Questionnaire/dialog", trim=first_item_only)

    say(
        "### 3.2 The first session\n\nMs Patel rates the 11 items on the tablet and asks for more help with her "
        "accommodation and friendships. She chooses those two domains; for each, she and her key worker go "
        "through the four steps and agree actions. They also record the plan's sections, that the plan is "
        "long-term, and her care team: her sister is her carer, and Ms Patel consents to sharing her plan "
        "with her (a Consent the EPR holds). One request carries it all:"
    )
    ratings = b.dialog((4, 5, 3, 2, 4, 5, 3, 5, 5, 4, 6), more_help=("accommodation", "friendships"))
    session = b.session(
        ratings,
        b.value("date", "DateTime", "2026-01-05T09:00:00Z"),
        b.domain(
            "accommodation",
            b.action("Write to the council about the damp, with a photo"),
            b.action("Chase the housing officer if there is no answer in two weeks", "clinician", "2026-01-26"),
        ),
        b.domain(
            "friendships",
            b.action("Go to the Tuesday walking group with my sister", "other", "2026-01-13", "RelatedPerson/sister-1"),
            steps=(
                "My sister visits every week",
                "Having one friend to meet; the smallest step is going out with my sister once",
                "The walking group on Tuesdays; my sister can come the first time",
            ),
        ),
        *b.sections(),
        b.value("longTerm", "Boolean", True),
        b.part("careTeamMember", b.value("role", "Code", "key-worker"), b.reference("member", b.CLINICIAN)),
        b.part(
            "careTeamMember",
            b.value("role", "Code", "carer"),
            b.reference("member", "RelatedPerson/sister-1"),
            b.reference("sharingConsent", "Consent/share-sister-1"),
        ),
    )
    plan = (await send("POST", "/fhir/CarePlan/$dialog-plus-session", session)).json()
    response_ref = plan["supportingInfo"][0]["reference"]

    say(
        "The plan is a draft. The DIALOG was stored, scored, and (as the first for this referral) marked as "
        "the baseline:"
    )
    await send("GET", f"/fhir/Observation?derived-from={response_ref}")

    say(
        "### 3.3 Making the plan active\n\nActivation checks co-production (FR-37). Without Ms Patel's "
        "agreement it is refused:"
    )
    etag = {"If-Match": f'W/"{plan["meta"]["versionId"]}"'}
    await send("POST", f"/fhir/CarePlan/{plan['id']}/$activate", b.parameters(), etag)
    say("She agrees verbally at the end of the session:")
    clock.advance(minutes=45)
    activated = (
        await send(
            "POST",
            f"/fhir/CarePlan/{plan['id']}/$activate",
            b.parameters(b.agreement("2026-01-05T09:45:00Z")),
            etag,
            trim=plan_summary,
        )
    ).json()

    say(
        "### 3.4 The next session, four weeks later\n\nNew ratings come first, then the review of every open "
        "action; a session that adds actions before the open ones are reviewed is refused, naming each one."
    )
    clock.moment = datetime(2026, 2, 2, 10, 55, tzinfo=UTC)
    ids = [a["id"] for a in activated["activity"]]
    etag = {"If-Match": f'W/"{activated["meta"]["versionId"]}"'}
    new_domain = b.domain(
        "mental-health",
        b.action("Try the sleep routine from the leaflet", "person", "2026-02-16"),
        steps=(
            "The voices are quieter since the medication changed",
            "Sleeping through the night; first, going to bed at the same time for a week",
            "A sleep routine leaflet; the GP could review the evening dose",
        ),
    )
    say(
        "This time Ms Patel rated the items in the waiting room, and the tablet recorded the DIALOG on its own "
        "(a `display` in the answer coding is optional). The session then refers to it."
    )
    later = b.dialog((5, 5, 4, 4, 4, 5, 4, 5, 5, 5, 6), authored="2026-02-02T09:50:00Z")
    for group in later["item"]:
        for item in group["item"]:
            for question in item["item"]:
                for answer in question.get("answer", []):
                    answer.get("valueCoding", {}).pop("display", None)
    recorded = (
        await send("POST", "/fhir/QuestionnaireResponse", later, trim=keep("resourceType", "id", "meta"))
    ).json()
    later_ref = f"QuestionnaireResponse/{recorded['id']}"
    say("A session that adds an action before the open ones are reviewed:")
    await send(
        "POST",
        "/fhir/CarePlan/$dialog-plus-session",
        b.session(later_ref, b.review(ids[0]), new_domain, b.agreement("2026-02-02T10:50:00Z")),
        etag,
    )
    say("With every open action reviewed, and her agreement to the revised plan:")
    revised = (
        await send(
            "POST",
            "/fhir/CarePlan/$dialog-plus-session",
            b.session(
                later_ref,
                b.value("date", "DateTime", "2026-02-02T10:00:00Z"),
                b.review(ids[0], "done", "Letter sent; the council inspected on 20 January"),
                b.review(ids[1], "partly", "Repairs booked but not done"),
                b.review(ids[2], "not-done", "Sister was ill; try again"),
                new_domain,
                b.agreement("2026-02-02T10:50:00Z"),
            ),
            etag,
            trim=plan_summary,
        )
    ).json()

    say("### 3.5 The trend for the chart\n\nEach item and both scores over time, with the change from the baseline:")
    await send("GET", "/fhir/Observation/$dialog-trend?subject=Patient/p-1", trim=trend_summary)

    say(
        "### 3.6 Carers reading the plan\n\nHer sister, with sharing consent, reads the plan; another relative "
        "without it is refused:"
    )
    await send(
        "GET",
        f"/fhir/CarePlan/{plan['id']}",
        headers={"X-Continuum-Reader": "RelatedPerson/sister-1"},
        trim=keep("id", "status"),
    )
    await send("GET", f"/fhir/CarePlan/{plan['id']}", headers={"X-Continuum-Reader": "RelatedPerson/cousin-1"})

    say("### 3.7 A review\n\nA review records who took part (Ms Patel must) and sets the next one (FR-42):")
    clock.moment = datetime(2026, 4, 3, 10, 20, tzinfo=UTC)
    reviewed = (
        await send(
            "POST",
            f"/fhir/CarePlan/{plan['id']}/$review",
            b.parameters(
                b.value("date", "DateTime", "2026-04-03T10:00:00Z"),
                b.reference("participant", b.PATIENT),
                b.reference("participant", b.CLINICIAN),
                b.value("outcome", "Code", "continue"),
                b.value("note", "String", "Damp fixed; walking group weekly"),
                b.value("nextReview", "Date", "2026-07-03"),
            ),
            {"If-Match": f'W/"{revised["meta"]["versionId"]}"'},
            trim=keep("id", "meta", "status", "extension", extension=lambda e: [x for x in e if "review" in x["url"]]),
        )
    ).json()

    say(
        "### 3.8 A crisis plan\n\nCreated as a draft with the FR-43 content; the service adds the SNOMED CT "
        "category and the physical-health condition. Activating it makes it the current crisis plan."
    )
    crisis = (await send("POST", "/fhir/CarePlan", b.crisis_plan())).json()
    await send(
        "POST",
        f"/fhir/CarePlan/{crisis['id']}/$activate",
        b.parameters(b.agreement("2026-04-03T10:15:00Z")),
        {"If-Match": 'W/"1"'},
        trim=keep("id", "meta", "status", "category"),
    )
    say("A crisis-line worker reads it (FR-45):")
    await send(
        "GET",
        f"/fhir/CarePlan/{crisis['id']}",
        headers={"X-Continuum-Reader": "PractitionerRole/ncl-crisis-line-worker"},
        trim=keep("id", "status"),
    )

    say(
        "### 3.9 A waiting-support plan\n\nWhen another team accepts a referral onto its waiting list, the "
        "referring team's support is a plan like this one; the referrals service's `$accept` takes "
        "`waitingSupport` = a reference to it."
    )
    await send(
        "POST",
        "/fhir/CarePlan",
        b.waiting_support_plan(),
        trim=keep("resourceType", "id", "status", "category", "author", "activity"),
    )

    say(
        "### 3.10 Discharge\n\nAt the July review Ms Patel and her key worker agree that her goals are "
        "achieved. Completing the plan for that reason needs a pathway back (FR-39):"
    )
    clock.moment = datetime(2026, 7, 3, 11, 0, tzinfo=UTC)
    etag = {"If-Match": f'W/"{reviewed["meta"]["versionId"]}"'}
    await send(
        "POST",
        f"/fhir/CarePlan/{plan['id']}/$complete",
        b.parameters(b.value("reason", "Code", "goals-achieved")),
        etag,
    )
    await send(
        "POST",
        f"/fhir/CarePlan/{plan['id']}/$complete",
        b.parameters(
            b.value("reason", "Code", "goals-achieved"),
            b.part(
                "pathwayBack",
                b.value("reaccess", "String", "Ask your GP or call the Barnet SPA to come back to the team"),
                b.value("contact", "String", "Barnet SPA: 020 0000 0000"),
                b.value("selfReferral", "String", "Self-refer through the Barnet SPA web form"),
                b.value("communityResource", "String", "Tuesday walking group, Barnet Mind"),
            ),
        ),
        etag,
        trim=keep("id", "meta", "status", "period"),
    )

    say(
        "### 3.11 The events sent to the referral clock\n\nWhat the outbox holds for delivery to the gateway, "
        "which passes them to the referrals service:"
    )
    async with app.state.database.session(writing=False) as session_:
        pending = await Outbox(session_, tables.outbox, "careplans").pending()
    guide.parts.append("```json\n" + dumps(pending) + "\n```\n")


async def write_guide() -> str:
    """Run the walk-through on a fresh database and return the guide's text."""
    with tempfile.TemporaryDirectory() as workdir, seeded_ids():
        url = f"sqlite+aiosqlite:///{Path(workdir) / 'careplans.db'}"
        await asyncio.to_thread(upgrade, "careplans", url)
        clock = FixedClock()
        app = create_app(Settings(database_url=url, run_background_tasks=False), clock)
        await publish_definitions(app)
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8082") as client:
                guide = Guide(client)
                guide.say((PROSE / "intro.md").read_text().replace("{items}", item_table()))
                await walk(guide, clock, app)
                guide.say((PROSE / "reference.md").read_text())
        finally:
            await app.state.database.dispose()
    return guide.text()


def main() -> None:
    """Write docs/careplans.md."""
    DOC.write_text(asyncio.run(write_guide()))
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
