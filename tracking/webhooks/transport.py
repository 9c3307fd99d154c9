"""One POST to a listener, connected to an address that was just checked (IP pinning).

urllib3 is given the checked IP as the host to connect to, while the Host header, TLS SNI and
certificate check use the listener's name. So a DNS answer that changes between the SSRF check
and the connection (DNS rebinding) cannot make us connect to a private address. Redirects are
never followed (a 3xx is a failed attempt), urllib3 retries nothing, and the answer's body is
read only up to a few kilobytes.
"""

import time
from dataclasses import dataclass

import urllib3
from django.conf import settings

from tracking.webhooks.listeners import Listener

USER_AGENT = "TrackingAccessPortal-Webhooks/1.0"
MAX_ANSWER_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int | None
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(*, listener: Listener, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` to the listener's first checked address. Never raises for network trouble:
    the answer carries the status code or the error."""
    address = listener.addresses[0]
    timeout = urllib3.Timeout(
        connect=settings.WEBHOOK_TIMEOUT_SECONDS, read=settings.WEBHOOK_TIMEOUT_SECONDS
    )
    common = {"port": listener.port, "timeout": timeout, "retries": False, "maxsize": 1}
    if listener.scheme == "https":
        pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
            address,
            server_hostname=listener.host,
            assert_hostname=listener.host,
            cert_reqs="CERT_REQUIRED",
            **common,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, **common)
    sent = {**headers, "Host": listener.host_header, "User-Agent": USER_AGENT}
    started = time.monotonic()
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
    except urllib3.exceptions.HTTPError as exc:
        status, error = None, _describe(exc)
    finally:
        pool.close()
    return Answer(status, error, int((time.monotonic() - started) * 1000))


def _describe(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or exc
    kind = type(reason).__name__
    return f"{kind}: {reason}"[:500]
