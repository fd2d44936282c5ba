"""Export each process's OpenAPI document to `openapi/` (`make openapi`); a test keeps them in sync."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.main import create_app as gateway_app
from gateway.settings import Settings as GatewaySettings
from services.careplans.main import create_app as careplans_app
from services.careplans.settings import Settings as CareplansSettings
from services.referrals.main import create_app as referrals_app
from services.referrals.settings import Settings as ReferralsSettings
from services.transitions.main import create_app as transitions_app
from services.transitions.settings import Settings as TransitionsSettings

OPENAPI = Path(__file__).resolve().parents[1] / "openapi"


def documents() -> dict[str, Callable[[], dict[str, Any]]]:
    """Each process's name and a function producing its OpenAPI document (no database is touched)."""
    return {
        "careplans": lambda: careplans_app(
            CareplansSettings(database_url="sqlite+aiosqlite:///:memory:", run_background_tasks=False)
        ).openapi(),
        "gateway": lambda: gateway_app(
            GatewaySettings(database_url="sqlite+aiosqlite:///:memory:", run_background_tasks=False)
        ).openapi(),
        "referrals": lambda: referrals_app(
            ReferralsSettings(database_url="sqlite+aiosqlite:///:memory:", run_background_tasks=False)
        ).openapi(),
        "transitions": lambda: transitions_app(
            TransitionsSettings(database_url="sqlite+aiosqlite:///:memory:", run_background_tasks=False)
        ).openapi(),
    }


def render(document: dict[str, Any]) -> str:
    """The exported text: stable key order, one trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def main() -> None:
    """Write every document."""
    OPENAPI.mkdir(exist_ok=True)
    for name, build in documents().items():
        path = OPENAPI / f"{name}.json"
        path.write_text(render(build()))
        print(f"wrote {path.relative_to(OPENAPI.parent)}")


if __name__ == "__main__":
    main()
