"""One POST to a listener, connected to an address that was just checked (IP pinning), with a
hard deadline for the whole exchange.

urllib3 is given the checked IP as the host to connect to, while the Host header, TLS SNI and
certificate check use the listener's name. So a DNS answer that changes between the SSRF check
and the connection (DNS rebinding) cannot make us connect to a private address. Redirects are
never followed (a 3xx is a failed attempt), urllib3 retries nothing, and the answer's body is
read only up to a few kilobytes.

Deadline: socket timeouts apply to each read, so a listener that sends its answer a byte at a
time (each within the timeout) could hold a worker for ever. `_Deadline` therefore shuts the
connection's socket down once WEBHOOK_TIMEOUT_SECONDS have passed since the POST began:
connecting, the TLS handshake, sending the body and reading the answer all end there, and the
attempt is a failure. The delivery's lease (tracking.webhooks.delivery.lease_seconds) is
strictly longer than this deadline, so no second worker takes a delivery still in flight.
"""

import socket
import threading
import time
from dataclasses import dataclass

import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection

from tracking.webhooks.listeners import Listener

USER_AGENT = "TrackingAccessPortal-Webhooks/1.0"
MAX_ANSWER_BYTES = 4096


def deadline_seconds() -> float:
    """The longest a whole POST may take, from connecting to the last byte read."""
    return float(settings.WEBHOOK_TIMEOUT_SECONDS)


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int | None
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _Deadline:
    """A timer that shuts the POST's socket down when its time is up.

    shutdown() acts on the connection, not on one file descriptor, so shutting down a
    duplicate of the socket wakes a read or write blocked on the original, plain or TLS (the
    TLS socket takes over the original's descriptor)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._lock = threading.Lock()
        self._guarded: socket.socket | None = None
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def guard(self, sock: socket.socket) -> None:
        with self._lock:
            self._guarded = sock.dup()
            if self.expired:  # the time ran out while connecting
                self._shut()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            self._shut()

    def _shut(self) -> None:
        if self._guarded is not None:
            try:
                self._guarded.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the other side

    def stop(self) -> None:
        self._timer.cancel()
        with self._lock:
            if self._guarded is not None:
                self._guarded.close()
                self._guarded = None


class _GuardedHTTPConnection(HTTPConnection):
    deadline: _Deadline | None = None

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        if self.deadline is not None:
            self.deadline.guard(sock)
        return sock


class _GuardedHTTPSConnection(HTTPSConnection):
    deadline: _Deadline | None = None

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        if self.deadline is not None:
            self.deadline.guard(sock)  # before the TLS handshake, which the deadline covers
        return sock


class _GuardedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection
    deadline: _Deadline | None = None

    def _new_conn(self):  # noqa: ANN202 - urllib3's type
        conn = super()._new_conn()
        conn.deadline = self.deadline
        return conn


class _GuardedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection
    deadline: _Deadline | None = None

    def _new_conn(self):  # noqa: ANN202 - urllib3's type
        conn = super()._new_conn()
        conn.deadline = self.deadline
        return conn


def post(*, listener: Listener, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` to the listener's first checked address, within deadline_seconds() in all.
    Never raises for network trouble: the answer carries the status code or the error."""
    address = listener.addresses[0]
    seconds = deadline_seconds()
    # Per-operation timeouts too, so a dead connection ends without waiting for the timer.
    timeout = urllib3.Timeout(connect=seconds, read=seconds)
    common = {"port": listener.port, "timeout": timeout, "retries": False, "maxsize": 1}
    if listener.scheme == "https":
        pool: urllib3.HTTPConnectionPool = _GuardedHTTPSPool(
            address,
            server_hostname=listener.host,
            assert_hostname=listener.host,
            cert_reqs="CERT_REQUIRED",
            **common,
        )
    else:
        pool = _GuardedHTTPPool(address, **common)
    deadline = _Deadline(seconds)
    pool.deadline = deadline
    sent = {**headers, "Host": listener.host_header, "User-Agent": USER_AGENT}
    started = time.monotonic()
    deadline.start()
    status: int | None
    try:
        response = pool.urlopen(
            "POST",
            listener.target,
            body=body,
            headers=sent,
            redirect=False,
            retries=False,
            assert_same_host=False,
            preload_content=False,
        )
        try:
            response.read(MAX_ANSWER_BYTES)
        finally:
            response.release_conn()
        status, error = response.status, ""
        if 300 <= status < 400:
            error = "Redirects are not followed; the listener must answer 2xx itself."
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        status, error = None, _describe(exc)
    finally:
        deadline.stop()
        pool.close()
    if deadline.expired:
        # Whatever came before the cut (even a 2xx status line) does not count: the answer
        # was not complete in time. A listener that did act on it may get the delivery again.
        status = None
        error = (
            f"Timeout: the listener's answer was not complete within {seconds:g} s "
            "(connecting, sending and reading the answer in all)."
        )
    return Answer(status, error, int((time.monotonic() - started) * 1000))


def _describe(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or exc
    kind = type(reason).__name__
    return f"{kind}: {reason}"[:500]
