"""transitions schema

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
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("case_task", sa.String(length=80), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_plan")),
    )
    with op.batch_alter_table("care_plan", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_care_plan_case_task"), ["case_task"], unique=False)
        batch_op.create_index(batch_op.f("ix_care_plan_last_updated"), ["last_updated"], unique=False)
        batch_op.create_index(batch_op.f("ix_care_plan_subject"), ["subject"], unique=False)

    op.create_table(
        "inbox",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_inbox")),
    )
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
        "questionnaire_response",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=True),
        sa.Column("questionnaire", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("based_on", sa.String(length=80), nullable=True),
        sa.Column("source", sa.String(length=80), nullable=True),
        sa.Column("respondent", sa.String(length=32), nullable=True),
        sa.Column("case_task", sa.String(length=80), nullable=True),
        sa.Column("authored", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire_response")),
    )
    with op.batch_alter_table("questionnaire_response", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_questionnaire_response_based_on"), ["based_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_questionnaire_response_case_task"), ["case_task"], unique=False)
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
    op.create_table(
        "sent_referral",
        sa.Column("service_request", sa.String(length=80), nullable=False),
        sa.Column("case_task", sa.String(length=80), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("activity", sa.Integer(), nullable=True),
        sa.Column("performer", sa.String(length=80), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("service_request", name=op.f("pk_sent_referral")),
    )
    with op.batch_alter_table("sent_referral", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sent_referral_case_task"), ["case_task"], unique=False)

    op.create_table(
        "task",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("business_status", sa.String(length=64), nullable=True),
        sa.Column("subject", sa.String(length=80), nullable=True),
        sa.Column("owner", sa.String(length=80), nullable=True),
        sa.Column("part_of", sa.String(length=80), nullable=True),
        sa.Column("focus", sa.String(length=80), nullable=True),
        sa.Column("requester", sa.String(length=80), nullable=True),
        sa.Column("authored_on", sa.DateTime(timezone=True), nullable=True),
        sa.Column("high_risk", sa.Boolean(), nullable=False),
        sa.Column("phase1_deadline", sa.Date(), nullable=True),
        sa.Column("planned_action_date", sa.Date(), nullable=True),
        sa.Column("borough", sa.String(length=32), nullable=True),
        sa.Column("open_case_key", sa.String(length=80), nullable=True),
        sa.Column("escalation_key", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task")),
        sa.UniqueConstraint("escalation_key", name=op.f("uq_task_escalation_key")),
        sa.UniqueConstraint("open_case_key", name=op.f("uq_task_open_case_key")),
    )
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.create_index("ix_task_code_status", ["code", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_focus"), ["focus"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_last_updated"), ["last_updated"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_part_of"), ["part_of"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_subject"), ["subject"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_subject"))
        batch_op.drop_index(batch_op.f("ix_task_part_of"))
        batch_op.drop_index(batch_op.f("ix_task_last_updated"))
        batch_op.drop_index(batch_op.f("ix_task_focus"))
        batch_op.drop_index("ix_task_code_status")

    op.drop_table("task")
    with op.batch_alter_table("sent_referral", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sent_referral_case_task"))

    op.drop_table("sent_referral")
    op.drop_table("resource_history")
    with op.batch_alter_table("questionnaire_response", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_questionnaire_response_subject"))
        batch_op.drop_index(batch_op.f("ix_questionnaire_response_last_updated"))
        batch_op.drop_index(batch_op.f("ix_questionnaire_response_case_task"))
        batch_op.drop_index(batch_op.f("ix_questionnaire_response_based_on"))

    op.drop_table("questionnaire_response")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_delivered_at"))

    op.drop_table("outbox")
    op.drop_table("inbox")
    with op.batch_alter_table("care_plan", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_care_plan_subject"))
        batch_op.drop_index(batch_op.f("ix_care_plan_last_updated"))
        batch_op.drop_index(batch_op.f("ix_care_plan_case_task"))

    op.drop_table("care_plan")
