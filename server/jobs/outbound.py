"""Requests the server makes on a user's behalf (`audio_url` downloads, webhooks): which addresses they may
reach, and a total deadline.

The check sits where the socket is opened: the host name is resolved once, every address it resolves to
is checked against the URL policy, and the connection goes to the checked address (the URL, the Host
header and TLS SNI keep the name). Each redirect hop opens its own connection, so each hop is checked on
what its name resolves to then: no DNS-rebinding gap between the check and the connect.

Link-local (169.254.0.0/16, fe80::/10) and cloud metadata addresses are always refused. Loopback,
private, shared (CGNAT) and other non-global ranges are refused unless the policy allows them: `private`,
or `auto` while the server listens only on loopback (a laptop, CI), or a network listed in
`url_allowed_networks`. A refused address fails like an unreachable one: nothing about what (if anything)
listens there reaches the caller.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass

import httpcore
import httpx
from httpcore._backends.sync import SyncBackend

from server.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Instance-metadata endpoints that are not link-local (AWS IPv6, Alibaba Cloud); link-local ones
# (169.254.169.254 on AWS, GCP, Azure, OpenStack) fall under the link-local rule.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a) for a in ("fd00:ec2::254", "100.100.100.200")
)
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


class RefusedAddress(httpcore.ConnectError):
    """The URL's host resolves to an address the URL policy refuses (mapped by httpx to ConnectError)."""


@dataclass(frozen=True)
class UrlPolicy:
    allow_private: bool
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> UrlPolicy:
        networks = tuple(ipaddress.ip_network(n, strict=False) for n in settings.url_allowed_networks)
        if settings.url_policy == "private":
            allow = True
        elif settings.url_policy == "public":
            allow = False
        else:  # auto: a server only its own machine can reach may fetch from its own machine
            allow = listens_on_loopback_only(settings.listen_host)
        return cls(allow_private=allow, allowed_networks=networks)

    def allows(self, address: IPAddress) -> bool:
        ip = _unmapped(address)
        if ip.is_link_local or ip in METADATA_ADDRESSES or ip.is_multicast:
            return False
        if ip.is_global:
            return True
        return self.allow_private or any(ip in net for net in self.allowed_networks)


def listens_on_loopback_only(host: str) -> bool:
    """Whether a server bound to `host` is reachable only from its own machine."""
    name = host.strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a name or an address for every interface ("0.0.0.0", "::")


def _unmapped(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class Deadline:
    """A point in time after which no socket operation of one download or delivery may wait."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def cap(self, timeout: float | None) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise httpcore.ReadTimeout("total deadline exceeded")
        return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every wait ends at the deadline, so a peer that trickles cannot hold it."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.cap(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.cap(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:  # noqa: ANN001 - ssl.SSLContext
        inner = self._inner.start_tls(ssl_context, server_hostname, self._deadline.cap(timeout))
        return _DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str):  # noqa: ANN201 - whatever the socket layer answers
        return self._inner.get_extra_info(info)


class _GuardedBackend(SyncBackend):
    """Resolve once, check every address, connect to a checked one; streams bounded by the deadline."""

    def __init__(self, policy: UrlPolicy, deadline: Deadline) -> None:
        self.policy = policy
        self.deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[tuple] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self._resolve(host, port, self.deadline.cap(timeout))
        last: Exception | None = None
        for address in addresses:
            try:
                stream = super().connect_tcp(
                    str(address), port, self.deadline.cap(timeout), local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                last = exc
                continue
            return _DeadlineStream(stream, self.deadline)
        raise last or httpcore.ConnectError("no address")

    def _resolve(self, host: str, port: int, timeout: float) -> list[IPAddress]:
        try:
            infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError("name does not resolve") from exc
        addresses: list[IPAddress] = []
        for info in infos:
            ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if ip not in addresses:
                addresses.append(ip)
        # every address must pass: a name that also resolves to a refused address is refused as a whole
        if not addresses or not all(self.policy.allows(ip) for ip in addresses):
            raise RefusedAddress("address refused by the URL policy")
        return addresses


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over the guarded network backend (one per download or delivery)."""

    def __init__(self, policy: UrlPolicy, deadline: Deadline) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=4,
            network_backend=_GuardedBackend(policy, deadline),
        )


def guarded_client(settings: Settings, *, timeout: httpx.Timeout, total_s: float, **kwargs) -> httpx.Client:  # noqa: ANN003
    """An httpx client whose connections obey the URL policy and whose I/O ends `total_s` from now."""
    transport = GuardedTransport(UrlPolicy.from_settings(settings), Deadline(total_s))
    return httpx.Client(transport=transport, timeout=timeout, trust_env=False, **kwargs)
