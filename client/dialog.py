"""The DIALOG+ session page and the care plan page: HTML and the `$dialog-plus-session` Parameters.

The scale is rendered from the service's own Questionnaire (`Questionnaire/dialog`), so the items,
their order and their answer options are the service's. Everything the service decides (at most
three domains, every domain ending in an action, open actions reviewed before new ones, the
person's agreement) is left to it: the page sends what the clinician entered and shows the
refusal, each problem linked to the field it names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from client.charts import Series, line_chart
from client.gateway import ApiError, parameter, parts
from client.html import ELEMENTS, date_input, e, field, notice, select, tag, text_input, textarea
from client.names import display

LONDON = ZoneInfo("Europe/London")
SD = "https://continuum.example.org/fhir/StructureDefinition"
NOT_ANSWERED = f"{SD}/dialog-item-not-answered"
PERFORMER = f"{SD}/dialog-action-performer"
SESSION = f"{SD}/dialog-plus-session"
SECTION = f"{SD}/careplan-section"
LONG_TERM = f"{SD}/careplan-long-term"
DIALOG_PLUS = "dialog-plus-personalised-plan"
DOMAIN_SLOTS = 3
ACTION_SLOTS = 2
_LINK_ID = re.compile(r"linkId='([^']+)'")
_ACTIVITY = re.compile(r"activity\.where\(id='([^']+)'\)")

NOT_RATED = (("not-applicable", "Not applicable"), ("asked-declined", "Asked, but chose not to answer"))
WHO = (("person", "The person"), ("clinician", "Me (the clinician)"))
OUTCOMES = (("done", "Done"), ("partly", "Partly done"), ("not-done", "Not done"), ("dropped", "Dropped"))
METHODS = (
    ("verbal", "Said so in the session"),
    ("written", "In writing"),
    ("electronic-signature", "Electronic signature"),
    ("dialog-plus-app", "In the DIALOG+ app"),
)
SECTIONS = (
    ("what-matters-to-me", "What matters to me"),
    ("strengths", "My strengths"),
    ("important-people", "People who are important to me"),
    ("cultural-needs", "Cultural, faith and language needs"),
    ("physical-health", "Physical health"),
    ("drug-and-alcohol", "Drugs and alcohol"),
    ("social-goals", "Social goals: work, learning, housing, money"),
)
STEPS = (
    ("understanding", "Understanding: what is going well, what is hard"),
    ("lookingForward", "Looking forward: the best case, and the smallest step towards it"),
    ("exploringOptions", "Exploring options: what the person, the team and others can do"),
)
ACTION_STATUS = {
    "not-started": "Not started",
    "scheduled": "Scheduled",
    "in-progress": "In progress",
    "on-hold": "On hold",
    "completed": "Done",
    "cancelled": "Dropped",
    "stopped": "Stopped",
}
PLAN_STATUS = {"draft": "Draft: not yet agreed", "active": "Active", "completed": "Completed", "revoked": "Replaced"}
CLOSED = ("completed", "cancelled", "stopped", "entered-in-error")
MEANS = {
    "sqol": "Quality of life (mean of the 8 life domains)",
    "treatment-satisfaction": "Treatment satisfaction (mean of the 3 treatment aspects)",
}


@dataclass(frozen=True)
class Item:
    """One DIALOG item as the Questionnaire states it."""

    link_id: str
    text: str
    question: str
    options: tuple[tuple[str, str, str], ...]
    more_help: str


@dataclass(frozen=True)
class Group:
    """A group of items (life domains, treatment aspects)."""

    link_id: str
    text: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Scale:
    """The DIALOG Questionnaire, read for rendering and for building the response."""

    url: str
    groups: tuple[Group, ...]

    def items(self) -> list[Item]:
        """Every item, in the Questionnaire's order."""
        return [item for group in self.groups for item in group.items]


def scale_of(questionnaire: dict[str, Any]) -> Scale:
    """The Questionnaire's groups, items and answer options."""
    groups = []
    for group in questionnaire.get("item", []):
        items = []
        for item in group.get("item", []):
            rating: dict[str, Any] = next((q for q in item.get("item", []) if q.get("type") == "choice"), {})
            helped: dict[str, Any] = next((q for q in item.get("item", []) if q.get("type") == "boolean"), {})
            options = tuple(
                (
                    str(o["valueCoding"].get("system", "")),
                    str(o["valueCoding"]["code"]),
                    str(o["valueCoding"].get("display", "")),
                )
                for o in rating.get("answerOption", [])
                if "valueCoding" in o
            )
            items.append(
                Item(
                    str(item.get("linkId")),
                    str(item.get("text", item.get("linkId"))),
                    str(rating.get("text", "")),
                    options,
                    str(helped.get("text", "Do you need more help in this area?")),
                )
            )
        groups.append(Group(str(group.get("linkId")), str(group.get("text", "")), tuple(items)))
    return Scale(str(questionnaire.get("url", "")), tuple(groups))


# ------------------------------------------------------------------ reading a plan


def _ext(element: dict[str, Any], url: str) -> list[dict[str, Any]]:
    return [x for x in element.get("extension", []) if x.get("url") == url]


def _value(element: dict[str, Any]) -> Any:
    return next((v for k, v in element.items() if k.startswith("value")), None)


def _sub(element: dict[str, Any], url: str) -> Any:
    found = _ext(element, url)
    return _value(found[0]) if found else None


def is_action(activity: dict[str, Any]) -> bool:
    """A DIALOG+ agreed action (not another kind of plan activity)."""
    codings = activity.get("detail", {}).get("code", {}).get("coding", [])
    return any(c.get("code") == "dialog-plus-action" for c in codings)


def open_actions(plan: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The plan's agreed actions that are not closed, to review at this session."""
    if not plan:
        return []
    return [
        a
        for a in plan.get("activity", [])
        if is_action(a) and a.get("detail", {}).get("status") not in CLOSED and a.get("id")
    ]


def _domain_of(activity: dict[str, Any]) -> str:
    for concept in activity.get("detail", {}).get("reasonCode", []):
        for coding in concept.get("coding", []):
            if coding.get("display"):
                return str(coding["display"])
    return ""


def _who(detail: dict[str, Any], people: dict[str, str]) -> str:
    kind = _sub(detail, PERFORMER)
    performer = (detail.get("performer") or [None])[0]
    name = display(performer, people) if performer else ""
    if kind == "person":
        return f"The person ({name})" if name else "The person"
    return name or str(kind or "")


def short_date(value: Any) -> str:
    """`2026-01-19` or a dateTime as "19 Jan 2026"."""
    text = str(value or "")
    try:
        return datetime.fromisoformat(text[:10]).strftime("%-d %b %Y")
    except ValueError:
        return text


# ------------------------------------------------------------------ the session form


def _rating_fieldset(item: Item, form: dict[str, str]) -> str:
    chosen = form.get(f"rating-{item.link_id}", "")
    radios = []
    for _, code, words in item.options:
        rid = f"rating-{item.link_id}-{code}"
        checked = " checked" if chosen == code else ""
        radios.append(
            f'<div class="app-radio"><input type="radio" id="{e(rid)}" name="rating-{e(item.link_id)}" '
            f'value="{e(code)}"{checked}><label for="{e(rid)}"><strong>{e(code)}</strong> {e(words)}</label></div>'
        )
    for code, words in NOT_RATED:
        rid = f"rating-{item.link_id}-{code}"
        checked = " checked" if chosen == code else ""
        radios.append(
            f'<div class="app-radio app-radio--aside"><input type="radio" id="{e(rid)}" '
            f'name="rating-{e(item.link_id)}" value="{e(code)}"{checked}><label for="{e(rid)}">{e(words)}</label></div>'
        )
    hid = f"help-{item.link_id}"
    helped = " checked" if form.get(hid) == "yes" else ""
    return (
        f'<fieldset class="app-fieldset app-rating" id="rating-{e(item.link_id)}">'
        f'<legend class="app-legend">{e(item.text)}: {e(item.question)}</legend>'
        f'<div class="app-radios">{"".join(radios)}</div>'
        f'<div class="app-checkbox"><input type="checkbox" id="{e(hid)}" name="{e(hid)}" value="yes"{helped}>'
        f'<label for="{e(hid)}">{e(item.more_help)}</label></div></fieldset>'
    )


def _domain_fieldset(n: int, scale: Scale, form: dict[str, str]) -> str:
    prefix = f"domain{n}"
    options = [(item.link_id, item.text) for item in scale.items()]
    inner = field(
        "Domain",
        f"{prefix}-item",
        select(f"{prefix}-item", f"{prefix}-item", options, form.get(f"{prefix}-item", ""), "Not discussed"),
    )
    for name, label in STEPS:
        fid = f"{prefix}-{name}"
        inner += field(label, fid, textarea(fid, fid, form.get(fid, "")))
    for m in range(1, ACTION_SLOTS + 1):
        a = f"{prefix}-action{m}"
        inner += (
            f'<fieldset class="app-fieldset app-action"><legend class="app-legend">Agreed action {m}</legend>'
            + field(
                "What will be done",
                f"{a}-description",
                text_input(f"{a}-description", f"{a}-description", form.get(f"{a}-description", "")),
            )
            + field("Who does it", f"{a}-who", select(f"{a}-who", f"{a}-who", WHO, form.get(f"{a}-who", "person")))
            + field(
                "By when",
                f"{a}-by",
                date_input(f"{a}-by", f"{a}-by", form.get(f"{a}-by", "")),
            )
            + "</fieldset>"
        )
    return (
        f'<fieldset class="app-fieldset app-domain" id="{prefix}"><legend class="app-legend">'
        f"Domain {n} to discuss</legend>{inner}</fieldset>"
    )


def _review_rows(actions: list[dict[str, Any]], form: dict[str, str], people: dict[str, str]) -> str:
    if not actions:
        return "<p>There are no open actions from earlier sessions.</p>"
    rows = []
    for activity in actions:
        detail = activity.get("detail", {})
        aid = str(activity["id"])
        progress = "".join(f"<li>{e(p.get('text', ''))}</li>" for p in activity.get("progress", []))
        rows.append(
            f'<fieldset class="app-fieldset app-review" id="review-{e(aid)}">'
            f'<legend class="app-legend">{e(detail.get("description", ""))}</legend>'
            f'<p class="app-hint">{e(_domain_of(activity))} · {e(_who(detail, people))} · by '
            f"{e(short_date(detail.get('scheduledPeriod', {}).get('end')))} · "
            f"{e(ACTION_STATUS.get(detail.get('status', ''), detail.get('status', '')))}</p>"
            + (f'<ul class="app-progress">{progress}</ul>' if progress else "")
            + field(
                "How did it go?",
                f"review-{aid}-outcome",
                select(
                    f"review-{aid}-outcome",
                    f"review-{aid}-outcome",
                    OUTCOMES,
                    form.get(f"review-{aid}-outcome", ""),
                    "Not reviewed yet",
                ),
            )
            + field(
                "Note",
                f"review-{aid}-note",
                text_input(f"review-{aid}-note", f"review-{aid}-note", form.get(f"review-{aid}-note", "")),
            )
            + "</fieldset>"
        )
    return "".join(rows)


def session_form(
    scale: Scale,
    action: str,
    hidden: str,
    plan: dict[str, Any] | None,
    form: dict[str, str],
    people: dict[str, str],
) -> str:
    """The four parts of a DIALOG+ session, in the order they happen, as one form."""
    groups = "".join(
        f"<h3>{e(group.text)}</h3>{''.join(_rating_fieldset(item, form) for item in group.items)}"
        for group in scale.groups
    )
    ratings = (
        '<section aria-labelledby="ratings-h"><h2 id="ratings-h">1. The person rates their satisfaction</h2>'
        "<p>Ask each question as it is written. 1 is totally dissatisfied, 7 totally satisfied.</p>"
        f"{groups}</section>"
    )
    review = (
        '<section aria-labelledby="review-h"><h2 id="review-h">2. Review the actions from last time</h2>'
        f"{_review_rows(open_actions(plan), form, people)}</section>"
    )
    domains = (
        '<section aria-labelledby="domains-h"><h2 id="domains-h">3. Choose up to three domains and agree actions</h2>'
        "<p>Go through the four steps for each domain the person chooses: understanding, looking forward, "
        "exploring options, and agreeing actions.</p>"
        + "".join(_domain_fieldset(n, scale, form) for n in range(1, DOMAIN_SLOTS + 1))
        + "</section>"
    )
    sections = "".join(
        field(label, f"section-{code}", textarea(f"section-{code}", f"section-{code}", form.get(f"section-{code}", "")))
        for code, label in SECTIONS
    )
    long_term = " checked" if form.get("longTerm") == "yes" else ""
    plan_content = (
        '<section aria-labelledby="plan-h"><h2 id="plan-h">4. The plan and the person\'s agreement</h2>'
        '<details class="app-details"><summary>Sections of the care plan (each is needed before the plan '
        'can be made active; "none identified" is an answer)</summary>'
        f"{sections}"
        f'<div class="app-checkbox"><input type="checkbox" id="longTerm" name="longTerm" value="yes"{long_term}>'
        '<label for="longTerm">The plan is long-term (no planned end date)</label></div></details>'
        + field(
            "How the person agreed with the plan",
            "agreement-method",
            select("agreement-method", "agreement-method", METHODS, form.get("agreement-method", ""), "Not agreed yet"),
            "Record the person's agreement at the end of the session, in their own way.",
        )
        + "</section>"
    )
    return (
        f'<form method="post" action="{e(action)}" novalidate>{hidden}{ratings}{review}{domains}{plan_content}'
        '<button class="app-button" type="submit">Save the session</button></form>'
    )


# ------------------------------------------------------------------ the Parameters


@dataclass
class Built:
    """A `$dialog-plus-session` body, and where each of its parts came from on the form."""

    parameters: list[dict[str, Any]]
    fields: dict[str, tuple[str, str]]


def _where(name: str, index: int | None = None) -> str:
    return f"Parameters.parameter.where(name='{name}')" + (f"[{index}]" if index is not None else "")


def _part(prefix: str, name: str, index: int | None = None) -> str:
    return f"{prefix}.part.where(name='{name}')" + (f"[{index}]" if index is not None else "")


def _response(scale: Scale, form: dict[str, str], patient: str, referral: str, now: str) -> dict[str, Any]:
    groups = []
    for group in scale.groups:
        items = []
        for item in group.items:
            chosen = form.get(f"rating-{item.link_id}", "")
            element: dict[str, Any] = {"linkId": item.link_id, "item": []}
            option = next((o for o in item.options if o[1] == chosen), None)
            if option is not None:
                coding = {"system": option[0], "code": option[1], "display": option[2]}
                element["item"].append({"linkId": f"{item.link_id}.satisfaction", "answer": [{"valueCoding": coding}]})
            elif chosen in dict(NOT_RATED):
                element["extension"] = [{"url": NOT_ANSWERED, "valueCode": chosen}]
            helped = form.get(f"help-{item.link_id}") == "yes"
            element["item"].append({"linkId": f"{item.link_id}.more-help", "answer": [{"valueBoolean": helped}]})
            items.append(element)
        groups.append({"linkId": group.link_id, "item": items})
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": scale.url,
        "status": "completed",
        "subject": {"reference": patient},
        "authored": now,
        "item": groups,
    }
    if referral:
        response["basedOn"] = [{"reference": referral}]
    return response


def session_parameters(
    scale: Scale,
    form: dict[str, str],
    *,
    episode: str,
    patient: str,
    referral: str,
    clinician: str,
    open_ids: list[str],
    now: str,
) -> Built:
    """The `$dialog-plus-session` Parameters for what the clinician entered (nothing left out, nothing added)."""
    out: list[dict[str, Any]] = [
        {"name": "episode", "valueReference": {"reference": episode}},
        {"name": "clinician", "valueReference": {"reference": clinician}},
        {"name": "response", "resource": _response(scale, form, patient, referral, now)},
        {"name": "date", "valueDateTime": now},
    ]
    fields: dict[str, tuple[str, str]] = {}
    labels = {item.link_id: item.text for item in scale.items()}
    for item in scale.items():
        fields[f"linkId:{item.link_id}"] = (f"rating-{item.link_id}", item.text)
    reviews = 0
    for aid in open_ids:
        outcome = form.get(f"review-{aid}-outcome", "")
        if not outcome:
            fields[f"activity:{aid}"] = (f"review-{aid}-outcome", "How did it go?")
            continue
        where = _where("review", reviews)
        review: list[dict[str, Any]] = [
            {"name": "action", "valueString": aid},
            {"name": "outcome", "valueCode": outcome},
        ]
        if form.get(f"review-{aid}-note"):
            review.append({"name": "note", "valueString": form[f"review-{aid}-note"]})
        out.append({"name": "review", "part": review})
        fields[where] = (f"review-{aid}-outcome", "Review")
        fields[_part(where, "note")] = (f"review-{aid}-note", "Review note")
        fields[f"activity:{aid}"] = (f"review-{aid}-outcome", "How did it go?")
        reviews += 1
    domains = 0
    for n in range(1, DOMAIN_SLOTS + 1):
        prefix = f"domain{n}"
        chosen = form.get(f"{prefix}-item", "")
        steps = {name: form.get(f"{prefix}-{name}", "") for name, _ in STEPS}
        actions = []
        for m in range(1, ACTION_SLOTS + 1):
            a = f"{prefix}-action{m}"
            if form.get(f"{a}-description") or form.get(f"{a}-by"):
                actions.append((a, form.get(f"{a}-description", ""), form.get(f"{a}-who", ""), form.get(f"{a}-by", "")))
        if not chosen and not any(steps.values()) and not actions:
            continue
        where = _where("domain", domains)
        label = f"Domain {n}" + (f" ({labels.get(chosen, chosen)})" if chosen else "")
        fields[where] = (f"{prefix}-item", label)
        domain: list[dict[str, Any]] = []
        if chosen:
            domain.append({"name": "item", "valueCode": chosen})
        fields[_part(where, "item")] = (f"{prefix}-item", f"{label}: domain")
        for name, step_label in STEPS:
            if steps[name]:
                domain.append({"name": name, "valueString": steps[name]})
            fields[_part(where, name)] = (f"{prefix}-{name}", f"{label}: {step_label.split(':')[0]}")
        for index, (a, description, who, by) in enumerate(actions):
            action: list[dict[str, Any]] = []
            if description:
                action.append({"name": "description", "valueString": description})
            if who:
                action.append({"name": "who", "valueCode": who})
            if by:
                action.append({"name": "by", "valueDate": by})
            domain.append({"name": "action", "part": action})
            at = _part(where, "action", index)
            fields[at] = (f"{a}-description", f"{label}: action {index + 1}")
            fields[_part(at, "description")] = (f"{a}-description", f"{label}: what will be done")
            fields[_part(at, "who")] = (f"{a}-who", f"{label}: who does it")
            fields[_part(at, "by")] = (f"{a}-by", f"{label}: by when")
        fields[_part(where, "action")] = (f"{prefix}-action1-description", f"{label}: agreed actions")
        out.append({"name": "domain", "part": domain})
        domains += 1
    sections = 0
    for code, label in SECTIONS:
        text = form.get(f"section-{code}", "")
        if text:
            where = _where("section", sections)
            out.append(
                {
                    "name": "section",
                    "part": [{"name": "code", "valueCode": code}, {"name": "text", "valueString": text}],
                }
            )
            fields[where] = (f"section-{code}", label)
            sections += 1
    if form.get("longTerm") == "yes":
        out.append({"name": "longTerm", "valueBoolean": True})
    if form.get("agreement-method"):
        agreement = [{"name": "when", "valueDateTime": now}, {"name": "method", "valueCode": form["agreement-method"]}]
        out.append({"name": "agreement", "part": agreement})
    fields[_where("agreement")] = ("agreement-method", "How the person agreed with the plan")
    return Built(out, fields)


def locate(element: str | None, fields: dict[str, tuple[str, str]]) -> tuple[str, str] | None:
    """The form field an issue's FHIRPath names: an operation part, a rated item or an open action."""
    if not element:
        return None
    found = [path for path in fields if ":" not in path.split("(")[0] and element.startswith(path)]
    if found:
        return fields[max(found, key=len)]
    activity = _ACTIVITY.search(element)
    if activity and f"activity:{activity.group(1)}" in fields:
        return fields[f"activity:{activity.group(1)}"]
    for link_id in reversed(_LINK_ID.findall(element)):
        if f"linkId:{link_id.split('.')[0]}" in fields:
            return fields[f"linkId:{link_id.split('.')[0]}"]
    return None


def refusal(error: ApiError, summary: str, fields: dict[str, tuple[str, str]]) -> str:
    """The service's refusal in plain words, each problem linked to the field it concerns."""
    items = []
    for problem in error.problems:
        spot = locate(problem.element, fields)
        where = f' <a href="#{e(spot[0])}">{e(spot[1])}</a>:' if spot else ""
        if not spot and problem.element in ELEMENTS:
            where = f" <strong>{e(ELEMENTS[problem.element or ''])}</strong>:"
        items.append(f"<li>{where} {e(problem.text)}</li>")
    return (
        '<div class="error-summary" role="alert" tabindex="-1" aria-labelledby="error-summary-title">'
        f'<h2 id="error-summary-title">There is a problem</h2><p>{e(summary)}</p>'
        f'<ul class="error-list">{"".join(items)}</ul></div>'
    )


# ------------------------------------------------------------------ the plan and the chart


@dataclass(frozen=True)
class Trend:
    """`$dialog-trend`: the session times and each series' values at them."""

    times: tuple[str, ...]
    series: dict[str, tuple[str, tuple[float | None, ...], float | None]]


def trend_of(answer: dict[str, Any]) -> Trend:
    """The series of a `$dialog-trend` answer, aligned on the times of the DIALOGs."""
    raw: dict[str, tuple[str, dict[str, float], float | None]] = {}
    times: set[str] = set()
    for p in answer.get("parameter", []):
        if p.get("name") != "series":
            continue
        found = parts(p)
        points: dict[str, float] = {}
        for point in (q for q in p.get("part", []) if q.get("name") == "point"):
            values = parts(point)
            if values.get("time") is not None and values.get("value") is not None:
                points[str(values["time"])] = float(values["value"])
                times.add(str(values["time"]))
        baseline = found.get("baseline")
        raw[str(found.get("code"))] = (
            str(found.get("display", found.get("code"))),
            points,
            float(baseline) if baseline is not None else None,
        )
    ordered = tuple(sorted(times))
    return Trend(
        ordered,
        {code: (label, tuple(points.get(t) for t in ordered), base) for code, (label, points, base) in raw.items()},
    )


def _session_labels(times: tuple[str, ...]) -> tuple[str, ...]:
    """Each DIALOG's date; with the London time on a second line when two fall on one day."""
    labels = [short_date(t) for t in times]
    for clock in ("%H:%M", "%H:%M:%S"):
        if len(set(labels)) == len(labels):
            break
        labels = [f"{short_date(t)}\n{_london(t, clock)}" for t in times]
    return tuple(labels)


def _london(instant: str, clock: str) -> str:
    try:
        return datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(LONDON).strftime(clock)
    except ValueError:
        return instant[11:19]


def charts(trend: Trend, scale: Scale) -> str:
    """The two means over time, then one small chart per item, and the same numbers as a table."""
    if not trend.times:
        return "<p>No DIALOG has been recorded for this person yet.</p>"
    labels = _session_labels(trend.times)
    means = [
        Series(MEANS[code], trend.series[code][1], trend.series[code][2]) for code in MEANS if code in trend.series
    ]
    main = line_chart(
        "chart-means",
        "DIALOG mean scores over sessions",
        labels,
        means,
        height=340,
        caption="Score from 1 (totally dissatisfied) to 7 (totally satisfied), by session",
    )
    small = []
    for item in scale.items():
        if item.link_id not in trend.series:
            continue
        label, values, baseline = trend.series[item.link_id]
        small.append(
            line_chart(
                f"chart-{item.link_id}", item.text, labels, [Series(label, values, baseline)], width=340, height=210
            )
        )
    head = "".join(f'<th scope="col">{e(label)}</th>' for label in labels)
    rows = []
    for code in [*MEANS, *(item.link_id for item in scale.items())]:
        if code in trend.series:
            label, values, baseline = trend.series[code]
            cells = "".join(f"<td>{'' if v is None else e(f'{v:g}')}</td>" for v in values)
            rows.append(f'<tr><th scope="row">{e(MEANS.get(code, label))}</th>{cells}</tr>')
    table = (
        '<details class="app-details"><summary>The scores as a table</summary>'
        '<table class="app-table"><caption>DIALOG scores by session (the first is the baseline)</caption>'
        f'<thead><tr><th scope="col">Score</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></details>'
    )
    return (
        f'<figure class="app-figure">{main}<figcaption>The dotted lines mark the baseline, the first '
        "DIALOG.</figcaption></figure>"
        f'<h3>Each item</h3><div class="app-small-multiples">{"".join(small)}</div>{table}'
    )


def plan_summary(plan: dict[str, Any], people: dict[str, str], items: dict[str, str]) -> tuple[str, str]:
    """The plan: its state (shown first), then what was discussed at each session, the agreed actions
    and the sections."""
    status = str(plan.get("status", ""))
    state = tag(PLAN_STATUS.get(status, status), "app-tag--orange" if status == "draft" else "")
    details = (
        '<dl class="app-summary">'
        f"<dt>Person</dt><dd>{e(display(plan.get('subject'), people))}</dd>"
        f"<dt>State</dt><dd>{state} (version {e(plan.get('meta', {}).get('versionId', ''))})</dd>"
        f"<dt>Started</dt><dd>{e(short_date(plan.get('period', {}).get('start')))}</dd>"
        f"<dt>Written by</dt><dd>{e(display(plan.get('author'), people))}</dd>"
        f"<dt>Agreed by</dt><dd>{e(', '.join(display(c, people) for c in plan.get('contributor', [])))}</dd></dl>"
    )
    sessions = []
    for ext in _ext(plan, SESSION):
        domains = []
        for domain in _ext(ext, "domain"):
            steps = "".join(
                f"<dt>{e(label.split(':')[0])}</dt><dd>{e(_sub(domain, url))}</dd>"
                for url, label in zip(
                    ("understanding", "looking-forward", "exploring-options"), (s[1] for s in STEPS), strict=True
                )
                if _sub(domain, url)
            )
            item = str(_sub(domain, "item") or "")
            domains.append(f'<h4>{e(items.get(item, item))}</h4><dl class="app-summary">{steps}</dl>')
        sessions.append(
            f"<li><strong>{e(short_date(_sub(ext, 'date')))}</strong> with "
            f"{e(display(_sub(ext, 'clinician'), people))}"
            f"{''.join(domains) if domains else '<p>No domain was chosen.</p>'}</li>"
        )
    rows = []
    for activity in plan.get("activity", []):
        if not is_action(activity):
            continue
        detail = activity.get("detail", {})
        progress = "; ".join(str(p.get("text", "")) for p in activity.get("progress", []))
        status_code = str(detail.get("status", ""))
        rows.append(
            f"<tr><td>{e(detail.get('description', ''))}</td><td>{e(_domain_of(activity))}</td>"
            f"<td>{e(_who(detail, people))}</td><td>{e(short_date(detail.get('scheduledPeriod', {}).get('end')))}</td>"
            f"<td>{e(ACTION_STATUS.get(status_code, status_code))}</td><td>{e(progress)}</td></tr>"
        )
    actions = (
        '<table class="app-table"><caption>Agreed actions</caption><thead><tr><th scope="col">What</th>'
        '<th scope="col">Domain</th><th scope="col">Who</th><th scope="col">By</th><th scope="col">Status</th>'
        f'<th scope="col">Review notes</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
        if rows
        else "<p>No actions have been agreed yet.</p>"
    )
    written = {str(_sub(x, "code")): str(_sub(x, "text")) for x in _ext(plan, SECTION)}
    sections = "".join(f"<dt>{e(label)}</dt><dd>{e(written[code])}</dd>" for code, label in SECTIONS if code in written)
    return details, (
        f"<h2>Actions</h2>{actions}"
        + f'<h2>Sessions</h2><ol class="app-sessions">{"".join(sessions)}</ol>'
        + (f'<h2>Sections</h2><dl class="app-summary">{sections}</dl>' if sections else "")
    )


def activation_form(action: str, hidden: str, form: dict[str, str]) -> str:
    """Make a draft plan active, with the person's agreement (the service checks co-production)."""
    return (
        '<section aria-labelledby="activate-h"><h2 id="activate-h">Make the plan active</h2>'
        f'<form method="post" action="{e(action)}" novalidate>{hidden}'
        + field(
            "How the person agreed with the plan",
            "activate-method",
            select("method", "activate-method", METHODS, form.get("method", ""), "Not agreed yet"),
        )
        + '<button class="app-button" type="submit">Make the plan active</button></form></section>'
    )


def done_notice(text: str) -> str:
    """A confirmation after a session or an activation."""
    return notice(text)


def score_words(answer: dict[str, Any]) -> str:
    """How many DIALOGs there are for the person (from the trend)."""
    measures = parameter(answer, "measures")
    return f"{measures} DIALOG{'s' if measures != 1 else ''} recorded." if measures is not None else ""
