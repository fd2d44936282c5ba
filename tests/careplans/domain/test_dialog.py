"""The DIALOG scale (FR-32 to FR-34): the Questionnaire, reading a response, and hand-computed scores."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from services.careplans.domain.codes import (
    CS_SATISFACTION,
    DIALOG_URL,
    EXT_NOT_ANSWERED,
    SNOMED,
    Group,
    Interpretation,
    NotAnswered,
    Scale,
)
from services.careplans.domain.dialog import (
    ANCHORS,
    ITEMS,
    Administration,
    check_response,
    interpret,
    is_dialog,
    mean,
    questionnaire,
    read_ratings,
    referral_of,
    score,
    trend,
)
from services.kit.errors import Unprocessable
from services.kit.resources import validate
from tests.careplans.builders import dialog, find_item

LIFE = [i.link_id for i in ITEMS if i.group is Group.LIFE]
TREATMENT = [i.link_id for i in ITEMS if i.group is Group.TREATMENT]
MINIMUMS = {Scale.SQOL: 6, Scale.TREATMENT: 2}

# ---------------------------------------------------------------- the Questionnaire (FR-32)


def test_the_questionnaire_has_eleven_rated_items_in_groups_of_eight_and_three() -> None:
    q = questionnaire()
    assert q["url"] == DIALOG_URL
    groups = {g["linkId"]: g["item"] for g in q["item"]}
    assert list(groups) == ["life-domains", "treatment-aspects"]
    assert [i["linkId"] for i in groups["life-domains"]] == LIFE
    assert [i["linkId"] for i in groups["treatment-aspects"]] == TREATMENT
    assert len(LIFE) == 8
    assert len(TREATMENT) == 3


def test_items_are_named_by_meaning_and_coded_with_their_snomed_concept() -> None:
    """Order A puts partner/family 6th, whose SNOMED concept is the one numbered 7 (clinical-domain §0)."""
    codes = {
        item["linkId"]: item["code"][0]["code"]
        for group in questionnaire()["item"]
        for item in group["item"]
        if item["code"][0]["system"] == SNOMED
    }
    assert codes == {
        "mental-health": "1037651000000100",
        "physical-health": "1037661000000102",
        "job-situation": "1037671000000109",
        "accommodation": "1037681000000106",
        "leisure": "1037691000000108",
        "partner-family": "1037711000000105",
        "friendships": "1037701000000108",
        "personal-safety": "1037721000000104",
        "medication": "1037731000000102",
        "practical-help": "1037741000000106",
        "meetings": "1037751000000109",
    }


def test_each_item_is_rated_with_the_seven_anchors_then_asks_about_more_help() -> None:
    for group in questionnaire()["item"]:
        for item in group["item"]:
            rating, help_ = item["item"]
            assert rating["linkId"] == f"{item['linkId']}.satisfaction"
            assert rating["type"] == "choice"
            options = [o["valueCoding"] for o in rating["answerOption"]]
            assert [(o["system"], o["code"], o["display"]) for o in options] == [
                (CS_SATISFACTION, str(v), ANCHORS[v]) for v in range(1, 8)
            ]
            assert [o["extension"][0]["valueDecimal"] for o in options] == list(range(1, 8))
            assert help_ == {
                "linkId": f"{item['linkId']}.more-help",
                "text": "Do you need more help in this area?",
                "type": "boolean",
            }
    assert [ANCHORS[1], ANCHORS[4], ANCHORS[7]] == ["totally dissatisfied", "in the middle", "totally satisfied"]


def test_the_questionnaire_is_valid_r4() -> None:
    validate(questionnaire(), "Questionnaire")


# ---------------------------------------------------------------- reading a response (FR-33)


def problems(response: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(Unprocessable) as info:
        read_ratings(response)
    assert info.value.status == 422
    return [(i.code, i.expression[0]) for i in info.value.issues]


def test_a_complete_response_reads_every_rating_and_more_help() -> None:
    ratings = read_ratings(dialog((1, 2, 3, 4, 5, 6, 7, 1, 2, 3, 4), more_help=("accommodation",)))
    assert [r.value for r in ratings.items] == [1, 2, 3, 4, 5, 6, 7, 1, 2, 3, 4]
    assert [i.link_id for i in ratings.more_help_wanted()] == ["accommodation"]


def test_an_item_marked_not_applicable_has_no_rating() -> None:
    ratings = read_ratings(dialog((4,) * 8 + (None, 5, 6)))
    assert ratings.value("medication") is None
    assert ratings.items[8].not_answered is NotAnswered.NOT_APPLICABLE


def _remove(link_id: str) -> Callable[[dict[str, Any]], None]:
    def apply(response: dict[str, Any]) -> None:
        for group in response["item"]:
            group["item"] = [i for i in group["item"] if i["linkId"] != link_id]

    return apply


def test_a_missing_item_is_named() -> None:
    response = dialog()
    _remove("friendships")(response)
    assert problems(response) == [
        ("required", "QuestionnaireResponse.item.where(linkId='life-domains').item.where(linkId='friendships')")
    ]


def test_ten_items_is_refused_and_a_missing_group_is_named() -> None:
    response = dialog()
    response["item"] = response["item"][:1]
    assert problems(response) == [("required", "QuestionnaireResponse.item.where(linkId='treatment-aspects')")]


def test_a_duplicate_item_is_named() -> None:
    response = dialog()
    response["item"][0]["item"].append(find_item(dialog(), "leisure"))
    assert problems(response) == [
        ("duplicate", "QuestionnaireResponse.item.where(linkId='life-domains').item.where(linkId='leisure')")
    ]


def test_an_unknown_item_is_named() -> None:
    response = dialog()
    response["item"][1]["item"].append({"linkId": "dialog-12"})
    response["item"].append({"linkId": "colour"})
    assert problems(response) == [
        ("structure", "QuestionnaireResponse.item.where(linkId='colour')"),
        ("structure", "QuestionnaireResponse.item.where(linkId='treatment-aspects').item.where(linkId='dialog-12')"),
    ]


def test_an_item_in_the_wrong_group_is_unknown_there_and_missing_from_its_own() -> None:
    response = dialog()
    medication = response["item"][1]["item"].pop(0)
    response["item"][0]["item"].append(medication)
    codes = problems(response)
    assert (
        "structure",
        "QuestionnaireResponse.item.where(linkId='life-domains').item.where(linkId='medication')",
    ) in codes
    assert (
        "required",
        "QuestionnaireResponse.item.where(linkId='treatment-aspects').item.where(linkId='medication')",
    ) in codes


RATING = (
    "QuestionnaireResponse.item.where(linkId='life-domains').item.where(linkId='leisure')"
    ".item.where(linkId='leisure.satisfaction').answer[0]"
)


@pytest.mark.parametrize(
    ("answer", "code", "where"),
    [
        ({"valueCoding": {"system": CS_SATISFACTION, "code": "8"}}, "value", f"{RATING}.valueCoding"),
        ({"valueCoding": {"system": CS_SATISFACTION, "code": "0"}}, "value", f"{RATING}.valueCoding"),
        ({"valueCoding": {"system": CS_SATISFACTION, "code": "-1"}}, "value", f"{RATING}.valueCoding"),
        ({"valueCoding": {"system": CS_SATISFACTION, "code": "4.5"}}, "value", f"{RATING}.valueCoding"),
        ({"valueCoding": {"system": CS_SATISFACTION, "code": "four"}}, "value", f"{RATING}.valueCoding"),
        ({"valueCoding": {"system": CS_SATISFACTION, "code": "٤"}}, "value", f"{RATING}.valueCoding"),
        ({"valueCoding": {"system": "http://loinc.org", "code": "4"}}, "code-invalid", f"{RATING}.valueCoding.system"),
        ({"valueCoding": {"code": "4"}}, "code-invalid", f"{RATING}.valueCoding.system"),
        ({"valueInteger": 4}, "value", RATING),
        ({"valueDecimal": 4.5}, "value", RATING),
        ({"valueString": "4"}, "value", RATING),
    ],
)
def test_a_rating_outside_one_to_seven_or_not_an_integer_is_named(
    answer: dict[str, Any], code: str, where: str
) -> None:
    response = dialog()
    find_item(response, "leisure.satisfaction")["answer"] = [answer]
    assert problems(response) == [(code, where)]


def test_two_answers_to_one_rating_are_refused() -> None:
    response = dialog()
    find_item(response, "leisure.satisfaction")["answer"] *= 2
    assert problems(response)[0][0] == "value"


def test_an_unrated_item_without_a_reason_is_named() -> None:
    response = dialog()
    find_item(response, "leisure")["item"].pop(0)
    assert problems(response) == [
        (
            "required",
            "QuestionnaireResponse.item.where(linkId='life-domains').item.where(linkId='leisure')"
            ".item.where(linkId='leisure.satisfaction')",
        )
    ]


def test_a_rated_item_marked_not_answered_and_an_unknown_reason_are_refused() -> None:
    response = dialog()
    find_item(response, "leisure")["extension"] = [{"url": EXT_NOT_ANSWERED, "valueCode": "not-applicable"}]
    assert problems(response)[0][0] == "invariant"
    response = dialog((4,) * 8 + (None, 4, 4))
    find_item(response, "medication")["extension"][0]["valueCode"] = "forgot"
    assert problems(response)[0][0] == "code-invalid"


def test_more_help_is_a_boolean() -> None:
    response = dialog()
    find_item(response, "meetings.more-help")["answer"] = [{"valueString": "yes"}]
    assert problems(response)[0] == (
        "value",
        "QuestionnaireResponse.item.where(linkId='treatment-aspects').item.where(linkId='meetings')"
        ".item.where(linkId='meetings.more-help').answer[0]",
    )


def test_every_problem_is_reported_at_once() -> None:
    response = dialog()
    find_item(response, "leisure.satisfaction")["answer"] = [{"valueCoding": {"system": CS_SATISFACTION, "code": "9"}}]
    _remove("meetings")(response)
    assert len(problems(response)) == 2


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"questionnaire": "https://example.org/Questionnaire/phq9"}, "QuestionnaireResponse.questionnaire"),
        ({"questionnaire": f"{DIALOG_URL}|9.9"}, "QuestionnaireResponse.questionnaire"),
        ({"status": "in-progress"}, "QuestionnaireResponse.status"),
        ({"subject": {"reference": "Group/g-1"}}, "QuestionnaireResponse.subject"),
        ({"basedOn": [{"reference": "Encounter/e-1"}]}, "QuestionnaireResponse.basedOn[0]"),
    ],
)
def test_the_header_names_the_dialog_a_completed_status_and_a_patient(change: dict[str, Any], where: str) -> None:
    with pytest.raises(Unprocessable) as info:
        check_response({**dialog(), **change})
    assert info.value.expression == (where,)


def test_the_canonical_may_carry_the_version_and_the_referral_is_read_from_based_on() -> None:
    assert is_dialog(f"{DIALOG_URL}|1.0.0")
    assert not is_dialog(None)
    assert referral_of(dialog()) == "ServiceRequest/r-1"
    assert referral_of(dialog(based_on="CarePlan/c-1")) is None


# ---------------------------------------------------------------- scores (FR-34), checked by hand


def scores(*ratings: int | None) -> tuple[Decimal | None, Decimal | None]:
    read = read_ratings(dialog(ratings))
    return score(read, Scale.SQOL, 6).value, score(read, Scale.TREATMENT, 2).value


def test_all_ones_score_one_and_are_dissatisfied() -> None:
    read = read_ratings(dialog((1,) * 11))
    sqol, ts = score(read, Scale.SQOL, 6), score(read, Scale.TREATMENT, 2)
    assert (sqol.value, ts.value) == (Decimal("1.00"), Decimal("1.00"))
    assert sqol.interpretation is ts.interpretation is Interpretation.DISSATISFIED


def test_all_sevens_score_seven_and_are_satisfied() -> None:
    read = read_ratings(dialog((7,) * 11))
    sqol, ts = score(read, Scale.SQOL, 6), score(read, Scale.TREATMENT, 2)
    assert (sqol.value, ts.value) == (Decimal("7.00"), Decimal("7.00"))
    assert sqol.interpretation is ts.interpretation is Interpretation.SATISFIED


def test_life_items_four_and_treatment_items_two_give_four_and_two() -> None:
    read = read_ratings(dialog((4,) * 8 + (2,) * 3))
    sqol, ts = score(read, Scale.SQOL, 6), score(read, Scale.TREATMENT, 2)
    assert (sqol.value, ts.value) == (Decimal("4.00"), Decimal("2.00"))
    assert (sqol.interpretation, ts.interpretation) == (Interpretation.NEUTRAL, Interpretation.DISSATISFIED)
    assert (sqol.answered, sqol.total, ts.answered, ts.total) == (8, 8, 3, 3)


def test_a_fractional_mean() -> None:
    """(4+5+5+6+3+2+7+4) / 8 = 36 / 8 = 4.5; (5+6+6) / 3 = 5.666… → 5.67."""
    assert scores(4, 5, 5, 6, 3, 2, 7, 4, 5, 6, 6) == (Decimal("4.50"), Decimal("5.67"))


def test_rounding_is_half_up_to_two_places() -> None:
    """33 / 8 = 4.125 → 4.13 (not banker's 4.12); 16 / 3 = 5.333… → 5.33; 4 / 3 = 1.333… → 1.33."""
    assert scores(4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 6) == (Decimal("4.13"), Decimal("5.33"))
    assert scores(1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 2)[1] == Decimal("1.33")
    assert mean([1, 2]) == Decimal("1.50")
    assert mean([2, 2, 3, 3, 3, 3, 3, 3]) == Decimal("2.75")


def test_interpretation_uses_the_exact_mean() -> None:
    assert interpret([4, 4, 4]) is Interpretation.NEUTRAL
    assert interpret([4, 4, 5]) is Interpretation.SATISFIED
    assert interpret([3, 4, 4]) is Interpretation.DISSATISFIED


def test_unanswered_items_are_left_out_not_imputed() -> None:
    """Seven life items answered: the mean of those seven; medication not applicable: mean of two."""
    assert scores(7, 7, 7, 7, 7, 7, None, 1, None, 3, 4) == (Decimal("6.14"), Decimal("3.50"))


def test_below_the_minimum_no_score_is_published() -> None:
    read = read_ratings(dialog((4, 4, 4, 4, 4, None, None, None, None, None, 4)))
    sqol, ts = score(read, Scale.SQOL, 6), score(read, Scale.TREATMENT, 2)
    assert (sqol.value, sqol.answered, sqol.interpretation) == (None, 5, None)
    assert (ts.value, ts.answered) == (None, 1)
    assert score(read, Scale.SQOL, 5).value == Decimal("4.00")


# ---------------------------------------------------------------- trend


def administration(day: int, *ratings: int | None) -> Administration:
    return Administration(
        f"QuestionnaireResponse/q-{day}", datetime(2026, 1, day, tzinfo=UTC), read_ratings(dialog(ratings))
    )


def test_the_trend_gives_each_item_and_score_with_the_change_from_baseline() -> None:
    later = administration(20, 6, 4, 4, 5, 4, 4, 4, 4, 5, 5, 5)
    first = administration(5, 4, 4, 4, 3, 4, 4, 4, 4, 2, 2, 2)
    series = {s.code: s for s in trend([later, first], MINIMUMS)}
    assert list(series)[:2] == ["sqol", "treatment-satisfaction"]
    assert len(series) == 13
    sqol = series["sqol"]
    assert sqol.baseline == Decimal("3.88")
    assert [(p.value, p.change) for p in sqol.points] == [
        (Decimal("3.88"), Decimal("0")),
        (Decimal("4.38"), Decimal("0.50")),
    ]
    assert [(p.value, p.change) for p in series["mental-health"].points] == [
        (Decimal(4), Decimal(0)),
        (Decimal(6), Decimal(2)),
    ]
    assert [p.change for p in series["treatment-satisfaction"].points] == [Decimal(0), Decimal(3)]


def test_an_item_unanswered_at_baseline_has_values_but_no_change() -> None:
    series = {
        s.code: s
        for s in trend([administration(5, *((4,) * 8), None, 4, 4), administration(9, *((4,) * 11))], MINIMUMS)
    }
    medication = series["medication"]
    assert medication.baseline is None
    assert [(p.value, p.change) for p in medication.points] == [(Decimal(4), None)]
