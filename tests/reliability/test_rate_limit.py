"""Item 10: a client over its rate limit gets 429 OperationOutcome with Retry-After; others are unaffected."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.ratelimit import RateLimiter
from services.kit.testing import assert_outcome
from tests.reliability.conftest import DeploymentFactory


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def limited(make_deployment: DeploymentFactory) -> Any:
    """A secured deployment whose gateway lets each client send 3 at once, then one every 2 s."""
    deployment = await make_deployment(secured=True, gateway={"rate_limit_per_second": 0.5, "rate_limit_burst": 3})
    ticks = Ticks()
    limiter: RateLimiter = deployment.gateway.state.rate_limiter
    limiter.clock = ticks
    return deployment, ticks


async def test_a_client_over_its_limit_gets_429_with_retry_after(limited: Any) -> None:
    deployment, ticks = limited
    epr = deployment.client(token=await deployment.token("epr-beh"))
    for _ in range(3):
        assert (await epr.get("/fhir/HealthcareService/barnet-psychosis")).status_code == 200
    refused = await epr.get("/fhir/HealthcareService/barnet-psychosis")
    assert_outcome(refused, 429, "throttled")
    assert refused.headers["retry-after"] == "2"
    assert_outcome(await epr.post("/fhir/ServiceRequest", json={}), 429, "throttled")

    ticks.now += 2.0  # one token is back
    assert (await epr.get("/fhir/HealthcareService/barnet-psychosis")).status_code == 200
    assert_outcome(await epr.get("/fhir/HealthcareService/barnet-psychosis"), 429, "throttled")


async def test_one_clients_flood_does_not_limit_another(limited: Any) -> None:
    deployment, _ = limited
    flooding = deployment.client(token=await deployment.token("epr-beh"))
    other = deployment.client(token=await deployment.token("epr-ci"))
    codes = [(await flooding.get("/fhir/HealthcareService")).status_code for _ in range(10)]
    assert codes.count(429) == 7
    assert (await other.get("/fhir/HealthcareService")).status_code == 200


async def test_the_default_limit_does_not_trouble_normal_use(make_deployment: DeploymentFactory) -> None:
    deployment = await make_deployment(secured=True)
    epr = deployment.client(token=await deployment.token("epr-beh"))
    codes = {(await epr.get("/fhir/HealthcareService/barnet-psychosis")).status_code for _ in range(200)}
    assert codes == {200}
