"""careplans schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "care_plan",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("episode", sa.String(length=80), nullable=True),
        sa.Column("referral", sa.String(length=80), nullable=True),
        sa.Column("author", sa.String(length=80), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=True),
        sa.Column("current_key", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_plan")),
        sa.UniqueConstraint("current_key", name=op.f("uq_care_plan_current_key")),
    )
    with op.batch_alter_table("care_plan", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_care_plan_episode"), ["episode"], unique=False)
        batch_op.create_index(batch_op.f("ix_care_plan_last_updated"), ["last_updated"], unique=False)
        batch_op.create_index(batch_op.f("ix_care_plan_referral"), ["referral"], unique=False)
        batch_op.create_index(batch_op.f("ix_care_plan_subject"), ["subject"], unique=False)
        batch_op.create_index("ix_care_plan_subject_category_status", ["subject", "category", "status"], unique=False)

    op.create_table(
        "goal",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("lifecycle_status", sa.String(length=32), nullable=False),
        sa.Column("domain", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goal")),
    )
    with op.batch_alter_table("goal", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_goal_last_updated"), ["last_updated"], unique=False)
        batch_op.create_index(batch_op.f("ix_goal_subject"), ["subject"], unique=False)

    op.create_table(
        "observation",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("derived_from", sa.String(length=80), nullable=True),
        sa.Column("based_on", sa.String(length=80), nullable=True),
        sa.Column("effective", sa.DateTime(timezone=True), nullable=True),
        sa.Column("timepoint", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observation")),
    )
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_observation_based_on"), ["based_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_observation_derived_from"), ["derived_from"], unique=False)
        batch_op.create_index(batch_op.f("ix_observation_last_updated"), ["last_updated"], unique=False)
        batch_op.create_index(batch_op.f("ix_observation_subject"), ["subject"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox")),
        sa.UniqueConstraint("id", name=op.f("uq_outbox_id")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_delivered_at"), ["delivered_at"], unique=False)

    op.create_table(
        "questionnaire",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=255), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire")),
    )
    with op.batch_alter_table("questionnaire", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_questionnaire_last_updated"), ["last_updated"], unique=False)
        batch_op.create_index(batch_op.f("ix_questionnaire_url"), ["url"], unique=False)

    op.create_table(
        "questionnaire_response",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("questionnaire", sa.String(length=255), nullable=False),
        sa.Column("based_on", sa.String(length=80), nullable=True),
        sa.Column("authored", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("baseline_key", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire_response")),
        sa.UniqueConstraint("baseline_key", name=op.f("uq_questionnaire_response_baseline_key")),
    )
    with op.batch_alter_table("questionnaire_response", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_questionnaire_response_based_on"), ["based_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_questionnaire_response_last_updated"), ["last_updated"], unique=False)
        batch_op.create_index(batch_op.f("ix_questionnaire_response_subject"), ["subject"], unique=False)

    op.create_table(
        "resource_history",
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("resource_type", "id", "version_id", name=op.f("pk_resource_history")),
    )


def downgrade() -> None:
    op.drop_table("resource_history")
    with op.batch_alter_table("questionnaire_response", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_questionnaire_response_subject"))
        batch_op.drop_index(batch_op.f("ix_questionnaire_response_last_updated"))
        batch_op.drop_index(batch_op.f("ix_questionnaire_response_based_on"))

    op.drop_table("questionnaire_response")
    with op.batch_alter_table("questionnaire", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_questionnaire_url"))
        batch_op.drop_index(batch_op.f("ix_questionnaire_last_updated"))

    op.drop_table("questionnaire")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_delivered_at"))

    op.drop_table("outbox")
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_observation_subject"))
        batch_op.drop_index(batch_op.f("ix_observation_last_updated"))
        batch_op.drop_index(batch_op.f("ix_observation_derived_from"))
        batch_op.drop_index(batch_op.f("ix_observation_based_on"))

    op.drop_table("observation")
    with op.batch_alter_table("goal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_goal_subject"))
        batch_op.drop_index(batch_op.f("ix_goal_last_updated"))

    op.drop_table("goal")
    with op.batch_alter_table("care_plan", schema=None) as batch_op:
        batch_op.drop_index("ix_care_plan_subject_category_status")
        batch_op.drop_index(batch_op.f("ix_care_plan_subject"))
        batch_op.drop_index(batch_op.f("ix_care_plan_referral"))
        batch_op.drop_index(batch_op.f("ix_care_plan_last_updated"))
        batch_op.drop_index(batch_op.f("ix_care_plan_episode"))

    op.drop_table("care_plan")
