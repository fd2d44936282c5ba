"""HTML building blocks: every value is escaped with `html.escape` (Jinja2 is not installed here).

Pages are plain server-rendered HTML styled after the NHS.UK design system: a skip link, one `h1`
per page, labels on every field, an error summary that links to the field at fault, and focus
styles that keyboard users can see.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from client.gateway import ApiError


def e(value: object) -> str:
    """Escape a value for text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def page(title: str, body: str, *, signed_in_as: str | None = None, csrf: str | None = None) -> str:
    """A whole page."""
    nav = ""
    if signed_in_as is not None:
        nav = (
            '<nav class="app-nav" aria-label="Main">'
            '<ul><li><a href="/inbox">Team inbox</a></li>'
            '<li><a href="/ptl">Patient tracking list</a></li>'
            '<li><a href="/caseload">Caseload</a></li>'
            '<li><a href="/transitions">Transitions</a></li>'
            '<li><a href="/kpis">KPI dashboard</a></li></ul>'
            f'<p class="app-user">Signed in as {e(signed_in_as)}</p>'
            '<form method="post" action="/sign-out">'
            f'<input type="hidden" name="csrf" value="{e(csrf)}">'
            '<button class="app-link-button" type="submit">Sign out</button></form></nav>'
        )
    return (
        '<!DOCTYPE html>\n<html lang="en-GB"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)} – Continuum</title>"
        '<link rel="stylesheet" href="/static/style.css"></head><body>'
        '<a class="skip-link" href="#main">Skip to main content</a>'
        '<header class="app-header"><div class="app-width">'
        '<a class="app-service-name" href="/">Continuum</a>'
        '<span class="app-tagline">North London mental health partnership</span>'
        f"{nav}</div></header>"
        f'<main id="main" class="app-width" tabindex="-1"><h1>{e(title)}</h1>{body}</main>'
        "</body></html>"
    )


ELEMENTS = {
    "Task.businessStatus": "Phase",
    "If-Match": "Version",
    "Authorization": "Your access",
    "CarePlan.status": "State of the plan",
}
"""Elements an OperationOutcome may name that are not form fields, in words."""


def error_summary(
    error: ApiError, field_ids: dict[str, str], labels: dict[str, str], summary: str | None = None
) -> str:
    """The API's refusal in plain words, each problem linked to the field it names."""
    items = []
    for problem in error.problems:
        where = ""
        if problem.parameter and problem.parameter in field_ids:
            label = labels.get(problem.parameter, problem.parameter)
            where = f' <a href="#{e(field_ids[problem.parameter])}">{e(label)}</a>:'
        elif problem.element in ELEMENTS:
            where = f" <strong>{e(ELEMENTS[problem.element or ''])}</strong>:"
        elif problem.element:
            where = f' <span class="app-element">{e(problem.element)}</span>:'
        items.append(f"<li>{where} {e(problem.text)}</li>")
    return (
        '<div class="error-summary" role="alert" tabindex="-1" aria-labelledby="error-summary-title">'
        f'<h2 id="error-summary-title">There is a problem</h2><p>{e(summary or error.summary)}</p>'
        f'<ul class="error-list">{"".join(items)}</ul></div>'
    )


def notice(text: str) -> str:
    """A confirmation panel."""
    return f'<div class="app-notice" role="status"><p>{e(text)}</p></div>'


def select(name: str, field_id: str, options: Iterable[tuple[str, str]], chosen: str = "", blank: str = "") -> str:
    """A <select> with escaped options; a blank first option when `blank` is given."""
    rows = [f'<option value="">{e(blank)}</option>'] if blank else []
    for value, text in options:
        selected = " selected" if value == chosen else ""
        rows.append(f'<option value="{e(value)}"{selected}>{e(text)}</option>')
    return f'<select class="app-select" id="{e(field_id)}" name="{e(name)}">{"".join(rows)}</select>'


def grouped_select(
    name: str, field_id: str, groups: Iterable[tuple[str, list[tuple[str, str]]]], chosen: str = ""
) -> str:
    """A <select> with <optgroup>s."""
    rows = []
    for label, options in groups:
        inner = "".join(
            f'<option value="{e(v)}"{" selected" if v == chosen else ""}>{e(t)}</option>' for v, t in options
        )
        rows.append(f'<optgroup label="{e(label)}">{inner}</optgroup>')
    return f'<select class="app-select" id="{e(field_id)}" name="{e(name)}">{"".join(rows)}</select>'


def field(label: str, field_id: str, control: str, hint: str = "") -> str:
    """A labelled form group."""
    hint_html = f'<div class="app-hint" id="{e(field_id)}-hint">{e(hint)}</div>' if hint else ""
    label_html = f'<label class="app-label" for="{e(field_id)}">{e(label)}</label>'
    return f'<div class="form-group">{label_html}{hint_html}{control}</div>'


def text_input(name: str, field_id: str, value: str = "", required: bool = False) -> str:
    """A text input."""
    req = " required" if required else ""
    return f'<input class="app-input" type="text" id="{e(field_id)}" name="{e(name)}" value="{e(value)}"{req}>'


def textarea(name: str, field_id: str, value: str = "", required: bool = False) -> str:
    """A textarea."""
    req = " required" if required else ""
    return f'<textarea class="app-textarea" id="{e(field_id)}" name="{e(name)}" rows="3"{req}>{e(value)}</textarea>'


def tag(text: str, kind: str = "") -> str:
    """A status tag (text, never colour alone)."""
    return f'<strong class="app-tag {e(kind)}">{e(text)}</strong>'


def date_input(name: str, field_id: str, value: str = "", kind: str = "date") -> str:
    """A date (or `datetime-local`) input."""
    return (
        f'<input class="app-input app-input--date" type="{e(kind)}" id="{e(field_id)}" name="{e(name)}" '
        f'value="{e(value)}">'
    )
