"""Listener URLs, and the SSRF rules they must pass at create/update and again before every
POST (a name may resolve elsewhere by then).

Rules (docs/webhooks.md, "Listener URLs and SSRF"):
* at most 200 characters, http(s) only, https when settings.WEBHOOK_REQUIRE_HTTPS;
* no user name or password in the URL;
* every address the host resolves to must be public: private, loopback, link-local, multicast,
  reserved, unspecified, shared (100.64/10) and other non-global addresses are refused, and so
  are IPv4-mapped / IPv4-compatible / 6to4 / Teredo IPv6 forms of them. Loopback is allowed
  only with settings.WEBHOOK_ALLOW_LOOPBACK (tests deliver to a live_server on 127.0.0.1).
* Refusals of a host *name* say only that it "resolves to an address that is not public" or
  "cannot be resolved": which address an internal name has (or why it failed) would map our
  internal DNS for whoever asks. The details go to the server log. A literal IP is named in
  its refusal (the caller wrote it).
* Any port is allowed (listeners run on 443, 8443, ...): the addresses are what is checked.

`resolve` returns the checked addresses; delivery connects to one of them (the IP is pinned,
see tracking.webhooks.transport), so a DNS answer that changes between the check and the connection
cannot reach a private address.
"""

import ipaddress
import logging
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from core.errors import DomainError

logger = logging.getLogger(__name__)

MAX_URL_LENGTH = 200
FIELD = "listener_url"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ListenerRefused(DomainError):
    """The listener URL breaks a rule; the message says which."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field=FIELD)


@dataclass(frozen=True, slots=True)
class Listener:
    url: str
    scheme: str
    host: str  # as in the URL, without brackets; IDNA-encoded
    port: int
    target: str  # path and query, what the request line carries
    addresses: tuple[str, ...] = ()

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def parse(url: object) -> Listener:
    """Check the URL's form (no network)."""
    if not isinstance(url, str) or not url.strip():
        raise ListenerRefused("Give the listener URL.")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise ListenerRefused(
            f"The listener URL can be at most {MAX_URL_LENGTH} characters; this one has {len(url)}."
        )
    if any(char.isspace() or ord(char) < 32 for char in url):
        raise ListenerRefused("The listener URL must not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ListenerRefused(f"The listener URL is not a valid URL ({exc}).") from exc
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise ListenerRefused("The listener URL must start with https://.")
    if scheme != "https" and settings.WEBHOOK_REQUIRE_HTTPS:
        raise ListenerRefused("The listener URL must use https, not http.")
    if parts.username is not None or parts.password is not None:
        raise ListenerRefused(
            "The listener URL must not contain a user name or password; use the secret "
            "(X-HMAC) to authenticate notifications."
        )
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ListenerRefused("The listener URL has no host name.")
    try:
        host = host.encode("idna").decode("ascii") if not _is_ip(host) else host
    except UnicodeError as exc:
        raise ListenerRefused("The listener URL's host name is not a valid name.") from exc
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    return Listener(
        url=url,
        scheme=scheme,
        host=host,
        port=port or (443 if scheme == "https" else 80),
        target=target,
    )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped ::ffff:a.b.c.d, compatible ::a.b.c.d,
    6to4 2002::/16, Teredo's client), if any: it reaches that IPv4 host."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    packed = address.packed
    if packed[:12] == bytes(12) and packed[12:] not in (bytes(4), b"\x00\x00\x00\x01"):
        return ipaddress.IPv4Address(packed[12:])  # deprecated IPv4-compatible ::a.b.c.d
    return None


def refusal(address: IPAddress) -> str | None:
    """Why this address may not be a listener, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            why = refusal(embedded)
            return f"{why} (as an IPv6 form of {embedded})" if why else None
    if address.is_loopback:
        return None if settings.WEBHOOK_ALLOW_LOOPBACK else "a loopback address"
    site_local = isinstance(address, ipaddress.IPv6Address) and address.is_site_local
    for kind, flag in (
        ("an unspecified address", address.is_unspecified),
        ("a link-local address", address.is_link_local),
        ("a site-local address", site_local),  # fec0::/10: deprecated, but routed internally
        ("a multicast address", address.is_multicast),
        ("a private address", address.is_private),
        ("a reserved address", address.is_reserved),
    ):
        if flag:
            return kind
    if not address.is_global:
        return "a non-public address"
    return None


def _unresolvable(host: str) -> ListenerRefused:
    return ListenerRefused(f"The listener URL is refused: its host {host} cannot be resolved.")


def check_addresses(host: str, addresses: list[str]) -> tuple[str, ...]:
    if not addresses:
        logger.info("webhook listener host %s resolved to no address", host)
        raise _unresolvable(host)
    for text in addresses:
        why = refusal(ipaddress.ip_address(text.split("%", 1)[0]))
        if why:
            if _is_ip(host):
                raise ListenerRefused(f"The listener URL is refused: {host} is {why}.")
            logger.info("webhook listener host %s refused: resolves to %s, %s", host, text, why)
            raise ListenerRefused(
                f"The listener URL is refused: its host {host} resolves to an address that is "
                "not public."
            )
    return tuple(dict.fromkeys(addresses))


def resolve(listener: Listener) -> Listener:
    """The listener with every address its host resolves to, all of them checked."""
    try:
        infos = socket.getaddrinfo(
            listener.host, listener.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError, OSError) as exc:
        logger.info("webhook listener host %s cannot be resolved: %s", listener.host, exc)
        raise _unresolvable(listener.host) from exc
    addresses = [str(info[4][0]) for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)]
    checked = check_addresses(listener.host, addresses)
    return Listener(
        url=listener.url,
        scheme=listener.scheme,
        host=listener.host,
        port=listener.port,
        target=listener.target,
        addresses=checked,
    )


def check_url(url: object) -> Listener:
    """Form and addresses: what create and update call, and delivery again before each POST."""
    return resolve(parse(url))
