"""Referrals this service sends to the referrals service, through the gateway (FR-54, FR-57, FR-64).

Each referral carries an identifier derived from the case and the step that sends it, and is sent
with `If-None-Exist` on it: however often a step is retried (or raced), one referral exists.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from reference.partnership import Role, Team
from services.kit.clock import instant
from services.kit.fhir import concept
from services.transitions.domain.codes import (
    CS_REFERRAL_SOURCE,
    REFERRAL_ID,
    SNOMED,
    ReferralSource,
)
from services.transitions.domain.rules import check_referral_route
from services.transitions.persistence import tables
from services.transitions.service.case import Case
from services.transitions.service.context import Context, role_reference, team_reference


def referral_source(ctx: Context, requester: Role) -> ReferralSource:
    """`internal-team` from a partnership team; an external CYP provider's worker is another professional."""
    if ctx.directory.organizations[requester.organization].internal:
        return ReferralSource.INTERNAL_TEAM
    return ReferralSource.OTHER_HEALTH_PROFESSIONAL


async def send_referral(
    ctx: Context,
    case: Case,
    *,
    key: str,
    purpose: str,
    performer: Team,
    requester: Role,
    code: tuple[str, str],
    reason: str,
    where: str,
    supporting: list[dict[str, Any]] | None = None,
    based_on: list[dict[str, Any]] | None = None,
    contained: list[dict[str, Any]] | None = None,
    activity: int | None = None,
) -> str:
    """Send one referral for a case (at most once per `key`); returns the ServiceRequest id."""
    check_referral_route(requester, performer, where)
    body: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": REFERRAL_ID, "value": f"{case.id}:{key}"}],
        "status": "active",
        "intent": "order",
        "category": [concept(CS_REFERRAL_SOURCE, referral_source(ctx, requester))],
        "code": concept(SNOMED, code[0], code[1]),
        "subject": {"reference": case.patient},
        "requester": role_reference(requester),
        "performer": [team_reference(performer)],
        "reasonCode": [{"text": reason}],
        "authoredOn": instant(ctx.now),
    }
    if contained:
        body["contained"] = contained
    if based_on:
        body["basedOn"] = based_on
    if supporting:
        body["supportingInfo"] = supporting
    service_request = await ctx.gateway.refer(body, where)
    reference = f"ServiceRequest/{service_request}"
    t = tables.sent_referral
    known = (await ctx.session.execute(select(t.c.service_request).where(t.c.service_request == reference))).first()
    if known is not None:
        return service_request
    try:
        async with ctx.session.begin_nested():
            await ctx.session.execute(
                insert(t).values(
                    service_request=reference,
                    case_task=case.reference,
                    purpose=purpose,
                    activity=activity,
                    performer=f"HealthcareService/{performer.id}",
                    state="sent",
                    sent_at=ctx.now,
                    updated_at=ctx.now,
                )
            )
    except IntegrityError:
        pass  # a concurrent request for the same step recorded it (and only one of them will commit)
    return service_request
