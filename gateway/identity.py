"""NHS numbers and the master patient index over the partnership's two EPR instances (FR-68)."""

from __future__ import annotations

NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
LOCAL_MRN = {
    "beh": "https://continuum.example.org/fhir/Id/beh-rio-mrn",
    "ci": "https://continuum.example.org/fhir/Id/ci-rio-mrn",
}
_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)


def valid_nhs_number(value: str) -> bool:
    """Modulus 11 check of a 10-digit NHS number (NHS Data Dictionary)."""
    if len(value) != 10 or not value.isascii() or not value.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(value[:9], _WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(value[9])
