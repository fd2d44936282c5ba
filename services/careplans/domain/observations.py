"""The score Observations a DIALOG response produces (FR-34, FR-48).

No SNOMED CT concept exists for the two mean scores (clinical-domain §6), so they carry codes
from the declared Continuum CodeSystem `dialog-score`; the items keep their SNOMED concepts in
the Questionnaire. The number of items answered is a component; a score resting on too few
items has no value and a `dataAbsentReason` instead (§1.5).
"""

from __future__ import annotations

from services.careplans.domain.codes import (
    CS_DIALOG_SCORE,
    CS_INTERPRETATION,
    DATA_ABSENT_REASON,
    EXT_TIMEPOINT,
    OBSERVATION_CATEGORY,
    UCUM,
    Timepoint,
)
from services.careplans.domain.dialog import SCALE_DISPLAY, Score
from services.careplans.domain.fhir import Json, concept, reference

ITEMS_ANSWERED = "items-answered"


def score_observation(
    score: Score,
    *,
    response: str,
    subject: str,
    effective: str,
    referral: str | None,
    timepoint: Timepoint,
) -> Json:
    """One score as an Observation derived from its QuestionnaireResponse."""
    observation: Json = {
        "resourceType": "Observation",
        # Baseline or follow-up (FR-34): the first score of a person's referral is its baseline.
        "extension": [{"url": EXT_TIMEPOINT, "valueCode": timepoint.value}],
        "status": "final",
        "category": [concept(OBSERVATION_CATEGORY, "survey", "Survey")],
        "code": concept(CS_DIALOG_SCORE, score.scale.value, SCALE_DISPLAY[score.scale]),
        "subject": reference(subject),
        "effectiveDateTime": effective,
        "derivedFrom": [reference(response)],
        "component": [
            {
                "code": concept(CS_DIALOG_SCORE, ITEMS_ANSWERED, "Number of items answered"),
                "valueInteger": score.answered,
            }
        ],
    }
    if referral:
        observation["basedOn"] = [reference(referral)]
    if score.value is None:
        observation["dataAbsentReason"] = {
            "coding": [{"system": DATA_ABSENT_REASON, "code": "not-performed"}],
            "text": f"Only {score.answered} of {score.total} items were answered; the score needs {score.minimum}",
        }
    else:
        observation["valueQuantity"] = {
            "value": float(score.value),
            "unit": "{score}",
            "system": UCUM,
            "code": "{score}",
        }
        assert score.interpretation is not None
        observation["interpretation"] = [concept(CS_INTERPRETATION, score.interpretation.value)]
    return observation
