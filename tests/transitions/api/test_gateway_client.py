"""The typed gateway client: what other services answer becomes a record or an error a client can act on."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.kit.auth import TokenSource
from services.kit.errors import BadGateway, Conflict, GatewayTimeout, Unprocessable
from services.transitions.clients.gateway import GatewayClient
from tests.transitions.fakes import GATEWAY, FakeGateway


def client_for(handler: Any, tokens: bool = False) -> GatewayClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    source = TokenSource(f"{GATEWAY}/auth/token", "transitions", "secret", http) if tokens else None
    return GatewayClient(GATEWAY, http, source)


def referral(value: str = "case-1:x") -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": "urn:x", "value": value}],
        "intent": "order",
        "category": [{"coding": [{"system": "urn:y", "code": "z"}]}],
    }


async def test_patients_and_caseloads_are_read_as_records() -> None:
    fake = FakeGateway(page_size=1)
    fake.young_person("yp-1", "2008-02-29", high_risk=True)
    fake.young_person("yp-2", "2008-03-01")
    gateway = client_for(fake.handle)
    record = await gateway.patient("Patient/yp-1", "patient")
    assert record is not None
    assert (record.birth_date.isoformat() if record.birth_date else None, record.high_risk, record.borough) == (
        "2008-02-29",
        True,
        "barnet",
    )
    assert await gateway.patient("Patient/nobody", "patient") is None
    episodes = await gateway.caseload(["HealthcareService/barnet-cypmhs"], ("active",), "service")
    assert [e.patient for e in episodes] == ["Patient/yp-1", "Patient/yp-2"]  # two pages followed
    assert episodes[0].team == "HealthcareService/barnet-cypmhs"
    assert set(await gateway.patients(["Patient/yp-1", "Patient/yp-2"], "service")) == {"Patient/yp-1", "Patient/yp-2"}


async def test_referrals_are_sent_once_with_if_none_exist() -> None:
    fake = FakeGateway()
    gateway = client_for(fake.handle)
    body = {**referral(), "reasonCode": [{"text": "r"}], "performer": [{"reference": "HealthcareService/h"}]}
    body["category"] = [{"coding": [{"system": "https://continuum.example.org/fhir/CodeSystem/referral-source",
                                     "code": "internal-team"}]}]  # fmt: skip
    first = await gateway.refer(body, "here")
    assert await gateway.refer(body, "here") == first
    assert fake.calls("POST", "/fhir/ServiceRequest")[0].headers["if-none-exist"] == "identifier=urn:x|case-1:x"
    assert len(fake.referrals) == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (409, Conflict),
        (412, Conflict),
        (422, Unprocessable),
        (400, Unprocessable),
        (500, BadGateway),
        (403, BadGateway),
    ],
)
async def test_a_refused_referral_is_an_error_naming_the_step(status: int, error: type[Exception]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status, json={"resourceType": "OperationOutcome", "issue": [{"code": "x", "diagnostics": "no thanks"}]}
        )

    with pytest.raises(error) as info:
        await client_for(handler).refer(referral(), "Parameters.parameter.where(name='supportNeeded')")
    assert "no thanks" in str(info.value)
    assert info.value.expression == ("Parameters.parameter.where(name='supportNeeded')",)  # type: ignore[attr-defined]


async def test_an_unreachable_or_slow_gateway_is_502_or_504() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(BadGateway):
        await client_for(down).patient("Patient/p", "patient")
    with pytest.raises(GatewayTimeout):
        await client_for(slow).episodes_of("Patient/p", "patient")


async def test_answers_that_are_not_fhir_are_502() -> None:
    def garbage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<html>oops</html>")

    with pytest.raises(BadGateway):
        await client_for(garbage).patient("Patient/p", "patient")
    with pytest.raises(BadGateway):
        await client_for(lambda r: httpx.Response(503, content=b"busy")).caseload(["x"], ("active",), "service")


async def test_the_service_token_is_fetched_and_sent() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/token":
            return httpx.Response(200, json={"access_token": "t0k3n", "expires_in": 300})
        seen.append(request.headers.get("authorization", ""))
        return httpx.Response(404, json={"resourceType": "OperationOutcome", "issue": []})

    gateway = client_for(handler, tokens=True)
    assert await gateway.patient("Patient/p", "patient") is None
    assert seen == ["Bearer t0k3n"]


async def test_a_token_endpoint_that_refuses_is_502() -> None:
    gateway = client_for(lambda r: httpx.Response(401, json={"error": "invalid_client"}), tokens=True)
    with pytest.raises(BadGateway):
        await gateway.patient("Patient/p", "patient")
