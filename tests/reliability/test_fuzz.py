"""Item 8: schemathesis against each exported OpenAPI document: no 5xx, every error an OperationOutcome.

Each document in `openapi/` is fuzzed against its own process, running for real (`tests/e2e`'s
stack, tokens verified), with an EPR's token: the services directly and the gateway in front.
Schemathesis sends the documents' examples, boundary and negative cases (coverage phase) and
random valid and invalid requests (fuzzing phase). The seed is fixed and the number of random
cases per operation bounded, so a run is repeatable and takes a minute or two.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis import Case

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.slow

OPENAPI = Path(__file__).resolve().parents[2] / "openapi"
SEED = 20260105
MAX_EXAMPLES = 25
SERVER_TIMEOUT_SECONDS = 30.0


def _schema(name: str) -> Any:
    schema = schemathesis.openapi.from_path(OPENAPI / f"{name}.json")
    schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True)
    return schema


referrals = _schema("referrals")
careplans = _schema("careplans")
transitions = _schema("transitions")
gateway = _schema("gateway")


def _check(stack: Stack, process: str, case: Case[Any]) -> None:
    """Send the case with an EPR's token and check what came back."""
    token = _tokens(stack)
    response = case.call(
        base_url=stack.services[process].url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=SERVER_TIMEOUT_SECONDS,
    )
    where = f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:500]}"
    assert response.status_code < 500, where
    if response.status_code >= 400:
        content_type = (response.headers.get("content-type") or [""])[0]
        assert content_type.startswith("application/fhir+json"), where
        body = response.json()
        assert body.get("resourceType") == "OperationOutcome", where
        assert body.get("issue"), where


_cache: dict[str, str] = {}


def _tokens(stack: Stack) -> str:
    if "epr" not in _cache:
        _cache["epr"] = stack.token("epr-beh")
    return _cache["epr"]


@referrals.parametrize()  # type: ignore[untyped-decorator]  # schemathesis leaves it untyped
@hypothesis.seed(SEED)
@hypothesis.settings(deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
def test_the_referrals_service_never_fails_with_5xx(stack: Stack, case: Case[Any]) -> None:
    _check(stack, "referrals", case)


@careplans.parametrize()  # type: ignore[untyped-decorator]  # schemathesis leaves it untyped
@hypothesis.seed(SEED)
@hypothesis.settings(deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
def test_the_careplans_service_never_fails_with_5xx(stack: Stack, case: Case[Any]) -> None:
    _check(stack, "careplans", case)


@transitions.parametrize()  # type: ignore[untyped-decorator]  # schemathesis leaves it untyped
@hypothesis.seed(SEED)
@hypothesis.settings(deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
def test_the_transitions_service_never_fails_with_5xx(stack: Stack, case: Case[Any]) -> None:
    _check(stack, "transitions", case)


@gateway.parametrize()  # type: ignore[untyped-decorator]  # schemathesis leaves it untyped
@hypothesis.seed(SEED)
@hypothesis.settings(deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
def test_the_gateway_never_fails_with_5xx(stack: Stack, case: Case[Any]) -> None:
    _check(stack, "gateway", case)
