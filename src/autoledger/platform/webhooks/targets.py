"""Where webhooks may go: URL shape and the SSRF guard.

A webhook makes our servers send requests to an address a customer chose, so an address
inside our network (loopback, RFC 1918, ULA, link-local such as the cloud metadata service
169.254.169.254, CGNAT, multicast, unspecified, reserved) is refused unless the operator
allows private targets. The host is resolved and *every* address checked, at registration
and again before each send; the send then connects to the checked address itself (see
``dispatcher``), so a DNS answer that changes in between (rebinding) cannot slip through.
"""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
SCHEMES = ("http", "https")


class UrlError(ValueError):
    """The URL is not one a webhook can be sent to; the message says why."""


class TargetRefused(UrlError):
    """The host resolves to an address webhooks may not reach."""


@dataclass(frozen=True, slots=True)
class Target:
    url: httpx.URL
    addresses: tuple[IPAddress, ...]


def parse_url(raw: str) -> httpx.URL:
    """An absolute http(s) URL with a host and without credentials, or :class:`UrlError`."""
    if len(raw) > MAX_URL_LENGTH:
        raise UrlError(f"must be at most {MAX_URL_LENGTH} characters")
    try:
        url = httpx.URL(raw)
    except httpx.InvalidURL as exc:
        raise UrlError(f"is not a valid URL: {exc}") from None
    if url.scheme not in SCHEMES:
        raise UrlError("must use http or https")
    if not url.host:
        raise UrlError("must name a host")
    if url.userinfo:
        # Credentials in a URL end up in logs and responses; use the signature instead.
        raise UrlError("must not carry a user name or password")
    if url.fragment:
        raise UrlError("must not have a fragment")
    return url


def is_public(address: IPAddress) -> bool:
    """True for a globally routable unicast address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def resolve(host: str) -> tuple[IPAddress, ...]:
    try:
        return (ipaddress.ip_address(host),)
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UrlError(f"host {host!r} does not resolve: {exc}") from None
    found: dict[IPAddress, None] = {}
    for *_, sockaddr in infos:
        # Drop an IPv6 zone ("fe80::1%eth0"); link-local is refused anyway.
        found[ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])] = None
    if not found:
        raise UrlError(f"host {host!r} does not resolve")
    return tuple(found)


async def check_target(raw: str, *, allow_private: bool) -> Target:
    """Parse ``raw``, resolve its host and refuse it when any address is not public."""
    url = parse_url(raw)
    addresses = await resolve(url.host)
    if not allow_private:
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            raise TargetRefused(f"host {url.host!r} resolves to {refused[0]}, a non-public address")
    return Target(url, addresses)
