"""The Twilio voice webhook's side of the edge: the `<Connect><Stream>` TwiML we answer
with, Twilio's `X-Twilio-Signature` check, and the short-lived stream token that ties
a media websocket to a webhook request we actually answered.

Why a token: the media websocket is public and Twilio does not sign it, so without
one anyone could open `/media` and spend model minutes. `/twiml` is signed; it hands
out an HMAC over (callSid, caller, expiry) as a `<Parameter>`, and `/media` accepts a
stream only if its `start` carries a valid token for its own callSid and caller: the caller
line a call acts for is the `From` of the signed webhook, never a parameter a client chose.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit
from xml.sax.saxutils import quoteattr

Params = Mapping[str, str] | Iterable[tuple[str, str]]

# --------------------------------------------------------------------------
# TwiML


def stream_twiml(stream_url: str, parameters: Mapping[str, str]) -> str:
    """Connect the call to our media websocket; when we close it, Twilio runs `<Hangup/>`."""
    params = "".join(
        f"<Parameter name={quoteattr(name)} value={quoteattr(value)}/>" for name, value in parameters.items()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><Connect><Stream url={quoteattr(stream_url)}>{params}</Stream></Connect><Hangup/></Response>"
    )


def parse_stream_twiml(xml: str) -> tuple[str, dict[str, str]]:
    """The stream URL and `<Parameter>`s of a `<Connect><Stream>` TwiML (what Twilio reads from it)."""
    root = ET.fromstring(xml)
    stream = root.find("./Connect/Stream")
    if stream is None or "url" not in stream.attrib:
        raise ValueError("TwiML has no <Connect><Stream url=…>")
    params = {p.attrib["name"]: p.attrib.get("value", "") for p in stream.findall("Parameter") if "name" in p.attrib}
    return stream.attrib["url"], params


# --------------------------------------------------------------------------
# X-Twilio-Signature


def _pairs(params: Params) -> list[tuple[str, str]]:
    items = params.items() if isinstance(params, Mapping) else params
    return [(str(k), str(v)) for k, v in items]


def compute_signature(auth_token: str, url: str, params: Params) -> str:
    """base64(HMAC-SHA1(auth token, full URL + each POST parameter's name and value, sorted by name))."""
    data = url + "".join(name + value for name, value in sorted(_pairs(params)))
    digest = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _port_variants(url: str) -> list[str]:
    # Twilio may sign with or without the scheme's default port (its own SDKs try both).
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if default is None or not host:
        return [url]
    bare = parts._replace(netloc=host if parts.port in (None, default) else parts.netloc)
    with_port = parts._replace(netloc=f"{host}:{parts.port or default}")
    return list(dict.fromkeys([url, urlunsplit(bare), urlunsplit(with_port)]))


def validate_signature(auth_token: str, signature: str | None, url: str, params: Params) -> bool:
    """Constant-time check of an `X-Twilio-Signature` header against the request Twilio made."""
    if not signature:
        return False
    pairs = _pairs(params)
    expected = signature.encode("utf-8")
    return any(
        hmac.compare_digest(compute_signature(auth_token, candidate, pairs).encode("ascii"), expected)
        for candidate in _port_variants(url)
    )


# --------------------------------------------------------------------------
# Stream tokens


class StreamTokens:
    """Issues and checks `<expiry>.<HMAC-SHA256(secret, callSid|caller|expiry)>` tokens (wall clock, seconds).

    A token names its expiry, but one that claims to live longer than `ttl_s` from now is refused
    (a token from a configuration with a longer TTL, or clocks far apart, is not honoured for long)."""

    CLOCK_SKEW_S = 5.0
    """How far apart the clocks of the processes sharing a secret may be."""

    def __init__(self, secret: bytes, ttl_s: float = 120.0, clock: Callable[[], float] = time.time) -> None:
        if len(secret) < 16:
            raise ValueError("the stream-token secret must be at least 16 bytes")
        self._secret = secret
        self.ttl_s = ttl_s
        self._clock = clock

    def _mac(self, call_sid: str, caller: str, expiry: int) -> str:
        message = f"{len(call_sid)}:{call_sid}|{caller}|{expiry}"  # length-prefixed: no two fields run together
        digest = hmac.new(self._secret, message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def issue(self, call_sid: str, caller: str = "") -> str:
        expiry = int(self._clock() + self.ttl_s)
        return f"{expiry}.{self._mac(call_sid, caller, expiry)}"

    def expiry(self, call_sid: str, token: str | None, caller: str = "") -> int | None:
        """The token's expiry (unix seconds) if it is genuine, for this call and caller, not expired, and
        not claiming to outlive its TTL; else None."""
        if not token:
            return None
        expiry_text, _, mac = token.partition(".")
        if not (expiry_text.isascii() and expiry_text.isdigit()) or len(expiry_text) > 12:
            return None
        expiry = int(expiry_text)
        expected = self._mac(call_sid, caller, expiry).encode("ascii")
        if not hmac.compare_digest(expected, mac.encode("utf-8", "replace")):
            return None
        now = self._clock()
        return expiry if now <= expiry <= now + self.ttl_s + self.CLOCK_SKEW_S else None
