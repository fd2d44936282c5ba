"""A stand-in for an EPR's rest-hook endpoint: a real HTTP server on loopback that records what it is sent.

Its port is reserved (bound) when it is made, but it listens only once `start()` is called: until
then every delivery to it is refused, as to an EPR that is down.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from tests.e2e.conftest import HOST, eventually


@dataclass(frozen=True)
class Delivery:
    """One POST the receiver was sent."""

    path: str
    headers: dict[str, str]
    event: dict[str, Any]


class EventReceiver:
    """Records every POSTed JSON body and answers 200."""

    def __init__(self, path: str = "/continuum-events") -> None:
        self.path = path
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((HOST, 0))
        self.port: int = self._socket.getsockname()[1]
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The endpoint to put in a Subscription."""
        return f"http://{HOST}:{self.port}{self.path}"

    @property
    def deliveries(self) -> list[Delivery]:
        """What was received so far, in order."""
        with self._lock:
            return list(self._deliveries)

    def record(self, delivery: Delivery) -> None:
        """Keep one delivery (called from the server's request threads)."""
        with self._lock:
            self._deliveries.append(delivery)

    def start(self) -> None:
        """Start listening on the reserved port."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                event = orjson.loads(self.rfile.read(length))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.record(Delivery(self.path, headers, event))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        server = ThreadingHTTPServer((HOST, self.port), Handler, bind_and_activate=False)
        server.socket.close()
        server.socket = self._socket
        server.server_activate()
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop listening and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        else:
            self._socket.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def events(self, where: Callable[[dict[str, Any]], bool] = lambda _: True) -> list[dict[str, Any]]:
        """The events received that satisfy `where`, in order (a redelivery appears twice)."""
        return [d.event for d in self.deliveries if where(d.event)]

    def wait_for(self, where: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until at least one event satisfying `where` has arrived; all such events so far."""
        return eventually(lambda: self.events(where) or None, timeout, "an event at the receiver")


@contextmanager
def receiver(started: bool = True) -> Iterator[EventReceiver]:
    """An EventReceiver, listening unless `started` is False, closed afterwards."""
    made = EventReceiver()
    try:
        if started:
            made.start()
        yield made
    finally:
        made.close()
