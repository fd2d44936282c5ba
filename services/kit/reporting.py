"""The generic measure engine: KPIs as FHIR `Measure`s and `$evaluate-measure` as SQL aggregates.

A service describes its KPIs as `MeasureDef`s in a `Catalogue` and, for each evaluation, builds one
SQL subquery with one row per counted unit (a referral, a person, a plan ...): a column per
stratifier dimension, a `num` flag (1 when the row is in the numerator) and an `observation`
(a number, for continuous-variable measures). `evaluate` turns it into a summary `MeasureReport`:
totals and every stratifier are `GROUP BY` queries over that subquery (`COUNT`, `COUNT ... FILTER`,
`AVG`, `percentile_cont`), with small-cell suppression.

PostgreSQL computes percentiles with `percentile_cont`; SQLite has no ordered-set aggregates, so
the fallback fetches the group key and the one numeric column of the already filtered rows, in
order, and interpolates exactly as `percentile_cont` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from fastapi import Request
from sqlalchemy import ColumnElement, Float, Integer, String, case, cast, func, literal_column, select, text, tuple_
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Subquery

from services.kit.clock import instant
from services.kit.errors import BadRequest, NotFound

CANONICAL = "https://continuum.example.org/fhir"
SD = f"{CANONICAL}/StructureDefinition"
EXT_TARGET = f"{SD}/measure-target"
EXT_TARGET_VALUE = f"{SD}/measure-target-value"
EXT_METRIC = f"{SD}/measure-catalogue-metric"
EXT_SUPPRESSION_THRESHOLD = f"{SD}/measurereport-suppression-threshold"
EXT_SUPPRESSED = f"{SD}/measurereport-suppressed"
SCORING = "http://terminology.hl7.org/CodeSystem/measure-scoring"
IMPROVEMENT = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"
POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
UCUM = "http://unitsofmeasure.org"
# Measures are generated from code: one fixed version and date for every one.
# The person's demographics a service keeps from the gateway's Patient events (services/kit/patient_facts.py),
# as stratifier dimensions: `age_band`, `ethnic_group`, `sex_of` and `deprivation_quintile` below compute them.
DEMOGRAPHIC_DIMENSIONS = {
    "age-band": "Age band at the period end from the person's birth date (0-17, 18-25, 26-64, 65+, unknown)",
    "ethnicity": (
        "Broad ethnic group of the person's NHS ethnic category (white, mixed, asian, black, other; "
        "'not-stated' when they declined, 'unknown' when not recorded)"
    ),
    "sex": "The person's administrative gender (female, male, other, unknown)",
    "deprivation-quintile": "IMD quintile of where the person lives (1 most deprived to 5; 'unknown' if not recorded)",
}

MEASURE_DATE = "2026-01-05"
MEASURE_LAST_UPDATED = "2026-01-05T00:00:00.000Z"

Scoring = Literal["proportion", "continuous-variable", "cohort"]
Key = tuple[Any, ...]


@dataclass(frozen=True)
class MeasureDef:
    """One KPI: its definition, target and provenance, and the cohort its service counts."""

    id: str
    title: str
    metric: str
    description: str
    populations: tuple[tuple[str, str], ...]
    scoring: Scoring
    improvement: Literal["increase", "decrease"]
    target: str
    quotes: tuple[str, ...]
    requirement: str
    cohort: str
    target_value: float | None = None
    percentiles: tuple[tuple[str, float], ...] = ()
    # A continuous-variable measure scored by the mean of its observations (group `mean`).
    mean: bool = False
    unit: tuple[str, str] = ("days", "d")
    extra_stratifiers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalogue:
    """A service's KPIs with the stratifiers every one of them offers."""

    service: str
    measures: tuple[MeasureDef, ...]
    # Every dimension a stratifier may use, with its description.
    dimensions: Mapping[str, str]
    # The stratifiers every measure has: name -> dimensions (two for a crossing).
    stratifiers: Mapping[str, tuple[str, ...]]
    by_id: Mapping[str, MeasureDef] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {m.id: m for m in self.measures})

    def stratifiers_of(self, measure: MeasureDef) -> dict[str, tuple[str, ...]]:
        """Every stratifier of a measure: the catalogue's plus its own."""
        return {**self.stratifiers, **{name: (name,) for name in measure.extra_stratifiers}}

    def measure(self, id_: str) -> MeasureDef:
        """The measure with this id, or 404."""
        found = self.by_id.get(id_)
        if found is None:
            raise NotFound(f"Measure/{id_} is not known; GET /fhir/Measure lists them", "Measure.id")
        return found


# ---------------------------------------------------------------- the Measure resources


def _criteria(text: str, name: str) -> dict[str, Any]:
    # R4 binds Expression.language to cql, fhirpath or x-fhir-query; the expression names the population
    # or dimension as a CQL identifier would, and its logic is the description (evaluated in SQL).
    return {"language": "text/cql", "expression": name, "description": text}


def _stratifier(catalogue: Catalogue, name: str, parts: tuple[str, ...]) -> dict[str, Any]:
    if len(parts) == 1:
        text = catalogue.dimensions[name]
        return {"code": {"text": name}, "description": text, "criteria": _criteria(text, name)}
    return {
        "code": {"text": name},
        "description": " × ".join(parts),
        "component": [
            {
                "code": {"text": p},
                "description": catalogue.dimensions[p],
                "criteria": _criteria(catalogue.dimensions[p], p),
            }
            for p in parts
        ],
    }


def _group(catalogue: Catalogue, measure: MeasureDef, code: str | None, description: str) -> dict[str, Any]:
    group: dict[str, Any] = {
        "description": description,
        "population": [
            {
                "code": {"coding": [{"system": POPULATION, "code": c}]},
                "description": text,
                "criteria": _criteria(text, c),
            }
            for c, text in measure.populations
        ],
        "stratifier": [
            _stratifier(catalogue, name, parts) for name, parts in catalogue.stratifiers_of(measure).items()
        ],
    }
    if code:
        group["code"] = {"text": code}
    return group


def group_codes(measure: MeasureDef) -> list[str | None]:
    """The code of each group of a measure: one per percentile, `mean`, or one uncoded group."""
    if measure.percentiles:
        return [name for name, _ in measure.percentiles]
    if measure.mean:
        return ["mean"]
    return [None]


def measure_resource(catalogue: Catalogue, measure: MeasureDef) -> dict[str, Any]:
    """The KPI as an R4 `Measure` (read-only; generated from the definition)."""
    extensions: list[dict[str, Any]] = [
        {"url": EXT_TARGET, "valueString": measure.target},
        {"url": EXT_METRIC, "valueString": measure.metric},
    ]
    if measure.target_value is not None:
        extensions.append({"url": EXT_TARGET_VALUE, "valueDecimal": measure.target_value})
    if measure.percentiles:
        groups = [
            _group(catalogue, measure, n, f"{n} ({p:g} quantile) of {measure.title}") for n, p in measure.percentiles
        ]
    elif measure.mean:
        groups = [_group(catalogue, measure, "mean", f"mean of {measure.title}")]
    else:
        groups = [_group(catalogue, measure, None, measure.title)]
    return {
        "resourceType": "Measure",
        "id": measure.id,
        "meta": {"versionId": "1", "lastUpdated": MEASURE_LAST_UPDATED},
        "extension": extensions,
        "url": f"{CANONICAL}/Measure/{measure.id}",
        "identifier": [{"system": f"{CANONICAL}/Id/measure", "value": measure.id}],
        "version": "1",
        "name": "".join(part.capitalize() for part in measure.id.split("-")),
        "title": measure.title,
        "status": "active",
        "experimental": False,
        "date": MEASURE_DATE,
        "publisher": f"North London Mental Health Partnership (Continuum {catalogue.service} service)",
        "description": measure.description,
        "purpose": f"{measure.requirement}; catalogue {measure.metric}",
        "relatedArtifact": [
            {"type": "documentation", "label": q, "display": f"Seed quote {q} (requirements section 10)"}
            for q in measure.quotes
        ],
        "scoring": {"coding": [{"system": SCORING, "code": measure.scoring}]},
        "improvementNotation": {"coding": [{"system": IMPROVEMENT, "code": measure.improvement}]},
        "guidance": f"Target: {measure.target}. Periods are whole days (UTC), both ends inclusive.",
        "group": groups,
    }


_SEARCH_PARAMS = frozenset({"_count", "_offset", "_sort", "_format", "_id"})


def _whole(request: Request, name: str, default: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not text.isdigit():
        raise BadRequest(f"{name} {text!r} is not a whole number", name)
    return int(text)


def measure_bundle(request: Request, base: str, catalogue: Catalogue) -> dict[str, Any]:
    """The searchset of a service's Measures (by id; `_id`, `_count` and `_offset` honoured)."""
    for name in request.query_params:
        if name not in _SEARCH_PARAMS:
            raise BadRequest(f"Measure search does not take {name!r}; it takes _id, _count and _offset", name)
    wanted = {i for v in request.query_params.getlist("_id") for i in v.split(",")}
    measures = sorted((m for m in catalogue.measures if not wanted or m.id in wanted), key=lambda m: m.id)
    offset = _whole(request, "_offset", 0)
    count = _whole(request, "_count", len(measures))
    page = measures[offset : offset + count]
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(measures),
        "link": [{"relation": "self", "url": f"{base}/Measure"}],
        "entry": [
            {
                "fullUrl": f"{base}/Measure/{m.id}",
                "resource": measure_resource(catalogue, m),
                "search": {"mode": "match"},
            }
            for m in page
        ],
    }


# ---------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    """A reporting period of whole days, both ends inclusive (UTC)."""

    start: date
    end: date

    @property
    def lower(self) -> datetime:
        """The first instant of the period."""
        return datetime.combine(self.start, time(), UTC)

    @property
    def upper(self) -> datetime:
        """The first instant after the period (midnight after its last day)."""
        return datetime.combine(self.end + timedelta(days=1), time(), UTC)


_EVALUATE_PARAMS = frozenset({"periodStart", "periodEnd", "reportType", "_format"})


def _date(request: Request, name: str) -> date:
    text = request.query_params.get(name)
    if not text:
        raise BadRequest(f"{name} is required: a date such as 2026-01-01", name)
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name} {text!r} is not a date (YYYY-MM-DD)", name) from None


def period_of(request: Request, operation: str = "$evaluate-measure") -> Period:
    """The period asked for: whole days, start and end inclusive; 400 naming the parameter at fault."""
    accepted = _EVALUATE_PARAMS if operation == "$evaluate-measure" else _EVALUATE_PARAMS - {"reportType"}
    for name in request.query_params:
        if name not in accepted:
            raise BadRequest(f"{operation} does not take {name!r}; it takes periodStart and periodEnd", name)
    report_type = request.query_params.get("reportType", "summary")
    if report_type != "summary":
        raise BadRequest(f"reportType {report_type!r} is not supported; only 'summary'", "reportType")
    start, end = _date(request, "periodStart"), _date(request, "periodEnd")
    if end < start:
        raise BadRequest(f"periodEnd {end} is before periodStart {start}", "periodEnd")
    return Period(start, end)


# ---------------------------------------------------------------- SQL pieces


def dialect_of(session: AsyncSession) -> str:
    """`postgresql` or `sqlite` (the engines Continuum runs on)."""
    return session.get_bind().dialect.name


def whole_days(start: ColumnElement[Any], stop: ColumnElement[Any], dialect: str) -> ColumnElement[int]:
    """Whole days (floor) from `start` to `stop`, computed in the database."""
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", stop - start) / 86400), Integer)
    seconds = cast(func.strftime("%s", stop), Integer) - cast(func.strftime("%s", start), Integer)
    return cast(seconds / literal_column("86400"), Integer)


def elapsed_days(start: ColumnElement[Any], stop: ColumnElement[Any], dialect: str) -> ColumnElement[float]:
    """Days (with their fraction) from `start` to `stop`, computed in the database."""
    if dialect == "postgresql":
        return cast(func.extract("epoch", stop - start) / 86400.0, Float)
    return cast(func.julianday(stop) - func.julianday(start), Float)


def json_code(document: ColumnElement[Any], element: str, dialect: str) -> ColumnElement[str]:
    """The first coding's code of a CodeableConcept element of a stored resource (text column)."""
    return json_text(document, (element, "coding", "0", "code"), dialect)


def json_text(document: ColumnElement[Any], path: Sequence[str], dialect: str) -> ColumnElement[str]:
    """A scalar of a stored resource at a path of keys and array indexes, as text."""
    if dialect == "postgresql":
        return func.jsonb_extract_path_text(cast(document, JSONB), *path)
    steps = "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in path)
    return cast(func.json_extract(document, f"${steps}"), String)


def json_number(document: ColumnElement[Any], path: Sequence[str], dialect: str) -> ColumnElement[float]:
    """A number of a stored resource at a path of keys, as a float (NULL when absent)."""
    if dialect == "postgresql":
        return cast(func.jsonb_extract_path_text(cast(document, JSONB), *path), Float)
    steps = "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in path)
    return cast(func.json_extract(document, f"${steps}"), Float)


def years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier (28 February for 29 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def age_band(birth: ColumnElement[Any], on: date) -> ColumnElement[str]:
    """The reporting age band at `on` (0-17, 18-25, 26-64, 65+, unknown), computed in SQL."""
    return case(
        (birth.is_(None), "unknown"),
        (birth > years_before(on, 18), "0-17"),
        (birth > years_before(on, 26), "18-25"),
        (birth > years_before(on, 65), "26-64"),
        else_="65+",
    )


# NHS ethnic category codes (NHS Data Dictionary, 2001 census classification) by broad group.
ETHNIC_GROUPS: dict[str, str] = {
    **dict.fromkeys("ABC", "white"),
    **dict.fromkeys("DEFG", "mixed"),
    **dict.fromkeys("HJKL", "asian"),
    **dict.fromkeys("MNP", "black"),
    **dict.fromkeys("RS", "other"),
    "Z": "not-stated",
}


def ethnic_group(code: ColumnElement[Any]) -> ColumnElement[str]:
    """The broad ethnic group of an NHS ethnic category code: `not-stated` (declined) is not `unknown` (missing)."""
    return case(ETHNIC_GROUPS, value=code, else_="unknown")


def sex_of(gender: ColumnElement[Any]) -> ColumnElement[str]:
    """FHIR administrative gender as recorded, `unknown` when missing."""
    return func.coalesce(gender, "unknown")


def deprivation_quintile(decile: ColumnElement[Any]) -> ColumnElement[str]:
    """IMD quintile `1` (most deprived) to `5` from a decile, `unknown` when missing."""
    return case(
        *((decile.in_((2 * q - 1, 2 * q)), str(q)) for q in range(1, 6)),
        else_="unknown",
    )


def percentile_cont(values: Sequence[float], fraction: float) -> float | None:
    """The `percentile_cont` of sorted values: linear interpolation between the closest ranks."""
    if not values:
        return None
    position = fraction * (len(values) - 1)
    lower = int(position)
    upper = min(lower + 1, len(values) - 1)
    return float(values[lower] + (values[upper] - values[lower]) * (position - lower))


async def percentiles(
    session: AsyncSession,
    rows: Subquery,
    keys: Sequence[str],
    value: str,
    fractions: Sequence[float],
) -> dict[Key, list[float | None]]:
    """Percentiles of `rows.c[value]` per group of `keys`, on whichever engine the session uses."""
    key_columns = [rows.c[k] for k in keys]
    observed = rows.c[value]
    if dialect_of(session) == "postgresql":
        aggregates = [func.percentile_cont(f).within_group(observed.asc()) for f in fractions]
        query = select(*key_columns, *aggregates).where(observed.is_not(None)).group_by(*key_columns)
        result: dict[Key, list[float | None]] = {}
        for row in (await session.execute(query)).all():
            result[tuple(row[: len(keys)])] = [None if v is None else float(v) for v in row[len(keys) :]]
        return result
    query = select(*key_columns, observed).where(observed.is_not(None)).order_by(*key_columns, observed)
    groups: dict[Key, list[float]] = {}
    for row in (await session.execute(query)).all():
        groups.setdefault(tuple(row[: len(keys)]), []).append(float(row[len(keys)]))
    return {key: [percentile_cont(values, f) for f in fractions] for key, values in groups.items()}


# ---------------------------------------------------------------- evaluation


@dataclass
class Cell:
    """The aggregates of one stratum (or of the whole group, with an empty key)."""

    count: int
    numerator: int
    scores: list[float | None]


async def _cells(session: AsyncSession, measure: MeasureDef, rows: Subquery, keys: tuple[str, ...]) -> dict[Key, Cell]:
    key_columns = [rows.c[k] for k in keys]
    aggregates: list[Any] = [func.count(), func.count().filter(rows.c.num == 1)]
    if measure.mean:
        aggregates.append(func.avg(rows.c.observation))
    query = select(*key_columns, *aggregates).group_by(*key_columns)
    cells: dict[Key, Cell] = {}
    for row in (await session.execute(query)).all():
        n = len(keys)
        scores: list[float | None] = []
        if measure.mean:
            scores = [None if row[n + 2] is None else float(row[n + 2])]
        cells[tuple(row[:n])] = Cell(int(row[n]), int(row[n + 1]), scores)
    if measure.percentiles:
        fractions = [f for _, f in measure.percentiles]
        for key, scores in (await percentiles(session, rows, keys, "observation", fractions)).items():
            if key in cells:
                cells[key].scores = scores
    return cells


async def _grouping_sets(
    session: AsyncSession, measure: MeasureDef, rows: Subquery, stratifiers: Mapping[str, tuple[str, ...]]
) -> tuple[Cell, dict[str, dict[Key, Cell]]]:
    """PostgreSQL: the total and every stratum in one pass over the cohort (`GROUPING SETS`)."""
    dimensions = list(dict.fromkeys(d for parts in stratifiers.values() for d in parts))
    columns = [rows.c[d] for d in dimensions]
    aggregates: list[Any] = [func.count(), func.count().filter(rows.c.num == 1)]
    if measure.mean:
        aggregates.append(func.avg(rows.c.observation))
    aggregates += [func.percentile_cont(f).within_group(rows.c.observation.asc()) for _, f in measure.percentiles]
    sets = [tuple_()] + [tuple_(*(rows.c[d] for d in parts)) for parts in dict.fromkeys(stratifiers.values())]
    query = select(*columns, func.grouping(*columns), *aggregates).group_by(func.grouping_sets(*sets))
    # JIT-compiling the long CASE expressions (a borough per team) costs more than it saves here:
    # about 2.7 s of a 4.7 s evaluation over 250,000 rows (bench/measures.py). For this transaction only.
    await session.execute(text("SET LOCAL jit = off"))
    # GROUPING() has a bit per dimension, the first the most significant; a bit is 0 when grouped by it.
    owners: dict[int, list[tuple[str, tuple[int, ...]]]] = {}
    for name, parts in stratifiers.items():
        positions = tuple(dimensions.index(d) for d in parts)
        mask = sum(1 << (len(dimensions) - 1 - i) for i in range(len(dimensions)) if i not in positions)
        owners.setdefault(mask, []).append((name, positions))
    everything = (1 << len(dimensions)) - 1
    total = Cell(0, 0, [])
    cells: dict[str, dict[Key, Cell]] = {name: {} for name in stratifiers}
    n = len(dimensions)
    for row in (await session.execute(query)).all():
        values = [None if v is None else float(v) for v in row[n + 3 :]]
        cell = Cell(int(row[n + 1]), int(row[n + 2]), values)
        if row[n] == everything:
            total = cell
        for name, positions in owners.get(int(row[n]), []):
            cells[name][tuple(row[i] for i in positions)] = cell
    return total, cells


def _value(key: str, raw: Any) -> dict[str, Any]:
    text = str(raw) if raw is not None else "unknown"
    return {"text": text.split("/", 1)[1] if key == "team" and "/" in text else text}


def _populations(measure: MeasureDef, cell: Cell, suppressed: bool) -> list[dict[str, Any]]:
    out = []
    for code, _ in measure.populations:
        count = cell.numerator if code == "numerator" else cell.count
        entry: dict[str, Any] = {"code": {"coding": [{"system": POPULATION, "code": code}]}}
        if suppressed:
            entry["_count"] = {"extension": [{"url": DATA_ABSENT, "valueCode": "masked"}]}
        else:
            entry["count"] = count
        out.append(entry)
    return out


def _score(measure: MeasureDef, cell: Cell, index: int) -> dict[str, Any] | None:
    if measure.scoring == "proportion":
        if cell.count == 0:
            return None
        return {"value": round(cell.numerator / cell.count, 4), "unit": "proportion", "system": UCUM, "code": "1"}
    if measure.scoring == "continuous-variable":
        value = cell.scores[index] if index < len(cell.scores) else None
        if value is None:
            return None
        unit, code = measure.unit
        return {"value": round(value, 2), "unit": unit, "system": UCUM, "code": code}
    return None


def _scored(target: dict[str, Any], measure: MeasureDef, cell: Cell, index: int, suppressed: bool) -> None:
    if suppressed:
        target["measureScore"] = {"extension": [{"url": DATA_ABSENT, "valueCode": "masked"}]}
        return
    score = _score(measure, cell, index)
    if score is not None:
        target["measureScore"] = score


def _sort_key(item: tuple[Key, Cell]) -> list[str]:
    return [str(k) for k in item[0]]


async def evaluate(
    session: AsyncSession,
    catalogue: Catalogue,
    measure: MeasureDef,
    rows: Subquery,
    period: Period,
    threshold: int,
    now: datetime,
) -> dict[str, Any]:
    """The summary `MeasureReport` of a measure's cohort rows over a period, every stratifier included."""
    groups_count = len(group_codes(measure))
    stratifiers = catalogue.stratifiers_of(measure)
    if dialect_of(session) == "postgresql":
        total, stratified = await _grouping_sets(session, measure, rows, stratifiers)
    else:
        total = (await _cells(session, measure, rows, ())).get((), Cell(0, 0, []))
        stratified = {name: await _cells(session, measure, rows, parts) for name, parts in stratifiers.items()}
    if (measure.percentiles or measure.mean) and not total.scores:
        total.scores = [None] * groups_count
    groups = []
    for index, code in enumerate(group_codes(measure)):
        group: dict[str, Any] = {"population": _populations(measure, total, False)}
        if code is not None:
            group["code"] = {"text": code}
        _scored(group, measure, total, index, False)
        reported = []
        for name, parts in stratifiers.items():
            strata = []
            for key, cell in sorted(stratified[name].items(), key=_sort_key):
                suppressed = cell.count < threshold
                stratum: dict[str, Any] = {}
                if suppressed:
                    stratum["extension"] = [{"url": EXT_SUPPRESSED, "valueBoolean": True}]
                if len(parts) == 1:
                    stratum["value"] = _value(parts[0], key[0])
                else:
                    pairs = zip(parts, key, strict=True)
                    stratum["component"] = [{"code": {"text": p}, "value": _value(p, raw)} for p, raw in pairs]
                stratum["population"] = _populations(measure, cell, suppressed)
                _scored(stratum, measure, cell, index, suppressed)
                strata.append(stratum)
            reported.append({"code": [{"text": name}], "stratum": strata})
        group["stratifier"] = reported
        groups.append(group)
    return {
        "resourceType": "MeasureReport",
        "extension": [{"url": EXT_SUPPRESSION_THRESHOLD, "valueInteger": threshold}],
        "status": "complete",
        "type": "summary",
        "measure": f"{CANONICAL}/Measure/{measure.id}",
        "date": instant(now),
        "period": {"start": period.start.isoformat(), "end": period.end.isoformat()},
        "improvementNotation": {"coding": [{"system": IMPROVEMENT, "code": measure.improvement}]},
        "group": groups,
    }


def team_borough(reference: ColumnElement[Any], boroughs: Mapping[str, str]) -> ColumnElement[str]:
    """A borough looked up in SQL from a reference column (`'unknown'` when not in the map)."""
    if not boroughs:
        return literal_column("'unknown'", String)
    return case(dict(boroughs), value=reference, else_="unknown")
