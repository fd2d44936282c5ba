"""The KPI dashboard: every Measure's score over a period against its target, and one measure's
borough and ethnicity breakdown.

The client judges nothing it could not read: a target is "met" or "missed" only where the Measure
carries a numeric target (`measure-target-value`), compared in the direction of its
`improvementNotation`; otherwise the target is shown in its own words. Strata the service
suppressed (fewer people than the report's threshold) are shown as suppressed, never as zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from client.charts import Bar, bar_chart
from client.html import e, tag

SD = "https://continuum.example.org/fhir/StructureDefinition"
EXT_TARGET = f"{SD}/measure-target"
EXT_TARGET_VALUE = f"{SD}/measure-target-value"
EXT_THRESHOLD = f"{SD}/measurereport-suppression-threshold"
EXT_SUPPRESSED = f"{SD}/measurereport-suppressed"
BREAKDOWNS = (("borough", "Borough"), ("ethnicity", "Ethnic group"))
"""The stratifiers the breakdown page charts, with their headings."""
GROUPS = {"median": "median", "p90": "90th percentile", "mean": "mean"}
KINDS = (
    ("proportion", "Proportions (per cent) against their targets"),
    ("cohort", "Counts against their targets"),
    ("percentile", "Medians and 90th percentiles"),
    ("mean", "Mean changes"),
)
"""One chart per kind of score, so that each chart has one scale."""


@dataclass(frozen=True)
class Measure:
    """What the dashboard shows of a Measure."""

    id: str
    title: str
    scoring: str
    improvement: str
    target: str
    target_value: float | None


@dataclass(frozen=True)
class Score:
    """A group's or a stratum's score: a number, or suppressed, or none in the period."""

    value: float | None
    unit: str = ""
    suppressed: bool = False


def _extension(element: dict[str, Any], url: str) -> Any:
    for extension in element.get("extension", []):
        if extension.get("url") == url:
            for key, value in extension.items():
                if key.startswith("value"):
                    return value
    return None


def _code(concept: dict[str, Any] | None) -> str:
    codings = (concept or {}).get("coding") or [{}]
    return str(codings[0].get("code", ""))


def measure_of(resource: dict[str, Any]) -> Measure:
    """The parts of a Measure resource the dashboard uses."""
    value = _extension(resource, EXT_TARGET_VALUE)
    return Measure(
        id=str(resource.get("id", "")),
        title=str(resource.get("title") or resource.get("name") or resource.get("id", "")),
        scoring=_code(resource.get("scoring")),
        improvement=_code(resource.get("improvementNotation")) or "increase",
        target=str(_extension(resource, EXT_TARGET) or "None stated"),
        target_value=None if value is None else float(value),
    )


def threshold_of(report: dict[str, Any]) -> int | None:
    """The report's small-cell suppression threshold."""
    value = _extension(report, EXT_THRESHOLD)
    return None if value is None else int(value)


def score_of(measure: Measure, element: dict[str, Any]) -> Score:
    """The score of a report group or stratum: the measureScore, or for a cohort measure its count."""
    if _extension(element, EXT_SUPPRESSED) is True:
        return Score(None, suppressed=True)
    if measure.scoring == "cohort":
        for population in element.get("population", []):
            if _code(population.get("code")) == "initial-population" and "count" in population:
                return Score(float(population["count"]), "people")
        return Score(None)
    score = element.get("measureScore") or {}
    if "value" not in score:
        return Score(None)
    return Score(float(score["value"]), str(score.get("unit", "")))


def words(measure: Measure, score: Score, threshold: int | None) -> str:
    """A score as it is read aloud and shown: 62.5%, 28 days, 3 ..."""
    if score.suppressed:
        return f"suppressed (fewer than {threshold})" if threshold else "suppressed"
    if score.value is None:
        return "no value in this period"
    return amount(measure, score.value, score.unit)


def amount(measure: Measure, value: float, unit: str = "") -> str:
    """A number in the measure's terms (a proportion as a percentage)."""
    if measure.scoring == "proportion":
        return f"{_plain(value * 100)}%"
    if measure.scoring == "cohort" or unit in ("", "proportion"):
        return _plain(value)
    return f"{_plain(value)} {unit}"


def _plain(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _scaled(measure: Measure, value: float | None) -> float | None:
    if value is None:
        return None
    return value * 100 if measure.scoring == "proportion" else value


def verdict(measure: Measure, score: Score) -> tuple[str, str]:
    """Met or missed (in words) and the tag style: judged only against a numeric target."""
    if measure.target_value is None:
        return "Not judged: the target has no number", "app-tag--blue"
    if score.suppressed or score.value is None:
        return "Not judged: no value in this period", "app-tag--blue"
    if measure.improvement == "decrease":
        met = score.value <= measure.target_value
    else:
        met = score.value >= measure.target_value
    return ("Target met", "app-tag--green") if met else ("Target missed", "app-tag--red")


def _groups(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    groups = report.get("group", [])
    return [(GROUPS.get((g.get("code") or {}).get("text", ""), ""), g) for g in groups]


def _kind(measure: Measure, group: str) -> str:
    if measure.scoring == "continuous-variable":
        return "mean" if group == "mean" else "percentile"
    return measure.scoring


def _named(measure: Measure, group: str) -> str:
    return f"{measure.title} ({group})" if group else measure.title


def dashboard(measures: list[Measure], reports: dict[str, dict[str, Any] | str], query: str = "") -> str:
    """Charts by kind of score, then a table of every measure: its target, score and verdict.
    `reports` holds each measure's MeasureReport, or why it could not be evaluated; `query` (the
    period) is carried to each measure's breakdown."""
    bars: dict[str, list[Bar]] = {kind: [] for kind, _ in KINDS}
    rows = []
    for measure in measures:
        report = reports.get(measure.id, "It was not evaluated.")
        link = f'<a href="/kpis/{e(quote(measure.id, safe=""))}{e(query)}">{e(measure.title)}</a>'
        if isinstance(report, str):
            rows.append(
                f'<tr><td>{link}</td><td>{e(measure.target)}</td><td colspan="2">'
                f"Could not be evaluated: {e(report)}</td></tr>"
            )
            continue
        threshold = threshold_of(report)
        for group, element in _groups(report):
            score = score_of(measure, element)
            shown = words(measure, score, threshold)
            said, style = verdict(measure, score)
            target_text = "" if measure.target_value is None else amount(measure, measure.target_value)
            judged = f"{shown}, {said.lower()}" if style != "app-tag--blue" else shown
            bars[_kind(measure, group)].append(
                Bar(
                    measure.title,
                    _scaled(measure, score.value),
                    judged,
                    _scaled(measure, measure.target_value),
                    target_text,
                    f" ({group})" if group else "",
                )
            )
            label = f"{link} ({e(group)})" if group else link
            rows.append(
                f"<tr><td>{label}</td><td>{e(measure.target)}</td><td>{e(shown)}</td><td>{tag(said, style)}</td></tr>"
            )
    charts = "".join(
        '<figure class="app-figure">'
        + bar_chart(f"kpi-chart-{kind}", title, bars[kind], width=900, label_width=380)
        + "</figure>"
        for kind, title in KINDS
        if bars[kind]
    )
    table = (
        '<table class="app-table"><caption>Every measure, its target and its score over the period</caption>'
        '<thead><tr><th scope="col">Measure</th><th scope="col">Target</th><th scope="col">Score</th>'
        f'<th scope="col">Against the target</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )
    return charts + table


def _label(stratum: dict[str, Any]) -> str:
    text = str((stratum.get("value") or {}).get("text", "unknown"))
    return text.replace("-", " ").capitalize()


def breakdown(measure: Measure, report: dict[str, Any]) -> str:
    """The measure's borough and ethnicity strata, a chart and a table for each (per group)."""
    threshold = threshold_of(report)
    sections = []
    for dimension, heading in BREAKDOWNS:
        found = False
        parts = []
        for group, element in _groups(report):
            stratifier = next(
                (s for s in element.get("stratifier", []) if ((s.get("code") or [{}])[0]).get("text") == dimension),
                None,
            )
            if stratifier is None:
                continue
            found = True
            strata = stratifier.get("stratum", [])
            title = f"{_named(measure, group)} by {heading.lower()}"
            if not strata:
                parts.append(f"<p>{e(title)}: nobody was counted in this period.</p>")
                continue
            target_text = "" if measure.target_value is None else amount(measure, measure.target_value)
            bars = []
            rows = []
            for stratum in strata:
                score = score_of(measure, stratum)
                shown = words(measure, score, threshold)
                label = _label(stratum)
                target = _scaled(measure, measure.target_value)
                bars.append(Bar(label, _scaled(measure, score.value), shown, target, target_text))
                rows.append(f'<tr><th scope="row">{e(label)}</th><td>{e(shown)}</td></tr>')
            chart_id = f"kpi-{dimension}-{group.replace(' ', '-') or 'score'}"
            parts.append(
                f'<figure class="app-figure">{bar_chart(chart_id, title, bars, label_width=160)}</figure>'
                f'<table class="app-table"><caption>{e(title)}</caption><thead><tr><th scope="col">'
                f'{e(heading)}</th><th scope="col">Score</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
            )
        if not found:
            parts = [f"<p>This measure has no {e(heading.lower())} breakdown.</p>"]
        sections.append(
            f'<section aria-labelledby="kpi-{dimension}-h"><h2 id="kpi-{dimension}-h">By {e(heading.lower())}</h2>'
            f"{''.join(parts)}</section>"
        )
    return "".join(sections)


def summary(measure: Measure, report: dict[str, Any]) -> str:
    """The measure's target and its overall score (per group) with the verdict, as a list."""
    threshold = threshold_of(report)
    items = []
    for group, element in _groups(report):
        score = score_of(measure, element)
        said, style = verdict(measure, score)
        name = f"Score ({group})" if group else "Score"
        items.append(f"<dt>{e(name)}</dt><dd>{e(words(measure, score, threshold))} {tag(said, style)}</dd>")
    note = (
        f"<dt>Small numbers</dt><dd>A group of fewer than {e(threshold)} is suppressed: its value is not shown.</dd>"
        if threshold
        else ""
    )
    return f'<dl class="app-summary"><dt>Target</dt><dd>{e(measure.target)}</dd>{"".join(items)}{note}</dl>'
