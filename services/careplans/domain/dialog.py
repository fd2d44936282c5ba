"""The DIALOG scale: its 11 items, the published Questionnaire, reading a response, and scoring.

linkIds are meaning-based (`mental-health`, `partner-family`), not the positional `dialog-1` ..
`dialog-11` FR-32 suggests: the two published item orders disagree on items 6 and 7
(clinical-domain §0), so a position would mean different things to different senders. Items
are shown in order A (QMUL/app); each maps to the SNOMED CT UK concept of the same meaning.

Answer representation (FR-33): every item is a group holding `<item>.satisfaction`, a `choice`
answered with a `valueCoding` from `dialog-satisfaction` (codes "1" to "7", displays the §1.3
anchors, each carrying the `ordinalValue` extension so FHIRPath `ordinal()` works), and
`<item>.more-help`, a `boolean`. An item the person did not rate carries the
`dialog-item-not-answered` extension (not-applicable or asked-declined) instead of a rating;
an item that is simply absent is refused (§1.5: never impute, but never guess either).

Scores (FR-34): SQOL is the mean of the answered life-domain items, treatment satisfaction the
mean of the answered treatment items, rounded half-up to 2 decimal places. Below a configurable
minimum of answered items no score is published (§1.5 suggests 6 of 8 and 2 of 3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from services.careplans.domain.codes import (
    CS_DIALOG_ITEM,
    CS_NOT_ANSWERED,
    CS_SATISFACTION,
    DIALOG_ID,
    DIALOG_URL,
    DIALOG_VERSION,
    EXT_NOT_ANSWERED,
    ORDINAL_VALUE,
    SNOMED,
    Group,
    Interpretation,
    NotAnswered,
    ResponseStatus,
    Scale,
)
from services.careplans.domain.fhir import Json, extension, value_of
from services.careplans.domain.problems import Problems
from services.kit.errors import Unprocessable

QR = "QuestionnaireResponse"


@dataclass(frozen=True)
class DialogItem:
    """One DIALOG item: its stable linkId, group, SNOMED CT UK concept and wording."""

    link_id: str
    group: Group
    snomed: str
    label: str
    text: str

    @property
    def satisfaction(self) -> str:
        """The linkId of the rating question."""
        return f"{self.link_id}.satisfaction"

    @property
    def more_help(self) -> str:
        """The linkId of the "more help" question."""
        return f"{self.link_id}.more-help"


ITEMS: tuple[DialogItem, ...] = (
    DialogItem("mental-health", Group.LIFE, "1037651000000100", "Mental health", "your mental health"),
    DialogItem("physical-health", Group.LIFE, "1037661000000102", "Physical health", "your physical health"),
    DialogItem("job-situation", Group.LIFE, "1037671000000109", "Job situation", "your job situation"),
    DialogItem("accommodation", Group.LIFE, "1037681000000106", "Accommodation", "your accommodation"),
    DialogItem("leisure", Group.LIFE, "1037691000000108", "Leisure activities", "your leisure activities"),
    # Order A puts partner/family 6th; its SNOMED concept is the one numbered item 7 (§0, §1.2).
    DialogItem(
        "partner-family",
        Group.LIFE,
        "1037711000000105",
        "Partner/family",
        "your relationship with your partner/family",
    ),
    DialogItem("friendships", Group.LIFE, "1037701000000108", "Friendships", "your friendships"),
    DialogItem("personal-safety", Group.LIFE, "1037721000000104", "Personal safety", "your personal safety"),
    DialogItem("medication", Group.TREATMENT, "1037731000000102", "Medication", "your medication"),
    DialogItem(
        "practical-help",
        Group.TREATMENT,
        "1037741000000106",
        "Practical help",
        "the practical help you receive",
    ),
    DialogItem(
        "meetings",
        Group.TREATMENT,
        "1037751000000109",
        "Meetings with professionals",
        "your meetings with mental health professionals",
    ),
)
ITEM_BY_ID: Mapping[str, DialogItem] = {i.link_id: i for i in ITEMS}
GROUP_TEXT = {Group.LIFE: "Life domains", Group.TREATMENT: "Treatment aspects"}
SCALE_GROUP = {Scale.SQOL: Group.LIFE, Scale.TREATMENT: Group.TREATMENT}
SCALE_DISPLAY = {
    Scale.SQOL: "DIALOG subjective quality of life (mean of the life-domain items)",
    Scale.TREATMENT: "DIALOG treatment satisfaction (mean of the treatment items)",
}
ANCHORS: Mapping[int, str] = {
    1: "totally dissatisfied",
    2: "very dissatisfied",
    3: "fairly dissatisfied",
    4: "in the middle",
    5: "fairly satisfied",
    6: "very satisfied",
    7: "totally satisfied",
}
MORE_HELP_TEXT = "Do you need more help in this area?"


def items_in(group: Group) -> tuple[DialogItem, ...]:
    """The items of one group, in display order."""
    return tuple(i for i in ITEMS if i.group is group)


# ---------------------------------------------------------------- the Questionnaire (FR-32)


def _answer_option(value: int) -> Json:
    return {
        "valueCoding": {
            "extension": [{"url": ORDINAL_VALUE, "valueDecimal": value}],
            "system": CS_SATISFACTION,
            "code": str(value),
            "display": ANCHORS[value],
        }
    }


def _item(item: DialogItem) -> Json:
    return {
        "linkId": item.link_id,
        "code": [
            {"system": SNOMED, "code": item.snomed},
            {"system": CS_DIALOG_ITEM, "code": item.link_id, "display": item.label},
        ],
        "text": item.label,
        "type": "group",
        "item": [
            {
                "linkId": item.satisfaction,
                "text": f"How satisfied are you with {item.text}?",
                "type": "choice",
                "answerOption": [_answer_option(v) for v in ANCHORS],
            },
            {"linkId": item.more_help, "text": MORE_HELP_TEXT, "type": "boolean"},
        ],
    }


def questionnaire() -> Json:
    """The DIALOG Questionnaire the service publishes (FR-32)."""
    return {
        "resourceType": "Questionnaire",
        "id": DIALOG_ID,
        "url": DIALOG_URL,
        "version": DIALOG_VERSION,
        "name": "DIALOG",
        "title": "DIALOG scale",
        "status": "active",
        "subjectType": ["Patient"],
        "date": "2026-01-01",
        "publisher": "Continuum",
        "description": (
            "DIALOG: 11 questions; people rate their satisfaction with eight life domains and three "
            "treatment aspects on a 7-point scale, and say whether they need more help in each area. "
            "The server computes the subjective quality of life and treatment satisfaction scores."
        ),
        "item": [
            {
                "linkId": group.value,
                "text": GROUP_TEXT[group],
                "type": "group",
                "item": [_item(i) for i in items_in(group)],
            }
            for group in Group
        ],
    }


# ---------------------------------------------------------------- reading a response (FR-33)


@dataclass(frozen=True)
class Rating:
    """One item of a response: the rating (1-7), the "more help" answer, or why it is unrated."""

    item: DialogItem
    value: int | None
    more_help: bool | None = None
    not_answered: NotAnswered | None = None


@dataclass(frozen=True)
class Ratings:
    """The 11 items of a valid DIALOG response, in display order."""

    items: tuple[Rating, ...]

    def value(self, link_id: str) -> int | None:
        """The rating of one item (None when unrated)."""
        return next(r.value for r in self.items if r.item.link_id == link_id)

    def answered(self, group: Group) -> list[int]:
        """The ratings given in a group."""
        return [r.value for r in self.items if r.item.group is group and r.value is not None]

    def more_help_wanted(self) -> list[DialogItem]:
        """The items where the person said they need more help."""
        return [r.item for r in self.items if r.more_help]


def _path(*link_ids: str) -> str:
    return QR + "".join(f".item.where(linkId='{link_id}')" for link_id in link_ids)


def _children(element: Json, expected: Sequence[str], problems: Problems, *path: str) -> dict[str, Json]:
    """The child items by linkId; unknown and repeated linkIds are problems."""
    found: dict[str, Json] = {}
    for child in element.get("item") or []:
        link_id = str(child.get("linkId"))
        if link_id not in expected:
            problems.add("structure", f"{link_id!r} is not an item here in the DIALOG", _path(*path, link_id))
        elif link_id in found:
            problems.add("duplicate", f"{link_id!r} appears more than once", _path(*path, link_id))
        else:
            found[link_id] = child
    return found


def _one_answer(element: Json, problems: Problems, where: str) -> Json | None:
    answers = element.get("answer") or []
    if len(answers) > 1:
        problems.add("value", "An item takes one answer", f"{where}.answer")
        return None
    return answers[0] if answers else None


def _rating_value(answer: Json, item: DialogItem, problems: Problems, where: str) -> int | None:
    coding = answer.get("valueCoding")
    if not isinstance(coding, dict):
        problems.add(
            "value",
            f"{item.link_id}: rate with a valueCoding from {CS_SATISFACTION} (codes 1 to 7)",
            f"{where}.answer[0]",
        )
        return None
    code = coding.get("code")
    if coding.get("system") != CS_SATISFACTION:
        problems.add(
            "code-invalid",
            f"{item.link_id}: the rating's system must be {CS_SATISFACTION}",
            f"{where}.answer[0].valueCoding.system",
        )
        return None
    if not isinstance(code, str) or not (code.isascii() and code.lstrip("-").isdigit()):
        problems.add(
            "value",
            f"{item.link_id}: the rating {code!r} is not an integer",
            f"{where}.answer[0].valueCoding",
        )
        return None
    if not 1 <= int(code) <= 7:
        problems.add("value", f"{item.link_id}: the rating {code} is outside 1 to 7", f"{where}.answer[0].valueCoding")
        return None
    return int(code)


def _not_answered(element: Json, problems: Problems, where: str) -> NotAnswered | None:
    ext = extension(element, EXT_NOT_ANSWERED)
    if ext is None:
        return None
    code = value_of(ext)
    try:
        return NotAnswered(str(code))
    except ValueError:
        valid = ", ".join(n.value for n in NotAnswered)
        problems.add("code-invalid", f"{code!r} is not a reason from {CS_NOT_ANSWERED} ({valid})", f"{where}.extension")
        return None


def _rating(element: Json, item: DialogItem, problems: Problems) -> Rating:
    path = (item.group.value, item.link_id)
    where = _path(*path)
    children = _children(element, (item.satisfaction, item.more_help), problems, *path)
    reason = _not_answered(element, problems, where)
    value = None
    rated = children.get(item.satisfaction)
    answer = _one_answer(rated, problems, _path(*path, item.satisfaction)) if rated else None
    if answer is not None:
        value = _rating_value(answer, item, problems, _path(*path, item.satisfaction))
        if reason is not None:
            problems.add("invariant", f"{item.link_id} is rated and also marked not answered", where)
    elif reason is None:
        problems.add(
            "required",
            f"{item.link_id} has no rating; rate it 1 to 7 or say why not ({EXT_NOT_ANSWERED})",
            _path(*path, item.satisfaction),
        )
    more_help = None
    helped = children.get(item.more_help)
    help_answer = _one_answer(helped, problems, _path(*path, item.more_help)) if helped else None
    if help_answer is not None:
        more_help = help_answer.get("valueBoolean")
        if not isinstance(more_help, bool):
            problems.add(
                "value",
                f"{item.link_id}: more help is a valueBoolean",
                _path(*path, item.more_help) + ".answer[0]",
            )
            more_help = None
    return Rating(item, value, more_help, reason)


def read_ratings(response: Json) -> Ratings:
    """The 11 ratings of a DIALOG response, or a 422 naming every item at fault (FR-33)."""
    problems = Problems()
    groups = _children(response, [g.value for g in Group], problems)
    ratings: list[Rating] = []
    for group in Group:
        element = groups.get(group.value)
        if element is None:
            problems.add("required", f"The {GROUP_TEXT[group].lower()} group is missing", _path(group.value))
            continue
        members = _children(element, [i.link_id for i in items_in(group)], problems, group.value)
        for item in items_in(group):
            if item.link_id not in members:
                problems.add("required", f"The item {item.link_id!r} is missing", _path(group.value, item.link_id))
                continue
            ratings.append(_rating(members[item.link_id], item, problems))
    problems.raise_any()
    return Ratings(tuple(ratings))


def is_dialog(canonical: object) -> bool:
    """Whether a `questionnaire` canonical names this DIALOG Questionnaire (optionally |version)."""
    if not isinstance(canonical, str):
        return False
    url, _, version = canonical.partition("|")
    return url == DIALOG_URL and version in ("", DIALOG_VERSION)


def check_response(response: Json) -> None:
    """The header of a DIALOG response: the Questionnaire, status and subject (FR-33)."""
    if not is_dialog(response.get("questionnaire")):
        raise Unprocessable(
            f"A DIALOG response names its Questionnaire: {DIALOG_URL} (optionally |{DIALOG_VERSION})",
            f"{QR}.questionnaire",
        )
    if response.get("status") not in {s.value for s in ResponseStatus}:
        raise Unprocessable("A DIALOG response is recorded when completed (status completed)", f"{QR}.status")
    subject = (response.get("subject") or {}).get("reference")
    if not isinstance(subject, str) or not subject.startswith("Patient/"):
        raise Unprocessable("A DIALOG response's subject is a Patient", f"{QR}.subject")
    for i, based_on in enumerate(response.get("basedOn") or []):
        target = str(based_on.get("reference") or "")
        if not target.startswith(("ServiceRequest/", "CarePlan/")):
            raise Unprocessable(
                "A DIALOG response is based on a referral (ServiceRequest) or a CarePlan",
                f"{QR}.basedOn[{i}]",
            )


def referral_of(response: Json) -> str | None:
    """The referral (ServiceRequest) a response was recorded for, if any."""
    for based_on in response.get("basedOn") or []:
        target = based_on.get("reference")
        if isinstance(target, str) and target.startswith("ServiceRequest/"):
            return target
    return None


# ---------------------------------------------------------------- scores (FR-34)


@dataclass(frozen=True)
class Score:
    """A DIALOG score: the rounded mean, how many items it rests on, and what it means."""

    scale: Scale
    value: Decimal | None
    answered: int
    total: int
    minimum: int
    interpretation: Interpretation | None


def mean(values: Sequence[int]) -> Decimal:
    """The mean of ratings, rounded half-up to 2 decimal places (4.125 → 4.13)."""
    exact = Decimal(sum(values)) / Decimal(len(values))
    return exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def interpret(values: Sequence[int]) -> Interpretation:
    """Below 4 dissatisfied, exactly 4 neutral, above 4 satisfied (on the exact mean)."""
    exact = Fraction(sum(values), len(values))
    if exact < 4:
        return Interpretation.DISSATISFIED
    return Interpretation.NEUTRAL if exact == 4 else Interpretation.SATISFIED


def score(ratings: Ratings, scale: Scale, minimum: int) -> Score:
    """One DIALOG score; no value when fewer than `minimum` items were answered (§1.5)."""
    group = SCALE_GROUP[scale]
    values = ratings.answered(group)
    total = len(items_in(group))
    if len(values) < max(minimum, 1):
        return Score(scale, None, len(values), total, minimum, None)
    return Score(scale, mean(values), len(values), total, minimum, interpret(values))


# ---------------------------------------------------------------- trend


@dataclass(frozen=True)
class Administration:
    """One recorded DIALOG: which response, when, and its ratings."""

    reference: str
    authored: datetime
    ratings: Ratings


@dataclass(frozen=True)
class Point:
    """One value of a series, with its change from the baseline."""

    time: datetime
    value: Decimal
    change: Decimal | None
    reference: str


@dataclass(frozen=True)
class Series:
    """One item or score over time; the baseline is its value at the earliest administration."""

    code: str
    display: str
    baseline: Decimal | None
    points: tuple[Point, ...]


def _series(code: str, display: str, values: list[tuple[Administration, Decimal | None]]) -> Series:
    baseline = values[0][1] if values else None
    points = tuple(
        Point(a.authored, v, (v - baseline) if baseline is not None else None, a.reference)
        for a, v in values
        if v is not None
    )
    return Series(code, display, baseline, points)


def trend(administrations: Sequence[Administration], minimums: Mapping[Scale, int]) -> tuple[Series, ...]:
    """Each item and both scores over time, oldest first, with the change from baseline."""
    ordered = sorted(administrations, key=lambda a: (a.authored, a.reference))
    series: list[Series] = []
    for scale in Scale:
        values = [(a, score(a.ratings, scale, minimums[scale]).value) for a in ordered]
        series.append(_series(scale.value, SCALE_DISPLAY[scale], values))
    for item in ITEMS:
        values = [(a, _decimal(a.ratings.value(item.link_id))) for a in ordered]
        series.append(_series(item.link_id, item.label, values))
    return tuple(series)


def _decimal(value: int | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


def rating_answer(value: int) -> Any:
    """The answer a client sends for a rating (used by examples and tests)."""
    return {"valueCoding": {"system": CS_SATISFACTION, "code": str(value), "display": ANCHORS[value]}}
