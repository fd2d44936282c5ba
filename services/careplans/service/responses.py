"""Recording DIALOG responses: validate, store, score, mark the baseline, tell the referral clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.careplans.domain.codes import Scale, Timepoint
from services.careplans.domain.dialog import (
    QR,
    Administration,
    Ratings,
    check_response,
    read_ratings,
    referral_of,
    score,
)
from services.careplans.domain.fhir import Json, ref
from services.careplans.domain.observations import score_observation
from services.careplans.persistence import tables
from services.careplans.service.context import Context
from services.kit.clock import instant, parse_instant
from services.kit.errors import Unprocessable
from services.kit.repository import Stored


@dataclass(frozen=True)
class Recorded:
    """A stored DIALOG response and the score Observations derived from it."""

    response: Stored
    observations: tuple[Stored, ...]
    baseline: bool


def authored_at(response: Json, now: datetime) -> datetime:
    """When the DIALOG was completed (now when not given); 422 for a time without a day."""
    text = response.get("authored")
    if text is None:
        return now
    if not isinstance(text, str) or len(text) < 10:
        raise Unprocessable("authored is a date or dateTime to at least the day", f"{QR}.authored")
    try:
        return parse_instant(text)
    except ValueError:
        raise Unprocessable("authored is not a valid dateTime", f"{QR}.authored") from None


def check_dialog_response(response: Json, now: datetime) -> Ratings:
    """Everything FR-33 asks of a DIALOG response; returns its ratings."""
    check_response(response)
    authored_at(response, now)
    return read_ratings(response)


async def _store(ctx: Context, response: Json, baseline_key: str) -> tuple[Stored, bool]:
    """Store the response; it is the baseline when it is the first to claim the key (FR-34)."""
    t = tables.questionnaire_response
    taken = (await ctx.session.execute(select(t.c.id).where(t.c.baseline_key == baseline_key))).first()
    if taken is None:
        try:
            async with ctx.session.begin_nested():
                return await ctx.save(QR, response, extra={"baseline_key": baseline_key}), True
        except IntegrityError:  # a concurrent first response claimed it
            pass
    return await ctx.save(QR, response), False


async def record_response(ctx: Context, response: Json) -> Recorded:
    """Record a DIALOG (stand-alone or in a session, FR-35) with its two scores (FR-34)."""
    ratings = check_dialog_response(response, ctx.now)
    authored = authored_at(response, ctx.now)
    response.setdefault("authored", instant(authored))
    subject = ref(response.get("subject")) or ""
    referral = referral_of(response)
    stored, baseline = await _store(ctx, response, f"{subject}|{referral or ''}")
    reference = f"QuestionnaireResponse/{stored.id}"
    timepoint = Timepoint.BASELINE if baseline else Timepoint.FOLLOW_UP
    observations = []
    for scale in Scale:
        observation = score_observation(
            score(ratings, scale, ctx.minimums[scale]),
            response=reference,
            subject=subject,
            effective=response["authored"],
            referral=referral,
            timepoint=timepoint,
        )
        observations.append(await ctx.save("Observation", observation))
    if baseline:
        await emit(ctx, "baseline-outcome-recorded", subject, authored, referral, focus=reference)
    return Recorded(stored, tuple(observations), baseline)


async def emit(ctx: Context, kind: str, subject: str, occurred: datetime, referral: str | None, **extra: Any) -> None:
    """An event for the referral clock (FR-50), in the shape the referrals service consumes."""
    data: dict[str, Any] = {"subject": subject, "occurred": instant(occurred), **extra}
    if referral:
        data["basedOn"] = referral
    await ctx.outbox.emit(kind, ctx.now, **data)


async def administrations(ctx: Context, subject: str, referral: str | None) -> list[tuple[Administration, str | None]]:
    """A person's recorded DIALOGs (optionally for one referral), each with its referral."""
    t = tables.questionnaire_response
    where = [t.c.subject == subject]
    if referral:
        where.append(t.c.based_on == referral)
    found = []
    for stored in await ctx.repo("QuestionnaireResponse").all_where(*where, order_by=t.c.authored):
        resource = stored.resource()
        found.append(
            (
                Administration(
                    f"QuestionnaireResponse/{stored.id}",
                    authored_at(resource, stored.last_updated),
                    read_ratings(resource),
                ),
                referral_of(resource),
            )
        )
    return found
