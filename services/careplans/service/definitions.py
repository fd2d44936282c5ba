"""The definitional resources the service publishes: the DIALOG Questionnaire (FR-32)."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from services.careplans.domain.codes import DIALOG_ID
from services.careplans.domain.dialog import questionnaire
from services.careplans.service.context import Context
from services.kit.repository import Stored
from services.kit.resources import validate


async def publish_questionnaire(ctx: Context) -> Stored:
    """Store the DIALOG Questionnaire, or a new version of it when the shipped content changed."""
    repo = ctx.repo("Questionnaire")
    wanted = validate(questionnaire(), "Questionnaire")
    current = await repo.find(DIALOG_ID)
    if current is None:
        try:
            async with ctx.session.begin_nested():
                return await ctx.save("Questionnaire", wanted, id_=DIALOG_ID)
        except IntegrityError:  # another replica published it at the same moment
            return await repo.read(DIALOG_ID)
    stored = {k: v for k, v in current.resource().items() if k != "meta"}
    if stored == wanted:
        return current
    return await ctx.save("Questionnaire", wanted, current)
