"""Rate limiting at the gateway: one token bucket per authenticated client.

Each client (the `client_id` of its access token; one bucket for all unauthenticated callers of a
public path from the same address) may send `rate_limit_burst` requests at once and then
`rate_limit_per_second` a second on average. A request over the limit is answered 429 with an
OperationOutcome (`throttled`) and `Retry-After`, the whole seconds until a token is free again.
The defaults sit far above what an EPR, the clinicians' client or the benchmarks send, so only a
runaway client ever meets them. The buckets live in the gateway process: N gateway replicas allow
N times the limit, which is the right order of magnitude for a safeguard against floods.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, FastAPI, Request

from services.kit.app import PrincipalDep
from services.kit.errors import TooManyRequests

MAX_CLIENTS = 10_000
"""Buckets kept at once; the oldest idle ones are forgotten first (a full bucket holds no state)."""


@dataclass
class Bucket:
    """Tokens left and when they were last counted."""

    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed on the client id: `burst` at once, `per_second` sustained."""

    def __init__(self, per_second: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second = per_second
        self.burst = max(1, burst)
        self.clock = clock
        self.buckets: dict[str, Bucket] = {}

    @property
    def enabled(self) -> bool:
        """A rate of zero (or less) switches limiting off."""
        return self.per_second > 0

    def wait_for(self, client: str) -> float:
        """Take a token for `client`: 0 when one was free, else the seconds until one will be."""
        if not self.enabled:
            return 0.0
        now = self.clock()
        bucket = self.buckets.pop(client, None)
        if bucket is None:
            bucket = Bucket(float(self.burst), now)
            if len(self.buckets) >= MAX_CLIENTS:
                del self.buckets[next(iter(self.buckets))]
        else:
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.per_second)
            bucket.updated = now
        self.buckets[client] = bucket  # re-inserted: the dict stays ordered from least to most recently used
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.per_second


async def limit(request: Request, principal: PrincipalDep) -> None:
    """429 with Retry-After when the caller has used up its bucket."""
    limiter: RateLimiter = request.app.state.rate_limiter
    if getattr(request.state, "principal", None) is None:  # a public path called without a token
        client = f"address:{request.client.host if request.client else 'unknown'}"
    else:
        client = f"client:{principal.client_id}"
    wait = limiter.wait_for(client)
    if wait > 0:
        retry = str(max(1, math.ceil(wait)))
        raise TooManyRequests(
            f"Too many requests from {principal.client_id}; retry after {retry} s",
            "Authorization",
            headers={"Retry-After": retry},
        )


def install(app: FastAPI, per_second: float, burst: int) -> None:
    """Limit every route included in `app` from now on (call before including the routers)."""
    app.state.rate_limiter = RateLimiter(per_second, burst)
    app.router.dependencies.append(Depends(limit))
