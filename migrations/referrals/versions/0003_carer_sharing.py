"""carers the person permits to be told about their care (FR-15), from the gateway's Consent events

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "carer_sharing",
        sa.Column("patient", sa.String(length=80), nullable=False),
        sa.Column("carer", sa.String(length=80), nullable=False),
        sa.Column("permitted", sa.Boolean(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("patient", "carer", name=op.f("pk_carer_sharing")),
    )


def downgrade() -> None:
    op.drop_table("carer_sharing")
