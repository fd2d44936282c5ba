"""patient demographics for equity reporting (FR-82): ethnic category, sex, deprivation decile

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing rows stay NULL ("unknown") until the person's next patient-upserted event.
    with op.batch_alter_table("patient_facts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ethnic_category", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("sex", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("deprivation_decile", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("patient_facts", schema=None) as batch_op:
        batch_op.drop_column("deprivation_decile")
        batch_op.drop_column("sex")
        batch_op.drop_column("ethnic_category")
