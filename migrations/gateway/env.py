"""Alembic environment of the gateway."""

from gateway.tables import metadata
from services.kit.migrate import run_env

run_env(metadata)
