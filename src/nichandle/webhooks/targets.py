"""Where a webhook may point: http(s) URLs on public addresses only.

Checked when a webhook is made or changed (the URL's form, and its host's addresses when it
resolves), and again at every delivery on the addresses the host resolves to then: a name that
later resolves to 127.0.0.1 or 169.254.169.254 (DNS rebinding) must not turn our worker into a
way into the registrar's own network. The delivery connects to the address that was checked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from nichandle.errors import FieldErrors

MAX_URL_LENGTH = 2048


class TargetRefused(Exception):
    """A delivery's host resolves to an address webhooks may not reach (or to none)."""


@dataclass(frozen=True)
class Target:
    """A checked URL and the address a delivery connects to."""

    url: str
    host: str
    address: str


def check_url(url: str, *, field: str = "url") -> str:
    """The URL, when its form is acceptable for a webhook; FieldErrors naming ``field``."""
    parts = urlsplit(url)
    if len(url) > MAX_URL_LENGTH:
        raise FieldErrors.single(field, "too_long", f"must be at most {MAX_URL_LENGTH} characters")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FieldErrors.single(field, "invalid", "must be an absolute http or https URL")
    if parts.username or parts.password:
        raise FieldErrors.single(field, "invalid", "must not carry credentials")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise FieldErrors.single(field, "invalid", "has an invalid port") from None
    return url


async def check_target(url: str, *, allow_private: bool, field: str = "url") -> None:
    """At creation: the URL's form, and every address its host resolves to now (a host that
    does not resolve yet is accepted; each delivery checks again)."""
    check_url(url, field=field)
    try:
        await resolve(url, allow_private=allow_private)
    except TargetRefused as refused:
        if "does not resolve" not in str(refused):
            raise FieldErrors.single(field, "forbidden_target", str(refused)) from None


async def resolve(url: str, *, allow_private: bool) -> Target:
    """The address to deliver to: every address of the host must be public (unless
    ``allow_private``), else TargetRefused."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused(f"host {host!r} does not resolve ({exc})") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise TargetRefused(f"host {host!r} does not resolve")
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise TargetRefused(
                    f"host {host!r} resolves to {address}, a loopback, private, link-local or "
                    "reserved address"
                )
    return Target(url=url, host=host, address=addresses[0])


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast
