"""Server-side sessions: the browser holds only an opaque random id in an HttpOnly cookie.

The clinician's access token never reaches the browser (so no script can read it, and it is not
sent with every request as a cookie would be): it stays in this process's memory, keyed by a
256-bit random id, and is forgotten on sign-out, on expiry, or when the process restarts (the
clinician then signs in again). The cookie is `HttpOnly`, `SameSite=Strict` and, behind TLS,
`Secure`. Every form that changes something also carries the session's own anti-forgery token.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

COOKIE = "continuum_session"


@dataclass
class Session:
    """A signed-in clinician: who they act as, their team, their token."""

    role: str
    name: str
    team: str
    team_name: str
    token: str
    expires_at: float
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))


class Sessions:
    """The sessions of this process, in memory."""

    def __init__(self) -> None:
        self._by_id: dict[str, Session] = {}

    def open(self, session: Session) -> str:
        """Keep `session`; the id to put in the cookie."""
        self._expire()
        sid = secrets.token_urlsafe(32)
        self._by_id[sid] = session
        return sid

    def get(self, sid: str | None) -> Session | None:
        """The live session for a cookie value, if any."""
        if not sid:
            return None
        session = self._by_id.get(sid)
        if session is None or session.expires_at <= time.time():
            self._by_id.pop(sid, None)
            return None
        return session

    def close(self, sid: str | None) -> None:
        """Forget a session."""
        if sid:
            self._by_id.pop(sid, None)

    def _expire(self) -> None:
        now = time.time()
        for sid in [sid for sid, s in self._by_id.items() if s.expires_at <= now]:
            del self._by_id[sid]
