"""The exported OpenAPI documents in `openapi/` match the code (run `make openapi` after changing routes)."""

from __future__ import annotations

import pytest

from services.export_openapi import OPENAPI, documents, render


@pytest.mark.parametrize("name", sorted(documents()))
def test_exported_openapi_matches_the_code(name: str) -> None:
    exported = (OPENAPI / f"{name}.json").read_text()
    assert exported == render(documents()[name]()), f"openapi/{name}.json is stale: run `make openapi`"
