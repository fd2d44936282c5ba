"""Seed the partnership's directory: organisations, boroughs, services, practitioners (FR-77).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from gateway.directory import seed_rows
from gateway.tables import metadata

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEEDED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def upgrade() -> None:
    for name, rows in seed_rows(SEEDED_AT).items():
        op.bulk_insert(metadata.tables[name], rows)


def downgrade() -> None:
    for name in ("practitioner_role", "practitioner", "healthcare_service", "location", "organization"):
        op.execute(sa.text(f"DELETE FROM {name}"))
    op.execute(sa.text("DELETE FROM resource_history"))
