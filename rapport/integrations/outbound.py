"""Outbound HTTP for webhooks, guarded against SSRF.

A webhook URL is chosen by an admin, but where it points can change at any time (DNS), so
the check runs at delivery time, on every hop of a redirect, against every address the
name resolves to, and the connection goes to the vetted address itself (no second lookup
that a rebinding DNS server could answer differently). Refused: loopback, private,
link-local (cloud metadata 169.254.169.254), shared/carrier-grade NAT (100.64/10, Alibaba's
metadata), multicast, reserved, unspecified and any other non-global address, in IPv4 or
IPv6, including IPv4-mapped, NAT64 and 6to4 IPv6 forms. The resolver (glibc's inet_aton)
reads odd spellings such as `0177.0.0.1`, `2130706433`, `0x7f.1` and `127.1` as 127.0.0.1,
so they are caught as what they are, not by string matching.

Hosts in settings.WEBHOOK_ALLOWED_PRIVATE_HOSTS (matched exactly, by name) may resolve to
private addresses: development and tests allow-list 127.0.0.1.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from django.conf import settings

MAX_REDIRECTS = 3
TIMEOUT_SECONDS = 10.0
RESPONSE_EXCERPT = 2000

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_METADATA = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack
    ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class DeliveryRefused(Exception):
    """The target is not a public address (or not a usable URL): never contacted."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query
    ip: str


@dataclass
class Response:
    status: int
    body: str
    duration_ms: int


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why a webhook may not connect to `ip`, or None when it is a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            reason = forbidden_reason(embedded)
            return f"{reason} (inside {ip})" if reason else None
        if ip.teredo:
            return "a Teredo tunnel address"
    if ip in _METADATA:
        return "a cloud metadata address"
    for attribute, label in (
        ("is_loopback", "a loopback address"),
        ("is_unspecified", "the unspecified address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(ip, attribute):
            return label
    if not ip.is_global:
        return "a non-public address"
    return None


def _split(url: str) -> tuple[str, str, int, str]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DeliveryRefused(f"Not a valid URL: {exc}.") from exc
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise DeliveryRefused("Only http and https URLs can receive webhooks.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise DeliveryRefused("The URL has no host.")
    if parts.username or parts.password:
        raise DeliveryRefused("Credentials in the URL are not allowed; use the signature.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port or (443 if scheme == "https" else 80), path


def is_allow_listed(host: str) -> bool:
    allowed = {h.lower().rstrip(".") for h in settings.WEBHOOK_ALLOWED_PRIVATE_HOSTS}
    return host.lower() in allowed


def vet(url: str) -> Target:
    """Resolve `url`'s host now and return the address to connect to, or refuse."""
    scheme, host, port, path = _split(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DeliveryRefused(f"The host {host!r} does not resolve.") from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise DeliveryRefused(f"The host {host!r} does not resolve.")
    if not is_allow_listed(host):
        # Every address must be public: a name with one private record is refused, since
        # which record a later lookup would pick is not ours to choose.
        for address in addresses:
            reason = forbidden_reason(address)
            if reason:
                raise DeliveryRefused(
                    f"{host} resolves to {address}, {reason}; webhooks only go to public "
                    "addresses (an admin can allow-list a host in WEBHOOK_ALLOWED_PRIVATE_HOSTS)."
                )
    return Target(scheme=scheme, host=host, port=port, path=path, ip=str(addresses[0]))


def literal_address_problem(url: str) -> str | None:
    """For forms: a URL whose host is a literal non-public address (in any spelling).

    Names are not resolved here (DNS can change; delivery checks again anyway).
    """
    try:
        _scheme, host, _port, _path = _split(url)
    except DeliveryRefused as exc:
        return str(exc)
    if is_allow_listed(host):
        return None
    address: IPAddress | None = None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:  # inet_aton reads 0177.0.0.1, 2130706433, 0x7f.1, 127.1 as the OS would
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            address = None
    if address is None:
        return None
    reason = forbidden_reason(address)
    return f"{host} is {reason}; webhooks only go to public addresses." if reason else None


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the vetted IP while Host (and TLS SNI) carry the name."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._ip = target.ip

    def connect(self) -> None:
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._ip = target.ip

    def connect(self) -> None:
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float = TIMEOUT_SECONDS
) -> Response:
    """POST `body` to `url`, following up to 3 redirects, each hop vetted again.

    Raises DeliveryRefused for a forbidden target and OSError/HTTPException for network
    failures; any HTTP answer (even 500) is returned.
    """
    started = time.monotonic()
    for _hop in range(MAX_REDIRECTS + 1):
        target = vet(url)
        connection: http.client.HTTPConnection = (
            _PinnedHTTPSConnection(target, timeout)
            if target.scheme == "https"
            else _PinnedHTTPConnection(target, timeout)
        )
        try:
            connection.request("POST", target.path, body=body, headers=headers)
            answer = connection.getresponse()
            text = answer.read(RESPONSE_EXCERPT * 4).decode("utf-8", "replace")[:RESPONSE_EXCERPT]
            location = answer.getheader("Location")
        finally:
            connection.close()
        if answer.status in {301, 302, 303, 307, 308} and location:
            url = urljoin(url, location)
            continue
        return Response(
            status=answer.status,
            body=text,
            duration_ms=int((time.monotonic() - started) * 1000),
        )
    raise DeliveryRefused(f"More than {MAX_REDIRECTS} redirects.")
