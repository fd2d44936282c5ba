"""Apply every process's migrations to its configured database (`make migrate`)."""

from __future__ import annotations

from gateway.settings import Settings as GatewaySettings
from services.careplans.settings import Settings as CareplansSettings
from services.kit.migrate import upgrade
from services.referrals.settings import Settings as ReferralsSettings
from services.transitions.settings import Settings as TransitionsSettings


def main() -> None:
    """Migrate each database to head."""
    for name, url in (
        ("gateway", GatewaySettings().database_url),
        ("referrals", ReferralsSettings().database_url),
        ("careplans", CareplansSettings().database_url),
        ("transitions", TransitionsSettings().database_url),
    ):
        upgrade(name, url)
        print(f"migrated {name}: {url}")


if __name__ == "__main__":
    main()
