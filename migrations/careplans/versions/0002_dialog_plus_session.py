"""dialog_plus_session: one row per DIALOG+ session, for DIALOG+ use reporting (FR-83)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SD = "https://continuum.example.org/fhir/StructureDefinition"
EXT_SESSION = f"{SD}/dialog-plus-session"
EXT_EPISODE = f"{SD}/careplan-episode"


def _instant(text: str) -> datetime:
    if len(text) == 10:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _sessions(plan_id: str, plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The sessions recorded in a DIALOG+ plan's extensions."""
    subject = (plan.get("subject") or {}).get("reference")
    episode = next(
        (
            (e.get("valueReference") or {}).get("reference")
            for e in plan.get("extension") or []
            if e.get("url") == EXT_EPISODE
        ),
        None,
    )
    rows = []
    number = 0
    for ext in plan.get("extension") or []:
        if ext.get("url") != EXT_SESSION:
            continue
        number += 1
        parts = {p.get("url"): p for p in ext.get("extension") or []}
        held = (parts.get("date") or {}).get("valueDateTime")
        if not held or not subject:
            continue
        rows.append(
            {
                "id": f"{plan_id}#{number}",
                "subject": subject,
                "plan": f"CarePlan/{plan_id}",
                "episode": episode,
                "clinician": ((parts.get("clinician") or {}).get("valueReference") or {}).get("reference"),
                "held_at": _instant(held),
            }
        )
    return rows


def upgrade() -> None:
    table = op.create_table(
        "dialog_plus_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("plan", sa.String(length=80), nullable=False),
        sa.Column("episode", sa.String(length=80), nullable=True),
        sa.Column("clinician", sa.String(length=80), nullable=True),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dialog_plus_session")),
    )
    with op.batch_alter_table("dialog_plus_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dialog_plus_session_held_at"), ["held_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_dialog_plus_session_plan"), ["plan"], unique=False)
        batch_op.create_index(batch_op.f("ix_dialog_plus_session_subject"), ["subject"], unique=False)
    # Sessions recorded before this table existed, read back from their plans.
    plans = op.get_bind().execute(
        sa.text("SELECT id, resource FROM care_plan WHERE category = 'dialog-plus-personalised-plan'")
    )
    rows = [r for plan_id, resource in plans for r in _sessions(plan_id, json.loads(resource))]
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    with op.batch_alter_table("dialog_plus_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dialog_plus_session_subject"))
        batch_op.drop_index(batch_op.f("ix_dialog_plus_session_plan"))
        batch_op.drop_index(batch_op.f("ix_dialog_plus_session_held_at"))
    op.drop_table("dialog_plus_session")
