"""Alembic environment of the transitions service."""

from services.kit.migrate import run_env
from services.transitions.persistence.tables import metadata

run_env(metadata)
