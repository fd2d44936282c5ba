"""reporting columns (FR-90): discussion, formalisation and actioning of cases, plan agreement, feedback experience

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BASE = "https://continuum.example.org/fhir"
CS_OUTPUT = f"{BASE}/CodeSystem/transition-task-output"
CS_EXPERIENCE = f"{BASE}/CodeSystem/transition-experience"
EXT_AGREEMENT = f"{BASE}/StructureDefinition/transition-plan-young-person-agreement"


def _instant(text: str | None) -> datetime | None:
    if not text:
        return None
    if len(text) == 10:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _last_output(resource: dict[str, Any], kind: str, key: str) -> Any:
    found = [
        o.get(key)
        for o in resource.get("output") or []
        if any(
            c.get("system") == CS_OUTPUT and c.get("code") == kind for c in (o.get("type") or {}).get("coding") or []
        )
    ]
    return found[-1] if found else None


def _task(resource: dict[str, Any]) -> dict[str, Any]:
    discussed = _last_output(resource, "discussion-date", "valueDate")
    return {
        "discussion_date": date.fromisoformat(discussed) if discussed else None,
        "formalised_at": _instant(_last_output(resource, "plan-formalised", "valueDateTime")),
        "actioned_at": _instant(_last_output(resource, "actioned", "valueDateTime")),
        "actioned_late": _last_output(resource, "actioned-after-planned-date", "valueBoolean"),
    }


def _plan(resource: dict[str, Any]) -> dict[str, Any]:
    found = next((e for e in resource.get("extension") or [] if e.get("url") == EXT_AGREEMENT), {})
    parts = {e.get("url"): e for e in found.get("extension") or []}
    return {
        "agreement": (parts.get("decision") or {}).get("valueCode"),
        "agreement_recorded": _instant((parts.get("recorded") or {}).get("valueDateTime")),
    }


def _response(resource: dict[str, Any]) -> dict[str, Any]:
    for item in resource.get("item") or []:
        if item.get("linkId") == "experience":
            for answer in item.get("answer") or []:
                coding = answer.get("valueCoding") or {}
                if coding.get("system") == CS_EXPERIENCE and isinstance(coding.get("code"), str):
                    return {"experience": coding["code"]}
    return {"experience": None}


_AT = sa.DateTime(timezone=True)
# The new columns with their types, so values are stored exactly as the tables' own types store them.
_COLUMNS = {
    "task": (
        sa.column("discussion_date", sa.Date()),
        sa.column("formalised_at", _AT),
        sa.column("actioned_at", _AT),
        sa.column("actioned_late", sa.Boolean()),
    ),
    "care_plan": (sa.column("agreement", sa.String()), sa.column("agreement_recorded", _AT)),
    "questionnaire_response": (sa.column("experience", sa.String()),),
}


def _backfill(name: str, derive: Any) -> None:
    """Fill the new columns of existing rows from their stored resources."""
    bind = op.get_bind()
    table = sa.table(name, sa.column("id", sa.String()), sa.column("resource", sa.Text()), *_COLUMNS[name])
    for row_id, resource in bind.execute(sa.select(table.c.id, table.c.resource)).all():
        values = derive(json.loads(resource))
        if any(v is not None for v in values.values()):
            bind.execute(sa.update(table).where(table.c.id == row_id).values(**values))


def upgrade() -> None:
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.add_column(sa.Column("discussion_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("formalised_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("actioned_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("actioned_late", sa.Boolean(), nullable=True))
    with op.batch_alter_table("care_plan", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agreement", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("agreement_recorded", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("questionnaire_response", schema=None) as batch_op:
        batch_op.add_column(sa.Column("experience", sa.String(length=16), nullable=True))
    _backfill("task", _task)
    _backfill("care_plan", _plan)
    _backfill("questionnaire_response", _response)


def downgrade() -> None:
    with op.batch_alter_table("questionnaire_response", schema=None) as batch_op:
        batch_op.drop_column("experience")
    with op.batch_alter_table("care_plan", schema=None) as batch_op:
        batch_op.drop_column("agreement_recorded")
        batch_op.drop_column("agreement")
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_column("actioned_late")
        batch_op.drop_column("actioned_at")
        batch_op.drop_column("formalised_at")
        batch_op.drop_column("discussion_date")
