"""Writes docs/reporting.md: the prose below, every Measure's definition from the services' catalogues,
and example MeasureReports and an extract produced by evaluating the tests' fixture data.

Run `python -m tests.reporting.guide` after changing a measure; `tests/reporting/test_guide.py` fails
while the committed guide differs from what this writes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import MetaData

from services.careplans.main import create_app as careplans_app
from services.careplans.persistence.tables import metadata as careplans_metadata
from services.careplans.reporting import CATALOGUE as CAREPLANS
from services.careplans.settings import Settings as CareplansSettings
from services.kit.clock import FixedClock
from services.kit.migrate import upgrade
from services.kit.reporting import Catalogue, MeasureDef, measure_resource
from services.kit.testing import empty_tables
from services.referrals.main import create_app as referrals_app
from services.referrals.persistence.tables import metadata as referrals_metadata
from services.referrals.reporting.definitions import CATALOGUE as REFERRALS
from services.referrals.reporting.extract import COLUMNS
from services.referrals.settings import Settings as ReferralsSettings
from services.transitions.main import create_app as transitions_app
from services.transitions.persistence.tables import metadata as transitions_metadata
from services.transitions.reporting import CATALOGUE as TRANSITIONS
from services.transitions.settings import Settings as TransitionsSettings
from tests.careplans.reporting import rows as careplans_rows
from tests.careplans.reporting import test_measures as careplans_fixtures
from tests.referrals.reporting import rows as referrals_rows
from tests.referrals.reporting import test_extract as extract_fixtures
from tests.referrals.reporting import test_measures as referrals_fixtures
from tests.transitions.reporting import test_measures as transitions_fixtures

DOC = Path(__file__).resolve().parents[2] / "docs" / "reporting.md"
Fixture = Callable[[FastAPI], Awaitable[Any]]
NOVEMBER = ("2025-11-01", "2025-11-30")

# The fixture each example is evaluated over (the tests check the same numbers by hand), and its period.
EXAMPLES: dict[str, tuple[Fixture, tuple[str, str], str]] = {
    "referral-to-clock-stop": (
        referrals_fixtures._november_waits,
        NOVEMBER,
        "nine clocks stopped in November (7 10 14 20 28 29 30 40 100 days): median 28, p90 40 + 0.2 x 60 = 52",
    ),
    "clock-stop-within-28-days": (
        referrals_fixtures._november_waits,
        NOVEMBER,
        "the same nine: five stopped within 28 days (7 10 14 20 28)",
    ),
    "waiting-104-weeks": (
        referrals_fixtures._november_waiting,
        NOVEMBER,
        "two people waiting 730 and exactly 728 days at midnight after 30 November",
    ),
    "acceptance-rate": (
        referrals_fixtures._november_decisions,
        NOVEMBER,
        "nine decided referrals received in November, five accepted",
    ),
    "decline-reasons": (
        referrals_fixtures._november_decisions,
        NOVEMBER,
        "three declines in November, each with a different reason",
    ),
    "gp-re-referral-requests": (
        referrals_fixtures._gp_re_referrals,
        NOVEMBER,
        "a GP re-referral after a decline, and a decline that asked for a GP referral",
    ),
    "waiting-with-support": (
        referrals_fixtures._november_waiting,
        NOVEMBER,
        "five accepted referrals waiting at the end of November, three with interim support",
    ),
    "waiting-without-support": (
        referrals_fixtures._november_waiting,
        NOVEMBER,
        "one of the five waits with neither support nor an assessment",
    ),
    "told-expected-wait": (
        referrals_fixtures._november_waiting,
        NOVEMBER,
        "three of the five had been sent their expected wait by the end of November",
    ),
    "ethnicity-recorded": (
        referrals_fixtures._ethnicity_recording,
        NOVEMBER,
        "sixteen referrals received in November: five people of white British ethnicity, five who "
        "declined to say (recorded) and six with no ethnicity recorded",
    ),
    "sex-recorded": (
        referrals_fixtures._ethnicity_recording,
        NOVEMBER,
        "the same sixteen referrals: five people with their sex recorded",
    ),
    "birth-date-recorded": (
        referrals_fixtures._ethnicity_recording,
        NOVEMBER,
        "the same sixteen referrals: eight people with a date of birth",
    ),
    "referral-to-first-contact": (
        referrals_fixtures._contacts,
        NOVEMBER,
        "first contacts in November after 0, 1 and 35 days: median 1, p90 1 + 0.8 x 34 = 28.2",
    ),
    "referral-to-second-contact": (
        referrals_fixtures._contacts,
        NOVEMBER,
        "second contacts in November after 7, 50 and 90 days: median 50, p90 50 + 0.8 x 40 = 82",
    ),
    "open-referral-wait": (
        referrals_fixtures._contacts,
        NOVEMBER,
        "three open referrals without a second contact at the end of November, waiting 28, 30 and 41 days",
    ),
    "redirect-rate": (
        referrals_fixtures._november_decisions,
        NOVEMBER,
        "one of the nine decided referrals was redirected",
    ),
    "time-to-decision": (
        referrals_fixtures._decisions_and_escalations,
        NOVEMBER,
        "decisions in November after 0.25, 2.5 and 10 days: median 2.5, p90 2.5 + 0.8 x 7.5 = 8.5",
    ),
    "escalations": (
        referrals_fixtures._decisions_and_escalations,
        NOVEMBER,
        "three escalations raised in November",
    ),
    "escalation-resolution-time": (
        referrals_fixtures._decisions_and_escalations,
        NOVEMBER,
        "escalations resolved in November after 1.5 and 4 days: median 2.75, p90 1.5 + 0.9 x 2.5 = 3.75",
    ),
    "dialog-plus-use": (
        careplans_fixtures._service_users,
        NOVEMBER,
        "nine defined service users, five with a DIALOG+ session in the 365 days to 30 November",
    ),
    "personalised-plan-dialog-plus": (
        careplans_fixtures._service_users,
        NOVEMBER,
        "the same nine, four with an active DIALOG+ plan",
    ),
    "paired-outcome-measures": (
        careplans_fixtures._paired,
        NOVEMBER,
        "four referrals with a DIALOG in November, two with two DIALOGs by the end",
    ),
    "sqol-change": (
        careplans_fixtures._scores,
        NOVEMBER,
        "changes of +0.75, -0.5 and +3: mean 1.08",
    ),
    "treatment-satisfaction-change": (
        careplans_fixtures._scores,
        NOVEMBER,
        "one change of -0.5",
    ),
    "crisis-plan-coverage": (
        careplans_fixtures._service_users,
        NOVEMBER,
        "five people with an open episode, two with a current crisis plan",
    ),
    "transition-phase1-before-17-5": (
        transitions_fixtures._november,
        NOVEMBER,
        "six cases due in November, four discussed before 17½",
    ),
    "transition-plans-agreed": (
        transitions_fixtures._november,
        NOVEMBER,
        "three decisions in November, two agreed",
    ),
    "transition-actioned-on-time": (
        transitions_fixtures._november,
        NOVEMBER,
        "three plans actioned in November, two on time",
    ),
    "transition-overdue": (
        transitions_fixtures._november,
        NOVEMBER,
        "two plans past their date and not actioned at the end of November",
    ),
    "transition-feedback-positive": (
        transitions_fixtures._november,
        NOVEMBER,
        "four ratings in November, two positive",
    ),
}

INTRO = """\
# Reporting: the partnership's KPIs as FHIR Measures

Each service publishes the KPIs it can compute from its own data (requirements FR-82 to FR-96,
metrics catalogue section 10) as read-only, generated FHIR R4 `Measure` resources and evaluates them
with `$evaluate-measure`, aggregated in the database from operational data only (FR-96: nothing is
entered for reporting). The gateway publishes them all at one base.

*This guide is generated by `python -m tests.reporting.guide`; `tests/reporting/test_guide.py`
fails when it differs from what the code answers. Every example MeasureReport below is a real
answer over the tests' fixture data, whose numbers the tests check by hand.*

| Interaction (through the gateway, `http://localhost:8080/fhir`) | Path |
|---|---|
| Every KPI of every service (searchset Bundle; `_id`, `_count`, `_offset`) | `GET /fhir/Measure` |
| One KPI | `GET /fhir/Measure/{id}` |
| Evaluate | `GET /fhir/Measure/{id}/$evaluate-measure?periodStart=YYYY-MM-DD&periodEnd=YYYY-MM-DD` |
| MHSDS-like extract (FR-95), CSV | `GET /fhir/ServiceRequest/$mhsds-extract?periodStart=...&periodEnd=...` |

**How the gateway composes them.** `Measure` is owned by the referrals, care-plans and transitions
services (`gateway/routing.py`). A search is sent to the three and merged into one page with its own
paging links (measures are sorted by id; one service down is a 502, never a partial list). A read or
`$evaluate-measure` on `Measure/{id}` goes to the service that answers for that id (the ids are
unique across services). A client error of a service (400, 404) is passed on unchanged.

**Code.** The generic engine is `services/kit/reporting.py`: `MeasureDef` and `Catalogue` (the KPIs
as data), `measure_resource`, period parsing, the SQL helpers (whole days, JSON codes, age band,
ethnic group, deprivation quintile, percentiles with the SQLite fallback) and `evaluate`, which
aggregates a service's cohort subquery into a `MeasureReport`. Each service keeps only its KPI
definitions and the SQL cohort of each: `services/referrals/reporting/` (`definitions.py`,
`evaluate.py`, `extract.py`), `services/careplans/reporting.py`, `services/transitions/reporting.py`,
each with an `api/measures.py`. Tests with hand-computed values: `tests/referrals/reporting/`,
`tests/careplans/reporting/`, `tests/transitions/reporting/`, `tests/gateway/test_measures.py`.

**At scale.** On PostgreSQL the total and every stratum of a measure come from one `GROUPING SETS`
query over the cohort (one pass; SQLite runs one `GROUP BY` per stratifier). `bench/measures.py`
(`python -m bench --only measures --million`) evaluates `referral-to-clock-stop` with all its
stratifiers, two two-way crossings among them, over 1,000,000 referrals; its latest figures are in
`bench/README.md`.

## Periods

- `periodStart` and `periodEnd` are dates; both are **inclusive whole days in UTC**: an event
  counts when `periodStart 00:00:00Z <= at < (periodEnd + 1 day) 00:00:00Z`. Anything else is a 400
  OperationOutcome naming the parameter (`periodStart`, `periodEnd`, or an unknown parameter); only
  `reportType=summary` is supported.
- Event measures (clock stops, contacts, decisions, referrals received, DIALOGs recorded, cases
  actioned, feedback) are additive: 13 weekly periods sum to their 13-week quarter, and three
  calendar months to their calendar quarter (FR-94, tested for the referral measures).
  Point-in-time measures (waiting, open referrals, overdue plans, crisis-plan coverage at the period
  end) are evaluated at the end of `periodEnd` and are not additive.
- "Waiting at the period end" = a referral Task whose clock started before the end and had not
  stopped by then (`clock_stop` after the end, or no stop and the Task still open). Clock columns,
  contacts (the clock's `seen` events), decisions (the referral Task's stored versions), DIALOGs,
  DIALOG+ sessions and the transition dates are exact in time. Current states are not: acceptance,
  support status, open/closed referrals, plan statuses (active, draft) and agreements are read as
  they are now, so re-evaluating an old period sees today's states for those.

## Stratifiers and small-cell suppression

Every measure has the stratifiers of its service (below); a two-way crossing is reported with
`stratum.component` (one component per dimension). Values a person has not recorded are `unknown`;
an ethnic category the person declined to give (`Z`) is `not-stated`, so declined and missing stay
apart (FR-91).

{dimensions}

The referrals and care-plans services keep the demographic fields from the gateway's
`patient-upserted` events in `patient_facts` (birth date, the UK Core ethnic category extension,
`gender`, the `deprivation-decile` extension; read by `services/kit/patient_facts.py`, each event
applied once). A care-plans measure that counts referrals finds the person through the subject of
the referral's latest DIALOG. The transitions service does not receive Patient events yet, so its
measures are broken down by borough and team (and high-risk flag) only.

A stratum whose initial population is below the service's `*_REPORT_SMALL_CELL_THRESHOLD` (setting
`report_small_cell_threshold`, default 5; 0 turns suppression off) is **suppressed**: the stratum
carries the extension
`https://continuum.example.org/fhir/StructureDefinition/measurereport-suppressed` = true; each
population keeps its code but its `count` is replaced by `_count` carrying the standard
`data-absent-reason` extension with `masked`; `measureScore` is a Quantity with only that
`data-absent-reason` extension. So 4 is suppressed and 5 is shown. Group totals are never
suppressed. The threshold used is on the report (`measurereport-suppression-threshold`). There is
no complementary suppression yet: a suppressed cell can be recovered by subtracting the shown cells
from the total.

## Scores

- **proportion**: populations `initial-population`, `denominator`, `numerator`; `measureScore` =
  numerator / denominator as a decimal 0-1 (UCUM `1`), rounded to 4 places; absent when the
  denominator is 0.
- **continuous-variable**: either two groups `median` and `p90`, each scoring its percentile (days,
  UCUM `d`), or one group `mean` (DIALOG score change, UCUM `{score}`); populations
  `initial-population`, `measure-population` and `measure-observation` counts; scores rounded to 2
  places. Percentiles interpolate linearly between closest ranks: `percentile_cont` on PostgreSQL;
  on SQLite the fallback fetches only the group key and that one numeric column of the filtered
  rows, ordered, and interpolates the same way (`services/kit/reporting.py: percentiles`).
- **cohort** (counts): one `initial-population` count, no `measureScore`.
- Every Measure names its target in the `measure-target` extension (and `measure-target-value`
  when it is a number), its catalogue metric in `measure-catalogue-metric`, its requirement in
  `purpose` and its seed quotes in `relatedArtifact`. Each population's `criteria` is a named
  expression (`text/cql`, the name a CQL library would define) whose logic is its description; the
  services evaluate it in SQL.
"""

CAREPLANS_COHORT = """\
**Defined service users** (FR-83: the cohort and window are configurable): the caseload is kept by
the referrals service, so the care-plans service counts everyone with a care-plans record in the
look-back window ending at the period end (`CAREPLANS_REPORT_LOOKBACK_DAYS`, default 365): a DIALOG
recorded, a care plan of any category created, or a DIALOG+ or crisis plan still draft or active.
A DIALOG+ session is a row of `dialog_plus_session`, written by `$dialog-plus-session`. "Open
episode" for crisis-plan coverage is a draft or active DIALOG+ plan (one living plan per episode).
"""

EXTRACT = """\
## The MHSDS-like extract (FR-95)

`GET /fhir/ServiceRequest/$mhsds-extract?periodStart=&periodEnd=` (referrals service, through the
gateway like any operation) answers `text/csv; charset=utf-8` (RFC 4180, CRLF, header first): one
row per referral Task **received** in the period (so the row count equals the referrals received,
FR-95), ordered by receipt. It is read by one SQL query. Times are UTC instants; unknown values are
empty cells; team ids are HealthcareService ids. Errors are OperationOutcomes (400 naming
`periodStart`, `periodEnd` or an unknown parameter). The care-plan and outcome columns are the
milestones the care-plans service reported to the referral clock.

| column | what it is |
|---|---|
{columns}

Example (the fixture of `tests/referrals/reporting/test_extract.py`, November 2025):

```csv
{csv}```
"""

COLUMN_TEXT = {
    "referral_id": "ServiceRequest id",
    "referral_task_id": "the referral Task's id",
    "patient_id": "Patient id",
    "referral_received": "clock start (receipt)",
    "source_of_referral": "referral source code (`gp`, `internal-team`, ...)",
    "referring_team": "requesting team",
    "receiving_team": "receiving team (`Task.owner`)",
    "borough": "borough of the receiving team",
    "priority": "ServiceRequest.priority",
    "referral_state": "current referral state (businessStatus)",
    "decline_reason": "decline reason code, when declined",
    "waiting_support": "support status while waiting",
    "clock_stop": "clock stop (FR-12)",
    "days_to_clock_stop": "whole days from receipt to clock stop",
    "first_contact": "first contact where the person was seen",
    "second_contact": "second such contact",
    "contacts_seen": "number of such contacts in the spell",
    "baseline_outcome_recorded": "baseline DIALOG recorded (care plans)",
    "care_plan_agreed": "co-produced care plan agreed (care plans)",
    "age_at_referral": "whole years at receipt",
    "ethnic_category": "NHS ethnic category code (`Z` not stated)",
    "sex": "administrative gender",
    "deprivation_decile": "IMD decile (1 most deprived)",
}

NOT_YET = """\
## Not yet built

- Demographic strata (age band, ethnicity, sex, deprivation) for the transitions measures: that
  service does not receive the gateway's Patient events yet (the referrals and care-plans measures
  have them). The other FR-82 dimensions (PCN, sexual orientation, disability, housing status,
  referral source) are not in any service's patient facts.
- Historical states: acceptance, support status, open/closed and plan statuses are read as they
  are now (see Periods); there is no per-day snapshot.
- The other FR-85 to FR-93 measures: % change against a stored baseline (M-2), hand-offs per
  referral and step-up/step-down volumes and times, overrides of FR-9, waiting-well information sent
  (M-18), M-8 timely support, M-34/M-35 CMH and CYP PROM coverage by service line, the BAME vs
  White SQOL gap (M-38: `sqol-change` by `ethnicity` gives each group's mean, but no gap is
  computed), transition plan coverage, median age at phase 1 and CYP-to-adult gap (M-49, M-56),
  completeness of the protected characteristics Continuum does not hold yet (FR-91:
  `ethnicity-recorded`, `sex-recorded` and `birth-date-recorded` cover the ones it holds), SNOMED
  coding and submission coverage, representation against population shares (FR-92), crisis
  response (FR-93); the annual equality report extract (FR-95).
- `GET /metrics/definitions` (FR-96) is served as `GET /fhir/Measure`; there is no separate
  endpoint. Each CapabilityStatement lists `Measure`, and `Measure-evaluate-measure` and
  `ServiceRequest-mhsds-extract` are published OperationDefinitions.
- Complementary suppression (see above).
"""


def _dimension_table(catalogue: Catalogue) -> str:
    lines = [f"**{catalogue.service.capitalize()}** measures: " + ", ".join(f"`{s}`" for s in catalogue.stratifiers)]
    lines += ["", "| dimension | meaning |", "|---|---|"]
    lines += [f"| `{name}` | {text} |" for name, text in catalogue.dimensions.items()]
    return "\n".join(lines)


def _definition(catalogue: Catalogue, measure: MeasureDef) -> str:
    target = measure.target + (f" (target value {measure.target_value:g})" if measure.target_value is not None else "")
    lines = [
        f"### `{measure.id}`: {measure.title}",
        "",
        f"- Catalogue: {measure.metric}; requirement {measure.requirement}; seed quotes {', '.join(measure.quotes)}",
        f"- Scoring: {measure.scoring}; improvement: {measure.improvement}; target: {target}",
        f"- Definition: {measure.description}",
    ]
    lines += [f"- `{code}`: {text}" for code, text in measure.populations]
    lines.append("- Stratifiers: " + ", ".join(f"`{s}`" for s in catalogue.stratifiers_of(measure)))
    return "\n".join(lines)


def _trimmed(report: dict[str, Any], keep: str) -> dict[str, Any]:
    """The report with only one stratifier in each group."""
    out = dict(report)
    out["group"] = [
        {**group, "stratifier": [s for s in group["stratifier"] if s["code"][0]["text"] == keep]}
        for group in report["group"]
    ]
    return out


def _json(value: Any, indent: int = 0, prefix: int = 0) -> str:
    """JSON with every object or array that fits on its line (140 characters) kept on one line."""
    flat = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    if not isinstance(value, dict | list) or indent + prefix + len(flat) <= 140:
        return flat
    inner = " " * (indent + 2)
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            key = f"{json.dumps(k)}: "
            items.append(f"{inner}{key}{_json(v, indent + 2, len(key))}")
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    return "[\n" + ",\n".join(f"{inner}{_json(v, indent + 2)}" for v in value) + "\n" + " " * indent + "]"


class Services:
    """The three services in-process on fresh SQLite databases."""

    def __init__(self, workdir: Path, clock: FixedClock) -> None:
        urls = {
            name: f"sqlite+aiosqlite:///{workdir / f'{name}.db'}" for name in ("referrals", "careplans", "transitions")
        }
        for name, url in urls.items():
            upgrade(name, url)
        self.apps: dict[str, tuple[FastAPI, MetaData]] = {
            "referrals": (
                referrals_app(ReferralsSettings(database_url=urls["referrals"], run_background_tasks=False), clock),
                referrals_metadata,
            ),
            "careplans": (
                careplans_app(CareplansSettings(database_url=urls["careplans"], run_background_tasks=False), clock),
                careplans_metadata,
            ),
            "transitions": (
                transitions_app(
                    TransitionsSettings(database_url=urls["transitions"], run_background_tasks=False), clock
                ),
                transitions_metadata,
            ),
        }

    async def get(self, service: str, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        """A request to one service."""
        app = self.apps[service][0]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8080") as client:
            return await client.get(path, params=params)

    async def fresh(self, service: str, fixture: Fixture) -> None:
        """Empty the service's tables and load one fixture with its ids counted from 1."""
        app, metadata = self.apps[service]
        await empty_tables(app.state.database, metadata)
        referrals_rows._ids = itertools.count(1)
        careplans_rows._ids = itertools.count(1)
        transitions_fixtures._ids = itertools.count(1)
        await fixture(app)

    async def close(self) -> None:
        """Dispose of every database engine."""
        for app, _ in self.apps.values():
            await app.state.database.dispose()


async def _examples(services: Services, name: str, catalogue: Catalogue) -> list[str]:
    parts = [f"## {catalogue.service.capitalize()} measures", ""]
    if catalogue is CAREPLANS:
        parts += [CAREPLANS_COHORT]
    for measure in catalogue.measures:
        fixture, (start, end), story = EXAMPLES[measure.id]
        await services.fresh(name, fixture)
        path = f"/fhir/Measure/{measure.id}/$evaluate-measure"
        response = await services.get(name, path, {"periodStart": start, "periodEnd": end})
        assert response.status_code == 200, response.text
        first = next(iter(catalogue.stratifiers))
        parts += [
            _definition(catalogue, measure),
            "",
            f"Example, `GET {path}?periodStart={start}&periodEnd={end}` over {story} "
            f"(trimmed: only the `{first}` stratifier of each group is shown):",
            "",
            "```json",
            _json(_trimmed(response.json(), first)),
            "```",
            "",
        ]
    return parts


async def write_guide() -> str:
    """Evaluate every example on fresh databases and return the guide's text."""
    with tempfile.TemporaryDirectory() as workdir:
        clock = FixedClock()
        services = await asyncio.to_thread(Services, Path(workdir), clock)
        try:
            dimensions = "\n\n".join(_dimension_table(c) for c in (REFERRALS, CAREPLANS, TRANSITIONS))
            parts = [INTRO.replace("{dimensions}", dimensions)]
            for name, catalogue in (("referrals", REFERRALS), ("careplans", CAREPLANS), ("transitions", TRANSITIONS)):
                parts += await _examples(services, name, catalogue)
            measure = CAREPLANS.by_id["dialog-plus-use"]
            parts += [
                "## Example: `GET /fhir/Measure/dialog-plus-use`",
                "",
                "Every Measure has this shape (generated from its definition by `measure_resource`):",
                "",
                "```json",
                _json(measure_resource(CAREPLANS, measure)),
                "```",
                "",
            ]
            await services.fresh("referrals", extract_fixtures._extract_fixture)
            answer = await services.get(
                "referrals",
                "/fhir/ServiceRequest/$mhsds-extract",
                {"periodStart": NOVEMBER[0], "periodEnd": NOVEMBER[1]},
            )
            assert answer.status_code == 200, answer.text
            columns = "\n".join(f"| `{c}` | {COLUMN_TEXT[c]} |" for c in COLUMNS)
            parts.append(EXTRACT.replace("{columns}", columns).replace("{csv}", answer.text.replace("\r\n", "\n")))
            parts.append(NOT_YET)
        finally:
            await services.close()
    return "\n".join(parts)


def main() -> None:
    """Write docs/reporting.md."""
    DOC.write_text(asyncio.run(write_guide()))
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
