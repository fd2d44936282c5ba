"""referrals schema

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
        "clock_event",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("spell", sa.String(length=64), nullable=False),
        sa.Column("milestone", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clock_event")),
    )
    with op.batch_alter_table("clock_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clock_event_spell"), ["spell"], unique=False)

    op.create_table(
        "communication",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=True),
        sa.Column("based_on", sa.String(length=80), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("sent", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_communication")),
    )
    with op.batch_alter_table("communication", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_communication_based_on"), ["based_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_communication_last_updated"), ["last_updated"], unique=False)
        batch_op.create_index(batch_op.f("ix_communication_subject"), ["subject"], unique=False)

    op.create_table(
        "encounter",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=True),
        sa.Column("based_on", sa.String(length=80), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_encounter")),
    )
    with op.batch_alter_table("encounter", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_encounter_based_on"), ["based_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_encounter_last_updated"), ["last_updated"], unique=False)
        batch_op.create_index(batch_op.f("ix_encounter_subject"), ["subject"], unique=False)

    op.create_table(
        "episode_of_care",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("patient", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("team", sa.String(length=80), nullable=False),
        sa.Column("referral", sa.String(length=80), nullable=True),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overridden", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_episode_of_care")),
    )
    with op.batch_alter_table("episode_of_care", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_episode_of_care_last_updated"), ["last_updated"], unique=False)
        batch_op.create_index(batch_op.f("ix_episode_of_care_patient"), ["patient"], unique=False)
        batch_op.create_index(batch_op.f("ix_episode_of_care_team"), ["team"], unique=False)

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
        "panel_slot",
        sa.Column("service", sa.String(length=80), nullable=False),
        sa.Column("meeting", sa.Date(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("service", "meeting", "position", name=op.f("pk_panel_slot")),
        sa.UniqueConstraint("task", name="uq_panel_slot_task"),
    )
    op.create_table(
        "patient_facts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("borough", sa.String(length=32), nullable=True),
        sa.Column("smi", sa.Boolean(), nullable=False),
        sa.Column("high_risk", sa.Boolean(), nullable=False),
        sa.Column("mental_illness_onset", sa.Date(), nullable=True),
        sa.Column("language", sa.String(length=64), nullable=True),
        sa.Column("interpreter", sa.Boolean(), nullable=True),
        sa.Column("communication_needs", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_facts")),
    )
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
        "service_request",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("performer", sa.String(length=80), nullable=False),
        sa.Column("requester", sa.String(length=80), nullable=False),
        sa.Column("requester_team", sa.String(length=80), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=True),
        sa.Column("identifier", sa.String(length=255), nullable=True),
        sa.Column("authored", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("spell", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_request")),
        sa.UniqueConstraint("identifier", name=op.f("uq_service_request_identifier")),
    )
    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_service_request_last_updated"), ["last_updated"], unique=False)
        batch_op.create_index(batch_op.f("ix_service_request_performer"), ["performer"], unique=False)
        batch_op.create_index(batch_op.f("ix_service_request_received_at"), ["received_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_service_request_requester_team"), ["requester_team"], unique=False)
        batch_op.create_index(batch_op.f("ix_service_request_spell"), ["spell"], unique=False)
        batch_op.create_index(batch_op.f("ix_service_request_subject"), ["subject"], unique=False)

    op.create_table(
        "task",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("business_status", sa.String(length=64), nullable=True),
        sa.Column("focus", sa.String(length=80), nullable=True),
        sa.Column("owner", sa.String(length=80), nullable=True),
        sa.Column("subject", sa.String(length=80), nullable=True),
        sa.Column("requester", sa.String(length=80), nullable=True),
        sa.Column("authored_on", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clock_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clock_stop", sa.DateTime(timezone=True), nullable=True),
        sa.Column("support_status", sa.String(length=32), nullable=True),
        sa.Column("escalation_key", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task")),
        sa.UniqueConstraint("escalation_key", name=op.f("uq_task_escalation_key")),
    )
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.create_index("ix_task_code_status", ["code", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_focus"), ["focus"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_last_updated"), ["last_updated"], unique=False)
        batch_op.create_index("ix_task_owner_status_clock", ["owner", "status", "clock_start"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_subject"), ["subject"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_subject"))
        batch_op.drop_index("ix_task_owner_status_clock")
        batch_op.drop_index(batch_op.f("ix_task_last_updated"))
        batch_op.drop_index(batch_op.f("ix_task_focus"))
        batch_op.drop_index("ix_task_code_status")

    op.drop_table("task")
    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_request_subject"))
        batch_op.drop_index(batch_op.f("ix_service_request_spell"))
        batch_op.drop_index(batch_op.f("ix_service_request_requester_team"))
        batch_op.drop_index(batch_op.f("ix_service_request_received_at"))
        batch_op.drop_index(batch_op.f("ix_service_request_performer"))
        batch_op.drop_index(batch_op.f("ix_service_request_last_updated"))

    op.drop_table("service_request")
    op.drop_table("resource_history")
    op.drop_table("patient_facts")
    op.drop_table("panel_slot")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_delivered_at"))

    op.drop_table("outbox")
    op.drop_table("inbox")
    with op.batch_alter_table("episode_of_care", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_episode_of_care_team"))
        batch_op.drop_index(batch_op.f("ix_episode_of_care_patient"))
        batch_op.drop_index(batch_op.f("ix_episode_of_care_last_updated"))

    op.drop_table("episode_of_care")
    with op.batch_alter_table("encounter", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_encounter_subject"))
        batch_op.drop_index(batch_op.f("ix_encounter_last_updated"))
        batch_op.drop_index(batch_op.f("ix_encounter_based_on"))

    op.drop_table("encounter")
    with op.batch_alter_table("communication", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_communication_subject"))
        batch_op.drop_index(batch_op.f("ix_communication_last_updated"))
        batch_op.drop_index(batch_op.f("ix_communication_based_on"))

    op.drop_table("communication")
    with op.batch_alter_table("clock_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clock_event_spell"))

    op.drop_table("clock_event")
