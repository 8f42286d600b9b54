"""The outbound-URL policy: every request to a tenant-supplied URL goes through this module.

Tenant-supplied URLs (webhook endpoints, ``llm_config.base_url``, ``tracing_config.endpoint``,
later tools and MCP servers) may point anywhere, so a request to one could reach the
platform's own network (cloud metadata at 169.254.169.254, databases on 10.x, services on
loopback). The rules:

* only ``http`` and ``https``; no credentials in the URL;
* the host must resolve only to public addresses: loopback, private, link-local, CGNAT
  (100.64/10), multicast, unspecified, reserved, IPv4-mapped/compatible IPv6, 6to4, Teredo
  and NAT64 addresses are refused, unless the deployment allows the host by name
  (``OUTBOUND_ALLOWED_HOSTS``) or the address by range (``OUTBOUND_ALLOWED_NETWORKS``);
  ``WEBHOOKS_ALLOW_PRIVATE_ADDRESSES`` (deprecated) allows every address;
* the check runs on the addresses actually connected to, at connect time (a DNS answer that
  changes after the save-time check cannot reach a refused address), and redirects are
  never followed.

API: :func:`check_url` (save time), :func:`resolve_allowed` (connect time), and clients that
connect only through the policy: :class:`HTTPConnection` / :class:`HTTPSConnection`
(http.client), :func:`async_httpx_client` (httpx, e.g. for the OpenAI SDK),
:func:`async_httpx2_client` (httpx2, for livekit-agents' MCP client) and
:func:`requests_session` (requests, e.g. for the OTLP exporter).
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
AddrInfo = tuple[Any, ...]

# Ranges refused on top of what ``ipaddress`` calls non-global, each with the reason shown.
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_IPV6_TRANSITION: tuple[tuple[IPNetwork, str], ...] = (
    (ipaddress.ip_network("::ffff:0:0/96"), "an IPv4-mapped IPv6 address"),
    (ipaddress.ip_network("::/96"), "an IPv4-compatible IPv6 address"),
    (ipaddress.ip_network("2002::/16"), "a 6to4 address"),
    (ipaddress.ip_network("2001::/32"), "a Teredo address"),
    (ipaddress.ip_network("64:ff9b::/96"), "a NAT64 address"),
    (ipaddress.ip_network("64:ff9b:1::/48"), "a NAT64 address"),
)
REFUSED_MESSAGE = "private, loopback or reserved"


class OutboundURLRefused(ValueError):
    """The URL is not allowed by the outbound policy (scheme, credentials or address)."""


@dataclass(frozen=True)
class Target:
    """The parts of an allowed URL that a connection needs."""

    scheme: str
    host: str
    port: int


def split_url(url: str) -> Target:
    """Scheme, host and port of an http(s) URL without credentials (no DNS lookup).

    Raises ``OutboundURLRefused``; used by the contracts too, so a stored config can never
    hold a URL this module would refuse on its form alone.
    """
    try:
        parts = urlsplit((url or "").strip())
    except ValueError as exc:
        raise OutboundURLRefused(f"The URL is malformed ({exc}).") from exc
    if parts.scheme not in ("http", "https"):
        raise OutboundURLRefused("Only http and https URLs are allowed.")
    if not parts.hostname:
        raise OutboundURLRefused("The URL has no host.")
    if parts.username or parts.password:
        raise OutboundURLRefused("Credentials in the URL are not allowed.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise OutboundURLRefused("The URL has an invalid port.") from exc
    return Target(parts.scheme, parts.hostname, port)


# --- deployment settings --------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _parse_networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry)


def parse_networks(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """``OUTBOUND_ALLOWED_NETWORKS`` entries as networks (``ValueError`` if one is invalid)."""
    return _parse_networks(tuple(entries))


def _allowed_networks() -> tuple[IPNetwork, ...]:
    return parse_networks(getattr(settings, "OUTBOUND_ALLOWED_NETWORKS", ()) or ())


def _allow_everything() -> bool:
    """The deprecated ``WEBHOOKS_ALLOW_PRIVATE_ADDRESSES`` switch: every address is allowed."""
    return bool(getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", False))


def host_allowed_by_name(host: str) -> bool:
    """``host`` is listed in ``OUTBOUND_ALLOWED_HOSTS`` (exact, or ``*.suffix`` entries)."""
    host = host.lower().rstrip(".")
    for entry in getattr(settings, "OUTBOUND_ALLOWED_HOSTS", ()) or ():
        entry = entry.strip().lower().rstrip(".")
        if not entry:
            continue
        if entry.startswith("*."):
            if host.endswith(entry[1:]):
                return True
        elif host == entry:
            return True
    return False


# --- addresses ------------------------------------------------------------------------------


def address_refusal(address: str | IPAddress) -> str | None:
    """Why ``address`` may not be called (``None`` when it may), per the rules above."""
    ip = ipaddress.ip_address(str(address).split("%", 1)[0])  # drop an IPv6 zone id
    if _allow_everything() or any(ip in network for network in _allowed_networks()):
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        for network, reason in _IPV6_TRANSITION:
            if ip in network and not ip.is_unspecified and not ip.is_loopback:
                return reason
    checks = (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip in _CGNAT, "a shared (CGNAT) address"),
        (ip.is_reserved, "a reserved address"),
        (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local, "a site-local address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "not a globally routable address"),
    )
    for refused, reason in checks:
        if refused:
            return reason
    return None


def resolve_allowed(host: str, port: int) -> list[AddrInfo]:
    """``getaddrinfo`` results for ``host`` (TCP) after the policy check on every address.

    A host listed in ``OUTBOUND_ALLOWED_HOSTS`` skips the address check. Raises
    ``OutboundURLRefused`` if any address is refused, ``socket.gaierror`` if none resolves.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not infos:
        raise socket.gaierror(f"{host} did not resolve")
    if host_allowed_by_name(host):
        return infos
    refused = sorted(
        {
            f"{info[4][0]}: {reason}"
            for info in infos
            if (reason := address_refusal(info[4][0])) is not None
        }
    )
    if refused:
        raise OutboundURLRefused(
            f"{host} resolves to a {REFUSED_MESSAGE} address ({'; '.join(refused)}); "
            "only public addresses are called (see OUTBOUND_ALLOWED_HOSTS / "
            "OUTBOUND_ALLOWED_NETWORKS)."
        )
    return infos


def check_url(url: str) -> Target:
    """The save-time check: ``url`` is well formed and its host resolves to allowed
    addresses. Connections check again (``resolve_allowed``) since DNS answers change."""
    target = split_url(url)
    try:
        resolve_allowed(target.host, target.port)
    except socket.gaierror as exc:
        raise OutboundURLRefused(f"{target.host} does not resolve.") from exc
    return target


# --- connecting (blocking sockets: http.client, urllib3) -----------------------------------


def create_connection(
    address: tuple[str, int],
    timeout: Any = None,
    source_address: Any = None,
    socket_options: Sequence[tuple[int, int, int]] | None = None,
) -> socket.socket:
    """``socket.create_connection`` that connects only to the vetted addresses of the host."""
    host, port = address
    error: OSError | None = None
    for family, socktype, proto, _, sockaddr in resolve_allowed(host, port):
        sock = socket.socket(family, socktype, proto)
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            if timeout is not None and timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error or OSError(f"could not connect to {host}:{port}")


class HTTPConnection(http.client.HTTPConnection):
    """``http.client.HTTPConnection`` through the policy (it never follows redirects)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = create_connection


class HTTPSConnection(http.client.HTTPSConnection):
    """``http.client.HTTPSConnection`` through the policy (TLS still checks the host name)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = create_connection


def http_connection(url: str, *, timeout: float) -> http.client.HTTPConnection:
    """A policy connection for ``url``'s scheme, host and port (``OutboundURLRefused``)."""
    target = split_url(url)
    connection_class = HTTPSConnection if target.scheme == "https" else HTTPConnection
    return connection_class(target.host, target.port, timeout=timeout)


# --- httpx (async): the OpenAI SDK, livekit-plugins-openai ---------------------------------


def _policy_network_backend(httpcore: Any = None) -> Any:
    """A network backend for ``httpcore`` (or ``httpcore2``, the module given) that connects
    only to addresses the policy allows."""
    import anyio.to_thread

    if httpcore is None:
        import httpcore

    class PolicyNetworkBackend(httpcore.AsyncNetworkBackend):
        """Resolves through the policy, then connects to a vetted address (TLS and the
        Host header still use the name, so certificates are checked as usual)."""

        def __init__(self) -> None:
            self._inner = httpcore.AnyIOBackend()

        async def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
            local_address: str | None = None,
            socket_options: Iterable[Any] | None = None,
        ) -> httpcore.AsyncNetworkStream:
            infos = await anyio.to_thread.run_sync(resolve_allowed, host, port)
            error: Exception | None = None
            for address in dict.fromkeys(info[4][0] for info in infos):
                try:
                    return await self._inner.connect_tcp(
                        address,
                        port,
                        timeout=timeout,
                        local_address=local_address,
                        socket_options=socket_options,
                    )
                except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                    error = exc
            assert error is not None
            raise error

        async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> Any:
            raise OutboundURLRefused("Unix sockets are not allowed for outbound requests.")

        async def sleep(self, seconds: float) -> None:
            await self._inner.sleep(seconds)

    return PolicyNetworkBackend()


def async_httpx_transport(*, verify: bool = True) -> Any:
    """An ``httpx.AsyncHTTPTransport`` whose every connection goes through the policy.

    Proxies from the environment are not used (a proxy would connect for us, unchecked).
    """
    import httpcore
    import httpx

    transport = httpx.AsyncHTTPTransport(verify=verify, trust_env=False)
    # httpx has no public hook for httpcore's network backend: swap in a pool that uses ours.
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=50, keepalive_expiry=120)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_policy_network_backend(),
    )
    return transport


def async_httpx_client(*, timeout: Any = None) -> Any:
    """An ``httpx.AsyncClient`` on :func:`async_httpx_transport` that never follows redirects
    (pass it as ``http_client=`` to ``openai.AsyncClient``)."""
    import httpx

    return httpx.AsyncClient(
        transport=async_httpx_transport(),
        follow_redirects=False,
        trust_env=False,
        timeout=timeout or httpx.Timeout(connect=15.0, read=30.0, write=10.0, pool=10.0),
    )


# --- requests (blocking): the OTLP/HTTP exporter -------------------------------------------


def requests_session() -> Any:
    """A ``requests.Session`` whose connections go through the policy; redirects are never
    followed and environment proxies are ignored (pass it as the OTLP exporter's session)."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection as Urllib3HTTPConnection
    from urllib3.connection import HTTPSConnection as Urllib3HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class PolicyConnectionMixin:
        def _new_conn(self) -> socket.socket:  # type: ignore[misc]
            return create_connection(
                (self._dns_host, self.port),  # type: ignore[attr-defined]
                self.timeout,  # type: ignore[attr-defined]
                source_address=self.source_address,  # type: ignore[attr-defined]
                socket_options=self.socket_options,  # type: ignore[attr-defined]
            )

    class PolicyHTTPConnection(PolicyConnectionMixin, Urllib3HTTPConnection):
        pass

    class PolicyHTTPSConnection(PolicyConnectionMixin, Urllib3HTTPSConnection):
        pass

    class PolicyHTTPConnectionPool(HTTPConnectionPool):
        ConnectionCls = PolicyHTTPConnection

    class PolicyHTTPSConnectionPool(HTTPSConnectionPool):
        ConnectionCls = PolicyHTTPSConnection

    class PolicyAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {
                "http": PolicyHTTPConnectionPool,
                "https": PolicyHTTPSConnectionPool,
            }

    class PolicySession(requests.Session):
        def request(self, *args: Any, **kwargs: Any) -> Any:
            kwargs["allow_redirects"] = False
            return super().request(*args, **kwargs)

    session = PolicySession()
    session.trust_env = False
    adapter = PolicyAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# --- httpx2 (async): livekit-agents' MCP client -------------------------------------------


def async_httpx2_client(
    *,
    headers: dict[str, Any] | None = None,
    timeout: Any = None,
    auth: Any = None,
    connect_timeout: float = 10.0,
    read_timeout: float = 30.0,
) -> Any:
    """An ``httpx2.AsyncClient`` whose every connection goes through the policy, never
    following redirects or using environment proxies (the MCP transports take httpx2)."""
    import httpcore2
    import httpx2

    transport = httpx2.AsyncHTTPTransport(trust_env=False)
    limits = httpx2.Limits(max_connections=20, max_keepalive_connections=20, keepalive_expiry=60)
    transport._pool = httpcore2.AsyncConnectionPool(
        ssl_context=httpx2.create_ssl_context(trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_policy_network_backend(httpcore2),
    )
    options: dict[str, Any] = {
        "transport": transport,
        "headers": headers or {},
        "follow_redirects": False,
        "trust_env": False,
        "timeout": timeout or httpx2.Timeout(connect_timeout, read=read_timeout),
    }
    if auth is not None:
        options["auth"] = auth
    return httpx2.AsyncClient(**options)
