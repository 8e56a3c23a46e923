"""A fault-injecting HTTP/1.1 proxy on loopback, in front of the real clinic server.

For each request a kiosk sends, the proxy picks a fault (or none) and records what it did
and when, so a test can check the client's behaviour afterwards:

- PASS: forward to the server and relay its answer;
- ERROR_500 / ERROR_503: answer itself, server not involved;
- RATE_LIMIT / RATE_LIMIT_DATE: answer 429 with Retry-After in seconds / as an HTTP-date
  and record the deadline (no request may arrive before it);
- STALL_AFTER_FORWARD: forward (the server stores the batch!) but answer only after the
  client's read timeout, then hang up: the client must resend, the server must dedupe;
- RESET_BEFORE / RESET_AFTER_FORWARD: reset the connection (RST) before / after the server
  saw the request;
- the server being down or restarting is done by the test (the proxy then resets).

Used by tests/sync and bench/sync.py; standard library only.
"""

from __future__ import annotations

import contextlib
import http.client
import math
import random
import socket
import socketserver
import struct
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from enum import StrEnum


class Fault(StrEnum):
    PASS = "pass"
    ERROR_500 = "500"
    ERROR_503 = "503"
    RATE_LIMIT = "429"
    RATE_LIMIT_DATE = "429-date"
    STALL_AFTER_FORWARD = "stall"
    RESET_BEFORE = "reset-before"
    RESET_AFTER_FORWARD = "reset-after"


@dataclass
class Event:
    at: float  # time.time() when the request was fully received
    method: str
    path: str
    fault: Fault
    status: int | None = None  # what the client got (None: no answer)
    retry_after_deadline: float | None = None  # for 429: no request before this time


@dataclass
class FaultPlan:
    """Probability of each fault per request (the rest pass)."""

    weights: dict[Fault, float] = field(default_factory=dict)
    stall_seconds: float = 2.0
    retry_after_seconds: int = 1
    seed: int = 1

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def pick(self) -> Fault:
        with self._lock:
            draw = self._rng.random()
        for fault, weight in self.weights.items():
            if draw < weight:
                return fault
            draw -= weight
        return Fault.PASS


def _reset(conn: socket.socket) -> None:
    """Close with RST instead of FIN (SO_LINGER 0): the client sees 'connection reset'."""
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
}


class FaultProxy:
    """Listen on 127.0.0.1:<port> and forward to http://127.0.0.1:<upstream_port>."""

    def __init__(self, upstream_port: int, plan: FaultPlan | None = None, port: int = 0) -> None:
        self.upstream_port = upstream_port
        self.plan = plan or FaultPlan()
        self.events: list[Event] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._serve_connection(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _record(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    # --- one client connection (keep-alive: several requests) ------------------------
    def _serve_connection(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            while True:
                request = self._read_request(reader)
                if request is None:
                    return
                if not self._handle(conn, *request):
                    return
        except OSError:
            return
        finally:
            reader.close()
            with contextlib.suppress(OSError):
                conn.close()

    @staticmethod
    def _read_request(
        reader: socket.SocketIO | object,
    ) -> tuple[str, str, list[tuple[str, str]], bytes] | None:
        line = reader.readline(65537)  # type: ignore[attr-defined]
        if not line:
            return None
        method, path, _version = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        headers: list[tuple[str, str]] = []
        length = 0
        while True:
            raw = reader.readline(65537)  # type: ignore[attr-defined]
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            headers.append((name.strip(), value.strip()))
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        body = reader.read(length) if length else b""  # type: ignore[attr-defined]
        return method, path, headers, body

    def _forward(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes] | None:
        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        try:
            upstream.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                if name.lower() not in _HOP_BY_HOP:
                    upstream.putheader(name, value)
            upstream.putheader("Content-Length", str(len(body)))
            upstream.endheaders(body)
            response = upstream.getresponse()
            data = response.read()
            return response.status, response.getheaders(), data
        except OSError:
            return None  # the server is down or restarting
        finally:
            upstream.close()

    @staticmethod
    def _send(
        conn: socket.socket, status: int, headers: list[tuple[str, str]], body: bytes
    ) -> None:
        reason = http.client.responses.get(status, "Unknown")
        lines = [f"HTTP/1.1 {status} {reason}"]
        lines += [f"{n}: {v}" for n, v in headers if n.lower() not in _HOP_BY_HOP]
        lines += [f"Content-Length: {len(body)}", "Connection: keep-alive", "", ""]
        conn.sendall("\r\n".join(lines).encode("latin-1") + body)

    def _handle(
        self,
        conn: socket.socket,
        method: str,
        path: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> bool:
        """Answer one request; return whether the connection stays open."""
        fault = self.plan.pick()
        event = Event(at=time.time(), method=method, path=path, fault=fault)
        json_type = [("Content-Type", "application/json")]
        if fault in (Fault.ERROR_500, Fault.ERROR_503):
            event.status = int(fault.value)
            self._record(event)
            self._send(conn, event.status, json_type, b'{"detail":"injected"}')
            return True
        if fault in (Fault.RATE_LIMIT, Fault.RATE_LIMIT_DATE):
            if fault is Fault.RATE_LIMIT:
                seconds = self.plan.retry_after_seconds
                deadline = time.time() + seconds
                value = str(seconds)
            else:
                # HTTP-dates have whole seconds: pick a whole second at least N s ahead.
                deadline = float(math.ceil(time.time()) + self.plan.retry_after_seconds)
                value = formatdate(deadline, usegmt=True)
            event.status = 429
            event.retry_after_deadline = deadline
            self._record(event)
            self._send(conn, 429, json_type + [("Retry-After", value)], b'{"detail":"slow down"}')
            return True
        if fault is Fault.RESET_BEFORE:
            self._record(event)
            _reset(conn)
            return False
        answer = self._forward(method, path, headers, body)
        if answer is None:  # server down: the client sees a reset connection
            self._record(event)
            _reset(conn)
            return False
        status, response_headers, data = answer
        if fault is Fault.RESET_AFTER_FORWARD:
            self._record(event)
            _reset(conn)
            return False
        if fault is Fault.STALL_AFTER_FORWARD:
            self._record(event)
            time.sleep(self.plan.stall_seconds)
            _reset(conn)
            return False
        event.status = status
        self._record(event)
        self._send(conn, status, response_headers, data)
        return True


def retry_after_violations(events: list[Event]) -> list[tuple[Event, Event]]:
    """Return (429 event, request event) pairs where a request came before the deadline."""
    ordered = sorted(events, key=lambda e: e.at)
    violations = []
    for i, limit in enumerate(ordered):
        if limit.retry_after_deadline is None:
            continue
        for later in ordered[i + 1 :]:
            if later.at >= limit.retry_after_deadline:
                break
            violations.append((limit, later))
    return violations
