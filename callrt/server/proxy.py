"""The URL a request was made to, as Twilio saw it: what `X-Twilio-Signature` is checked against and
what the TwiML's stream URL is built from.

The configured public URL wins. Without one, `X-Forwarded-Proto`, `X-Forwarded-Host` and `Host` are
believed only from a trusted proxy (`--forwarded-allow-ips`, uvicorn's convention: a comma-separated
list of addresses or networks, `*` for any), and then only their right-most value, the one our own
proxy added. From anyone else the URL is the listening socket's own address: a client cannot pick
the URL its signature is checked against.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit, urlunsplit

from starlette.requests import HTTPConnection

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """The addresses whose forwarded headers are believed."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.any = False
        self.networks: list[IpNetwork] = []
        for entry in (e.strip() for e in entries):
            if entry == "*":
                self.any = True
            elif entry:
                self.networks.append(ipaddress.ip_network(entry, strict=False))  # ValueError names a bad entry

    @classmethod
    def parse(cls, text: str) -> TrustedProxies:
        return cls(text.split(","))

    def trusts(self, host: str | None) -> bool:
        if self.any:
            return True
        try:
            address = ipaddress.ip_address(host or "")
        except ValueError:
            return False
        return any(address in network for network in self.networks)


def _rightmost(value: str) -> str:
    return value.rsplit(",", 1)[-1].strip()


def _socket_netloc(connection: HTTPConnection) -> str:
    server: Sequence[object] | None = connection.scope.get("server")
    if not server or server[1] is None:
        return connection.url.netloc  # a unix socket: nothing better than the request's own
    host, port = str(server[0]), int(str(server[1]))
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}"


def external_url(
    connection: HTTPConnection,
    path: str,
    *,
    public_url: str | None,
    proxies: TrustedProxies,
    websocket: bool = False,
) -> str:
    """The URL Twilio used for `path` (with the request's query string, unless it is a websocket URL)."""
    if public_url:
        base = urlsplit(public_url.rstrip("/"))
        scheme, netloc, prefix = base.scheme, base.netloc, base.path
    elif proxies.trusts(connection.client.host if connection.client else None):
        headers = connection.headers
        scheme = _rightmost(headers.get("x-forwarded-proto", connection.url.scheme))
        netloc = _rightmost(headers.get("x-forwarded-host", headers.get("host", connection.url.netloc)))
        prefix = ""
    else:
        scheme, netloc, prefix = connection.url.scheme, _socket_netloc(connection), ""
    if websocket:
        scheme = {"https": "wss", "http": "ws"}.get(scheme, scheme)
    query = "" if websocket else connection.url.query
    return urlunsplit((scheme, netloc, prefix + path, query, ""))
