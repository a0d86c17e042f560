"""Where webhooks may go: public http(s) hosts only, checked at registration and at connect time.

A URL that resolves to a loopback, private, link-local, multicast or reserved address would
let whoever registers an endpoint make this service call into its own network (SSRF). The
check runs at registration, and again inside the HTTP client's connect step against every
address the name resolves to, connecting only to an address that passed: a DNS answer that
changes between the two (rebinding) cannot reach inside.
"""

import asyncio
import ipaddress
import socket
import ssl
from typing import Any
from urllib.parse import SplitResult, urlsplit

import httpcore
import httpx

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(ValueError):
    """The URL or one of its addresses is not a place webhooks may go; the message says why."""


def parse_url(url: str) -> SplitResult:
    """The URL's parts, when its form is acceptable (the addresses are checked separately)."""
    if any(char.isspace() or not char.isprintable() for char in url):
        raise TargetRefused("the URL must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise TargetRefused(f"the URL cannot be read ({error})") from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("only http:// and https:// URLs can receive webhooks")
    if not parts.hostname:
        raise TargetRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("put no credentials in the URL; verify the webhook signature instead")
    if parts.fragment:
        raise TargetRefused("the URL must not have a #fragment")
    if port == 0:
        raise TargetRefused("port 0 is not a valid port")
    check_host_name(parts.hostname)
    return parts


def check_host_name(host: str) -> None:
    """Refuse a host name DNS cannot carry: an empty label (`a..b`, `.a`), one over 63 octets,
    or a name over 253; Python's resolver would fail on them with a UnicodeError instead."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return
    except ValueError:
        pass
    try:
        encoded = host.rstrip(".").encode("idna")
    except UnicodeError:
        raise TargetRefused(
            f"the host name {host[:80]!r} is not valid: each dot-separated part needs 1 to 63 characters"
        ) from None
    if len(encoded) > 253:
        raise TargetRefused("the host name is longer than 253 characters")


# IPv6 addresses that carry an IPv4 address a relay or translator delivers to: a packet to
# 2002:7f00:1::1 reaches 127.0.0.1 through any 6to4 relay that takes it, so the IPv4 address
# inside must be as public as any other target
NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """(what carries it, IPv4 address) for every IPv4 address `address` carries for delivery."""
    found: list[tuple[str, ipaddress.IPv4Address]] = []
    if address.ipv4_mapped is not None:  # ::ffff:0:0/96
        found.append(("an IPv4-mapped address", address.ipv4_mapped))
    if address.sixtofour is not None:  # 2002::/16
        found.append(("a 6to4 address", address.sixtofour))
    if address.teredo is not None:  # 2001::/32: the relay server, and the client it forwards to
        server, client = address.teredo
        found += [("a Teredo address (its server)", server), ("a Teredo address", client)]
    if address in NAT64_WELL_KNOWN:  # RFC 6052: the last 32 bits
        found.append(("a NAT64 address", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)))
    return found


def blocked_reason(address: IpAddress) -> str | None:
    """Why webhooks may not go to `address`, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        for kind, inner in embedded_ipv4(address):
            reason = blocked_reason(inner)
            if reason is not None:
                return f"{reason} ({inner}) inside {kind}"
        if address.ipv4_mapped is not None:
            return None  # a socket to it is a socket to the IPv4 address, which passed
    checks = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("not globally routable", not address.is_global),
    )
    return next((f"a {name} address" for name, hit in checks if hit), None)


async def resolve(host: str, port: int) -> list[IpAddress]:
    """Every address `host` stands for (an IP literal stands for itself)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    check_host_name(host)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as error:  # ValueError: a NUL or other name no resolver takes
        reason = getattr(error, "strerror", None) or error
        raise TargetRefused(f"the host {host!r} does not resolve ({reason})") from None
    addresses: list[IpAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise TargetRefused(f"the host {host!r} does not resolve")
    return addresses


async def allowed_addresses(host: str, port: int, *, allow_private: bool) -> list[IpAddress]:
    """The addresses to connect to; refuses the host if any address is off limits."""
    addresses = await resolve(host, port)
    if not allow_private:
        for address in addresses:
            reason = blocked_reason(address)
            if reason is not None:
                raise TargetRefused(
                    f"{host} is or resolves to {address}, {reason}; webhooks only go to public "
                    "addresses (FEEDBACK_WEBHOOKS_ALLOW_PRIVATE allows others)"
                )
    return addresses


async def check_url(url: str, *, allow_private: bool) -> str:
    """The URL when it may receive webhooks; raises TargetRefused saying why not."""
    parts = parse_url(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    await allowed_addresses(parts.hostname or "", port, allow_private=allow_private)
    return url


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks every address, and connects only to an address that passed."""

    def __init__(self, *, allow_private: bool) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await allowed_addresses(host, port, allow_private=self._allow_private)
        except TargetRefused as error:
            raise httpcore.ConnectError(f"refused: {error}") from None
        last: Exception | None = None
        for address in addresses:
            try:
                # TLS still checks the certificate against the host name (httpcore passes it as SNI)
                return await self._inner.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )  # fmt: skip
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last = error
        assert last is not None
        raise last

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks are not sent over unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport over a connection pool whose connect step is guarded."""

    def __init__(self, *, allow_private: bool, ssl_context: ssl.SSLContext | None = None) -> None:
        # no proxies from the environment: a proxy would connect on our behalf, unchecked
        super().__init__(trust_env=False)
        # httpx has no parameter for httpcore's network backend, so its pool is built here
        # the way httpx builds it (http/1.1, its default limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(allow_private=allow_private),
        )


def webhook_client(*, allow_private: bool, timeout: float) -> httpx.AsyncClient:
    """The client deliveries go through: guarded connects, no redirects, no env proxies."""
    return httpx.AsyncClient(
        transport=GuardedTransport(allow_private=allow_private),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
    )
