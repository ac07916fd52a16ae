"""TwiML, Twilio's webhook signature (against its documented example) and stream tokens."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st

from callrt.telephony.webhook import (
    StreamTokens,
    compute_signature,
    parse_stream_twiml,
    stream_twiml,
    validate_signature,
)

# Twilio's "Secure webhooks" documentation example: auth token 12345, this URL and these
# POST parameters are signed as 0/KCTR6DLpKmkAf8muzZqo1nDgQ=.
DOC_TOKEN = "12345"
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
DOC_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_documented_example_signature() -> None:
    assert compute_signature(DOC_TOKEN, DOC_URL, DOC_PARAMS) == DOC_SIGNATURE
    assert validate_signature(DOC_TOKEN, DOC_SIGNATURE, DOC_URL, DOC_PARAMS)
    # Parameter order as received does not matter: Twilio sorts by name.
    assert validate_signature(DOC_TOKEN, DOC_SIGNATURE, DOC_URL, list(reversed(list(DOC_PARAMS.items()))))


def test_signature_rejects_wrong_token_tampering_and_absence() -> None:
    assert not validate_signature("54321", DOC_SIGNATURE, DOC_URL, DOC_PARAMS)
    assert not validate_signature(DOC_TOKEN, DOC_SIGNATURE, DOC_URL, {**DOC_PARAMS, "Digits": "1235"})
    assert not validate_signature(DOC_TOKEN, DOC_SIGNATURE, DOC_URL, {**DOC_PARAMS, "Extra": ""})
    assert not validate_signature(DOC_TOKEN, DOC_SIGNATURE, DOC_URL.replace("foo=1", "foo=2"), DOC_PARAMS)
    assert not validate_signature(DOC_TOKEN, DOC_SIGNATURE, "http://mycompany.com/myapp.php?foo=1&bar=2", DOC_PARAMS)
    assert not validate_signature(DOC_TOKEN, None, DOC_URL, DOC_PARAMS)
    assert not validate_signature(DOC_TOKEN, "", DOC_URL, DOC_PARAMS)
    assert not validate_signature(DOC_TOKEN, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=ü", DOC_URL, DOC_PARAMS)


def test_signature_with_or_without_the_default_port() -> None:
    with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    assert validate_signature(DOC_TOKEN, DOC_SIGNATURE, with_port, DOC_PARAMS)
    signed_with_port = compute_signature(DOC_TOKEN, with_port, DOC_PARAMS)
    assert validate_signature(DOC_TOKEN, signed_with_port, DOC_URL, DOC_PARAMS)
    assert not validate_signature(DOC_TOKEN, DOC_SIGNATURE, "https://mycompany.com:8443/myapp.php?foo=1&bar=2", {})


PARAM_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)


@given(st.dictionaries(PARAM_TEXT, PARAM_TEXT, max_size=5), st.text(min_size=1, max_size=20))
@settings(max_examples=100)
def test_signature_accepts_exactly_its_own_params(params: dict[str, str], token: str) -> None:
    signature = compute_signature(token, DOC_URL, params)
    assert validate_signature(token, signature, DOC_URL, params)
    assert not validate_signature(token, signature, DOC_URL, {**params, "Tampered": "1"})


def test_twiml_connects_stream_with_escaped_parameters_then_hangs_up() -> None:
    url = "wss://calls.example.com/media"
    params = {"token": "123.abc", "caller": "+972501234567", "sim_script": '{"say": "<שלום> & \\"bye\\""}'}
    xml = stream_twiml(url, params)
    root = ET.fromstring(xml)
    assert root.tag == "Response"
    assert [child.tag for child in root] == ["Connect", "Hangup"]
    assert parse_stream_twiml(xml) == (url, params)


@given(st.dictionaries(PARAM_TEXT.filter(bool), PARAM_TEXT, max_size=4))
@settings(max_examples=100)
def test_twiml_parameters_round_trip(params: dict[str, str]) -> None:
    # XML cannot carry every character verbatim (e.g. bare CR is normalised), so compare what survives parsing.
    url, parsed = parse_stream_twiml(stream_twiml("wss://h/media?a=1&b=2", params))
    assert url == "wss://h/media?a=1&b=2"
    assert parsed == params


class FakeWallClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_stream_token_is_bound_to_call_secret_and_time() -> None:
    clock = FakeWallClock()
    tokens = StreamTokens(b"s" * 32, ttl_s=120, clock=clock)
    token = tokens.issue("CA1")
    assert tokens.expiry("CA1", token) == 1_800_000_120
    assert tokens.expiry("CA2", token) is None
    assert StreamTokens(b"t" * 32, clock=clock).expiry("CA1", token) is None
    expiry, _, mac = token.partition(".")
    assert tokens.expiry("CA1", f"{int(expiry) + 1000}.{mac}") is None
    for garbage in (None, "", ".", "abc", "12.", "١٢.x", "9" * 40 + "." + mac):
        assert tokens.expiry("CA1", garbage) is None
    clock.now += 120
    assert tokens.expiry("CA1", token) == 1_800_000_120
    clock.now += 1
    assert tokens.expiry("CA1", token) is None
