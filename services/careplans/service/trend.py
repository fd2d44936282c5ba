"""A person's DIALOG over time, for the client's chart: `$dialog-trend` (FR-42 paired measures)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from services.careplans.domain.dialog import trend
from services.careplans.service.context import Context
from services.careplans.service.responses import administrations
from services.kit.clock import instant
from services.kit.errors import RequiredMissing, Unprocessable
from services.kit.parameters import parameters


def _number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def _series_parameter(series: Any) -> tuple[str, str, Any]:
    parts: list[dict[str, Any]] = [
        {"name": "code", "valueCode": series.code},
        {"name": "display", "valueString": series.display},
    ]
    if series.baseline is not None:
        parts.append({"name": "baseline", "valueDecimal": _number(series.baseline)})
    for point in series.points:
        point_parts: list[dict[str, Any]] = [
            {"name": "time", "valueDateTime": instant(point.time)},
            {"name": "value", "valueDecimal": _number(point.value)},
            {"name": "response", "valueReference": {"reference": point.reference}},
        ]
        if point.change is not None:
            point_parts.append({"name": "change", "valueDecimal": _number(point.change)})
        parts.append({"name": "point", "part": point_parts})
    return ("series", "part", parts)


async def dialog_trend(ctx: Context, subject: str | None, referral: str | None) -> dict[str, Any]:
    """Each item and both scores over time with the change from baseline; which referrals have paired measures."""
    if not subject:
        raise RequiredMissing("Name the person: ?subject=Patient/<id>", "subject")
    subject = subject if "/" in subject else f"Patient/{subject}"
    if not subject.startswith("Patient/"):
        raise Unprocessable("The subject is a Patient", "subject")
    if referral is not None and not referral.startswith("ServiceRequest/"):
        referral = f"ServiceRequest/{referral}"
    found = await administrations(ctx, subject, referral)
    per_referral = Counter(r for _, r in found if r)
    entries: list[tuple[str, str, Any]] = [
        ("subject", "Reference", {"reference": subject}),
        ("measures", "Integer", len(found)),
    ]
    for reference, count in sorted(per_referral.items()):
        entries.append(
            (
                "referral",
                "part",
                [
                    {"name": "referral", "valueReference": {"reference": reference}},
                    {"name": "measures", "valueInteger": count},
                    # Q-DLG-11: the same outcome measure recorded at least twice on one referral.
                    {"name": "paired", "valueBoolean": count >= 2},
                ],
            )
        )
    entries += [_series_parameter(s) for s in trend([a for a, _ in found], ctx.minimums)]
    return parameters(*entries)
