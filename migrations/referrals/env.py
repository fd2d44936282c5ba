"""Alembic environment of the referrals service."""

from services.kit.migrate import run_env
from services.referrals.persistence.tables import metadata

run_env(metadata)
