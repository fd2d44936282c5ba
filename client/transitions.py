"""The transitions pages: the worklist, and a case page that walks the five phases.

Which step forms a phase shows follows docs/transitions.md (section 4.2); whether a step is allowed,
and everything it needs, is the transitions service's to decide. Each form posts to the step's
named operation on the case Task with `If-Match` on the version the page showed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from client import vocabulary as words
from client.html import date_input, e, field, select, tag, text_input, textarea
from client.names import display

LONDON = ZoneInfo("Europe/London")
"""The partnership's clock: a meeting "at 10:00" is 10:00 in London."""

PHASES: tuple[tuple[str, str], ...] = (
    ("pre-transition-discussion", "Pre-transition discussion (before 17½)"),
    ("support-decision", "Agree whether support with the transition is needed"),
    ("transition-planning", "Multi-agency meeting; the plan shared and agreed by the young person"),
    ("plan-actioning", "The plan actioned (at 18 or an agreed alternative time)"),
    ("evaluation", "Feedback and the effectiveness review"),
)
ENDED = {"closed": "Closed after evaluation", "not-needed": "Closed: transition support not needed"}

DESTINATION_KINDS = (
    ("adult-core-cmht", "Adult core community mental health team"),
    ("intensive-team", "Intensive (specialist) adult team"),
    ("young-adult-service", "Young adult service"),
    ("transitions-clinical-service", "Transitions clinical service"),
    ("remain-in-cyp-0-25", "Remain in a 0 to 25 children and young people's service"),
)
CLINICAL_REASONS = (
    ("does-not-meet-adult-eligibility", "Does not meet adult services' eligibility"),
    ("lost-confidence-with-traditional-support", "Has lost confidence in traditional support"),
)
AGREEMENT = (("agreed", "Agreed with the plan"), ("disagreed", "Did not agree with the plan"))
RESPONDENTS = (
    ("young-person", "The young person"),
    ("family-carer", "Family or carer"),
    ("referring-worker", "The referring worker"),
    ("adult-team", "The adult team"),
)
EXPERIENCE = (("positive", "Positive"), ("mixed", "Mixed"), ("negative", "Negative"))
EFFECTIVENESS = (
    ("effective", "Effective"),
    ("partly-effective", "Partly effective"),
    ("not-effective", "Not effective"),
)


@dataclass(frozen=True)
class Input:
    """One parameter of a step as a form field.

    kind: `date` (valueDate), `datetime` (valueDateTime, London time on the form), `text`, `textarea`
    (valueString), `yesno` (valueBoolean), `tick` (valueBoolean true when ticked), `code` (valueCode
    from `options`), `people` (the young person, the referring worker and you, as references;
    `agencies` adds agencies by name), `young-person` (a tick naming the young person), `me` (you),
    `destination` (parts kind, service, reason)."""

    name: str
    label: str
    kind: str
    options: tuple[tuple[str, str], ...] = ()
    hint: str = ""
    agencies: bool = False


@dataclass(frozen=True)
class Step:
    """A named operation on the case Task, with its form."""

    op: str
    title: str
    button: str
    inputs: tuple[Input, ...]


STEPS: dict[str, tuple[Step, ...]] = {
    "pre-transition-discussion": (
        Step(
            "record-discussion",
            "Record the pre-transition discussion",
            "Record the discussion",
            (
                Input(
                    "date",
                    "Date of the discussion",
                    "date",
                    hint="Not in the future. On or after the 17½ deadline it is recorded as late.",
                ),
                Input("participant", "Who took part", "people"),
                Input("note", "Note", "textarea"),
            ),
        ),
    ),
    "support-decision": (
        Step(
            "decide-support",
            "Is support with the transition needed?",
            "Record the decision",
            (
                Input("supportNeeded", "Support with the transition is needed", "yesno"),
                Input("agreedBy", "Agreed by", "people", hint="The young person and a worker agree it together."),
                Input("reason", "Why support is not needed", "textarea", hint="Only when it is not needed."),
            ),
        ),
    ),
    "not-needed": (
        Step(
            "reopen", "Reopen the case", "Reopen at phase 2", (Input("reason", "Why the case is reopened", "textarea"),)
        ),
    ),
    "transition-planning": (
        Step(
            "record-meeting",
            "Record the multi-agency transition meeting",
            "Record the meeting",
            (
                Input("date", "When the meeting took place", "datetime"),
                Input(
                    "invitee",
                    "Invited",
                    "people",
                    hint="The young person's referring worker must be invited.",
                    agencies=True,
                ),
                Input("attendee", "Attended", "people", agencies=True),
                Input(
                    "destination",
                    "Where the young person goes next",
                    "destination",
                    hint="Needed at the first meeting.",
                ),
                Input("summary", "Summary of the plan", "textarea"),
                Input("note", "Note", "textarea"),
            ),
        ),
        Step(
            "share-plan",
            "Share the plan with the young person",
            "Record that the plan was shared",
            (Input("date", "When it was shared", "datetime"),),
        ),
        Step(
            "record-agreement",
            "The young person's decision on the plan",
            "Record the decision",
            (
                Input("decision", "Decision", "code", AGREEMENT),
                Input("decidedBy", "The young person made this decision", "young-person"),
                Input("note", "Note", "textarea"),
            ),
        ),
    ),
    "plan-actioning": (
        Step(
            "set-action-date",
            "Agree an alternative time to action the plan",
            "Record the agreed time",
            (
                Input("date", "Date to action the plan", "date"),
                Input("agreedBy", "Agreed by", "people", hint="Agreed with the young person."),
                Input("rationale", "Why this time", "textarea"),
            ),
        ),
        Step(
            "action-plan",
            "Action the plan (send the referrals it names)",
            "Action the plan",
            (Input("cypSummary", "Summary of the young person's care in children's services", "textarea"),),
        ),
    ),
    "evaluation": (
        Step(
            "record-feedback",
            "Record feedback on the transition",
            "Record the feedback",
            (
                Input("respondent", "Whose feedback", "code", RESPONDENTS),
                Input("experience", "Their experience", "code", EXPERIENCE),
                Input("comment", "In their words", "textarea"),
                Input("declined", "They chose not to give feedback", "tick"),
            ),
        ),
        Step(
            "record-handover",
            "Record the handover to adult care",
            "Record the handover",
            (
                Input("cypEnd", "Last day of care in children's services", "date"),
                Input("adultStart", "First day of adult care", "date"),
                Input("rationale", "Why there is a gap (when there is one)", "textarea"),
            ),
        ),
        Step(
            "record-alternative",
            "An alternative after a declined referral",
            "Record the alternative",
            (
                Input("destination", "Alternative destination", "destination"),
                Input("choice", "Or: the young person's own choice", "textarea"),
                Input("decidedBy", "The young person made this choice", "young-person"),
            ),
        ),
        Step(
            "review",
            "Review the plan's effectiveness",
            "Record the review",
            (
                Input("outcome", "Outcome", "code", EFFECTIVENESS),
                Input("reviewer", "Reviewer", "me"),
                Input("actions", "Actions to take (unless effective)", "textarea"),
            ),
        ),
        Step("close", "Close the case", "Close the case", (Input("note", "Note", "textarea"),)),
    ),
}

STEP_BY_OP = {step.op: step for steps in STEPS.values() for step in steps}


@dataclass(frozen=True)
class Who:
    """The people a step's "who" fields offer: the young person, the referring worker and you."""

    patient: str
    patient_name: str
    worker: str
    me: str

    def people(self) -> list[tuple[str, str]]:
        """(reference, label) for each, without repeats."""
        found = [(self.patient, f"The young person ({self.patient_name})")]
        if self.worker and self.worker != self.me:
            found.append((self.worker, f"The referring worker ({display(self.worker)})"))
        found.append((self.me, f"You ({display(self.me)})"))
        return found


def phase_of(task: dict[str, Any]) -> str:
    """The case's phase code."""
    codings = task.get("businessStatus", {}).get("coding", [])
    return str(codings[0].get("code", "")) if codings else ""


def phase_text(code: str) -> str:
    """A phase in words, with its number."""
    for number, (phase, text) in enumerate(PHASES, start=1):
        if phase == code:
            return f"Phase {number} of 5: {text}"
    return ENDED.get(code, code)


def progress(code: str) -> str:
    """The five phases, each marked done, current or to come (text, not colour alone)."""
    codes = [c for c, _ in PHASES]
    current = codes.index(code) if code in codes else (len(codes) if code == "closed" else 1)
    items = []
    for number, (phase, text) in enumerate(PHASES, start=1):
        index = number - 1
        if index < current:
            state, aria = tag("Done", "app-tag--green"), ""
        elif index == current:
            state, aria = tag("Current phase", "app-tag--blue"), ' aria-current="step"'
        else:
            state, aria = tag("To come", ""), ""
        items.append(f'<li{aria} class="app-phase" data-phase="{e(phase)}">{e(text)} {state}</li>')
    return f'<ol class="app-phases" aria-label="The five phases">{"".join(items)}</ol>'


def _now_local() -> str:
    return datetime.now(LONDON).strftime("%Y-%m-%dT%H:%M")


def _today() -> str:
    return datetime.now(LONDON).date().isoformat()


def _people_boxes(fid: str, name: str, who: Who, form: dict[str, str], agencies: bool) -> str:
    boxes = []
    for index, (reference, label) in enumerate(who.people()):
        bid = f"{fid}-{index}"
        key = f"{name}-{index}"
        checked = " checked" if form.get(key) == reference or (not form and index < 2) else ""
        boxes.append(
            f'<div class="app-checkbox"><input type="checkbox" id="{e(bid)}" name="{e(key)}" value="{e(reference)}"'
            f'{checked}><label for="{e(bid)}">{e(label)}</label></div>'
        )
    extra = ""
    if agencies:
        aid = f"{fid}-agencies"
        extra = field(
            "Other agencies (one per line)",
            aid,
            textarea(f"{name}-agencies", aid, form.get(f"{name}-agencies", "")),
            "For example: Barnet Virtual School (education).",
        )
    return f'<div id="{e(fid)}">{"".join(boxes)}</div>{extra}'


def _control(step: Step, item: Input, who: Who, form: dict[str, str]) -> str:
    fid = f"{step.op}-{item.name}"
    value = form.get(item.name, "")
    if item.kind == "date":
        return field(
            item.label,
            fid,
            date_input(item.name, fid, value or _today()),
            item.hint,
        )
    if item.kind == "datetime":
        return field(
            item.label,
            fid,
            date_input(item.name, fid, value or _now_local(), "datetime-local"),
            item.hint or "London time; not in the future.",
        )
    if item.kind == "text":
        return field(item.label, fid, text_input(item.name, fid, value), item.hint)
    if item.kind == "textarea":
        return field(item.label, fid, textarea(item.name, fid, value), item.hint)
    if item.kind == "code":
        return field(item.label, fid, select(item.name, fid, item.options, value, "Choose"), item.hint)
    if item.kind in ("yesno", "tick", "young-person"):
        if item.kind == "yesno":
            radios = "".join(
                f'<div class="app-radio"><input type="radio" id="{e(fid)}-{v}" name="{e(item.name)}" value="{v}"'
                f'{" checked" if value == v else ""}><label for="{e(fid)}-{v}">{label}</label></div>'
                for v, label in (("yes", "Yes"), ("no", "No"))
            )
            return (
                f'<fieldset class="app-fieldset" id="{e(fid)}"><legend class="app-legend">{e(item.label)}</legend>'
                f"{radios}</fieldset>"
            )
        checked = " checked" if value == "yes" else ""
        return (
            f'<div class="form-group app-checkbox"><input type="checkbox" id="{e(fid)}" name="{e(item.name)}" '
            f'value="yes"{checked}><label for="{e(fid)}">{e(item.label)}</label></div>'
        )
    if item.kind == "people":
        return (
            f'<fieldset class="app-fieldset"><legend class="app-legend">{e(item.label)}</legend>'
            + (f'<div class="app-hint">{e(item.hint)}</div>' if item.hint else "")
            + _people_boxes(fid, item.name, who, form, item.agencies)
            + "</fieldset>"
        )
    if item.kind == "me":
        return f'<p id="{e(fid)}"><strong>{e(item.label)}:</strong> {e(display(who.me))}</p>'
    if item.kind == "destination":
        teams = sorted(((t, words.team_name(t)) for t, _ in words.destinations()), key=lambda p: p[1])
        return (
            f'<fieldset class="app-fieldset" id="{e(fid)}"><legend class="app-legend">{e(item.label)}</legend>'
            + (f'<div class="app-hint">{e(item.hint)}</div>' if item.hint else "")
            + field(
                "Kind of service",
                f"{fid}-kind",
                select(
                    f"{item.name}-kind", f"{fid}-kind", DESTINATION_KINDS, form.get(f"{item.name}-kind", ""), "None"
                ),
            )
            + field(
                "Team",
                f"{fid}-service",
                select(
                    f"{item.name}-service",
                    f"{fid}-service",
                    teams,
                    form.get(f"{item.name}-service", ""),
                    "Choose a team",
                ),
            )
            + field(
                "Reason (Transitions clinical service only)",
                f"{fid}-reason",
                select(
                    f"{item.name}-reason",
                    f"{fid}-reason",
                    CLINICAL_REASONS,
                    form.get(f"{item.name}-reason", ""),
                    "None",
                ),
            )
            + "</fieldset>"
        )
    raise ValueError(item.kind)


def step_form(case_id: str, step: Step, hidden: str, who: Who, form: dict[str, str]) -> str:
    """One step's form."""
    controls = "".join(_control(step, item, who, form) for item in step.inputs)
    return (
        f'<section aria-labelledby="{e(step.op)}-h"><h2 id="{e(step.op)}-h">{e(step.title)}</h2>'
        f'<form method="post" action="/transitions/cases/{e(case_id)}/{e(step.op)}" novalidate>{hidden}{controls}'
        f'<button class="app-button" type="submit">{e(step.button)}</button></form></section>'
    )


def field_ids(step: Step) -> tuple[dict[str, str], dict[str, str]]:
    """Each parameter's form field id and label, for linking the service's refusal to the field."""
    ids, labels = {}, {}
    for item in step.inputs:
        ids[item.name] = f"{step.op}-{item.name}" + ("-0" if item.kind == "people" else "")
        labels[item.name] = item.label
    return ids, labels


def _london_instant(value: str) -> str:
    """A `datetime-local` value (London time) as a FHIR dateTime in UTC; the text as given if it is not one."""
    try:
        local = datetime.fromisoformat(value)
    except ValueError:
        return value
    if local.tzinfo is None:
        local = local.replace(tzinfo=LONDON)
    return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def step_parameters(step: Step, form: dict[str, str], who: Who) -> list[dict[str, Any]]:
    """The step's Parameters: only what was filled in, and the actor."""
    out: list[dict[str, Any]] = []
    for item in step.inputs:
        value = form.get(item.name, "")
        if item.kind == "date" and value:
            out.append({"name": item.name, "valueDate": value})
        elif item.kind == "datetime" and value:
            out.append({"name": item.name, "valueDateTime": _london_instant(value)})
        elif item.kind in ("text", "textarea") and value:
            out.append({"name": item.name, "valueString": value})
        elif item.kind == "code" and value:
            out.append({"name": item.name, "valueCode": value})
        elif item.kind == "yesno" and value in ("yes", "no"):
            out.append({"name": item.name, "valueBoolean": value == "yes"})
        elif item.kind == "tick" and value == "yes":
            out.append({"name": item.name, "valueBoolean": True})
        elif item.kind == "young-person" and value == "yes":
            out.append({"name": item.name, "valueReference": {"reference": who.patient}})
        elif item.kind == "me":
            out.append({"name": item.name, "valueReference": {"reference": who.me}})
        elif item.kind == "people":
            offered = {reference for reference, _ in who.people()}
            for index in range(len(who.people())):
                chosen = form.get(f"{item.name}-{index}", "")
                if chosen in offered:
                    out.append({"name": item.name, "valueReference": {"reference": chosen}})
            for line in form.get(f"{item.name}-agencies", "").splitlines():
                if line.strip():
                    out.append({"name": item.name, "valueReference": {"display": line.strip()}})
        elif item.kind == "destination" and form.get(f"{item.name}-kind"):
            part: list[dict[str, Any]] = [{"name": "kind", "valueCode": form[f"{item.name}-kind"]}]
            if form.get(f"{item.name}-service"):
                part.append(
                    {
                        "name": "service",
                        "valueReference": {"reference": f"HealthcareService/{form[f'{item.name}-service']}"},
                    }
                )
            if form.get(f"{item.name}-reason"):
                part.append({"name": "reason", "valueCode": form[f"{item.name}-reason"]})
            out.append({"name": item.name, "part": part})
    out.append({"name": "actor", "valueReference": {"reference": who.me}})
    return out


def output_rows(task: dict[str, Any], people: dict[str, str]) -> str:
    """What each step recorded (the case Task's outputs), in words."""
    rows = []
    for output in task.get("output", []):
        codings = output.get("type", {}).get("coding", [])
        code = str(codings[0].get("code", "")) if codings else ""
        value = next((v for k, v in output.items() if k.startswith("value")), None)
        if isinstance(value, dict) and ("reference" in value or "display" in value):
            shown = display(value, people)
        elif isinstance(value, bool):
            shown = "Yes" if value else "No"
        else:
            shown = str(value)
        rows.append(f'<tr><th scope="row">{e(code.replace("-", " ").capitalize())}</th><td>{e(shown)}</td></tr>')
    if not rows:
        return "<p>Nothing has been recorded on this case yet.</p>"
    return (
        '<table class="app-table"><caption>Recorded so far</caption><thead><tr><th scope="col">What</th>'
        f'<th scope="col">Recorded</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )
