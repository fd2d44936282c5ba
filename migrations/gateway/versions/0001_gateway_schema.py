"""gateway schema

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
        "audit_event",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("recorded", sa.DateTime(timezone=True), nullable=False),
        sa.Column("patient", sa.String(length=80), nullable=True),
        sa.Column("agent", sa.String(length=120), nullable=True),
        sa.Column("action", sa.String(length=2), nullable=True),
        sa.Column("outcome", sa.String(length=2), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_agent"), ["agent"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_last_updated"), ["last_updated"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_patient"), ["patient"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_recorded"), ["recorded"], unique=False)

    op.create_table(
        "delivery",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("subscription", sa.String(length=64), nullable=False),
        sa.Column("endpoint", sa.String(length=500), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery")),
        sa.UniqueConstraint("event_id", "subscription", name="uq_delivery_event_subscription"),
    )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index("ix_delivery_due", ["delivered_at", "next_attempt_at"], unique=False)

    op.create_table(
        "event_log",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_event_log")),
    )
    op.create_table(
        "healthcare_service",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("organization", sa.String(length=80), nullable=True),
        sa.Column("type", sa.String(length=64), nullable=True),
        sa.Column("borough", sa.String(length=32), nullable=True),
        sa.Column("self_referral", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_healthcare_service")),
    )
    with op.batch_alter_table("healthcare_service", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_healthcare_service_last_updated"), ["last_updated"], unique=False)
        batch_op.create_index(batch_op.f("ix_healthcare_service_organization"), ["organization"], unique=False)

    op.create_table(
        "idempotency",
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("headers", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_idempotency")),
    )
    op.create_table(
        "location",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_location")),
    )
    with op.batch_alter_table("location", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_location_last_updated"), ["last_updated"], unique=False)

    op.create_table(
        "organization",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("part_of", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization")),
    )
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_organization_last_updated"), ["last_updated"], unique=False)

    op.create_table(
        "patient",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("family", sa.String(length=120), nullable=True),
        sa.Column("birth_date", sa.String(length=10), nullable=True),
        sa.Column("borough", sa.String(length=32), nullable=True),
        sa.Column("gender", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient")),
    )
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patient_family"), ["family"], unique=False)
        batch_op.create_index(batch_op.f("ix_patient_last_updated"), ["last_updated"], unique=False)

    op.create_table(
        "patient_identifier",
        sa.Column("system", sa.String(length=255), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("patient", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("system", "value", name=op.f("pk_patient_identifier")),
    )
    with op.batch_alter_table("patient_identifier", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patient_identifier_patient"), ["patient"], unique=False)

    op.create_table(
        "practitioner",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practitioner")),
    )
    with op.batch_alter_table("practitioner", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_practitioner_last_updated"), ["last_updated"], unique=False)

    op.create_table(
        "practitioner_role",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("practitioner", sa.String(length=80), nullable=True),
        sa.Column("organization", sa.String(length=80), nullable=True),
        sa.Column("service", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practitioner_role")),
    )
    with op.batch_alter_table("practitioner_role", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_practitioner_role_last_updated"), ["last_updated"], unique=False)
        batch_op.create_index(batch_op.f("ix_practitioner_role_service"), ["service"], unique=False)

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
        "subscription",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("topic", sa.String(length=120), nullable=False),
        sa.Column("endpoint", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription")),
    )
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscription_last_updated"), ["last_updated"], unique=False)
        batch_op.create_index(batch_op.f("ix_subscription_topic"), ["topic"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscription_topic"))
        batch_op.drop_index(batch_op.f("ix_subscription_last_updated"))

    op.drop_table("subscription")
    op.drop_table("resource_history")
    with op.batch_alter_table("practitioner_role", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_practitioner_role_service"))
        batch_op.drop_index(batch_op.f("ix_practitioner_role_last_updated"))

    op.drop_table("practitioner_role")
    with op.batch_alter_table("practitioner", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_practitioner_last_updated"))

    op.drop_table("practitioner")
    with op.batch_alter_table("patient_identifier", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_identifier_patient"))

    op.drop_table("patient_identifier")
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_last_updated"))
        batch_op.drop_index(batch_op.f("ix_patient_family"))

    op.drop_table("patient")
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organization_last_updated"))

    op.drop_table("organization")
    with op.batch_alter_table("location", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_location_last_updated"))

    op.drop_table("location")
    op.drop_table("idempotency")
    with op.batch_alter_table("healthcare_service", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_healthcare_service_organization"))
        batch_op.drop_index(batch_op.f("ix_healthcare_service_last_updated"))

    op.drop_table("healthcare_service")
    op.drop_table("event_log")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_due")

    op.drop_table("delivery")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_recorded"))
        batch_op.drop_index(batch_op.f("ix_audit_event_patient"))
        batch_op.drop_index(batch_op.f("ix_audit_event_last_updated"))
        batch_op.drop_index(batch_op.f("ix_audit_event_agent"))

    op.drop_table("audit_event")
