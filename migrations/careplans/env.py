"""Alembic environment of the care-plans service."""

from services.careplans.persistence.tables import metadata
from services.kit.migrate import run_env

run_env(metadata)
