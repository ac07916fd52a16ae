"""The NLP check (the booking model answers in the JSON schema) and the webhook check (the public
webhook answers, refuses an unsigned request and accepts one signed as Twilio signs it)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import httpx
import openai
import trio

from actors.appointment_nlp import RuleExtractor
from actors.messages import HistoryTurn
from callrt.doctor.verdict import Verdict
from callrt.model.llm_extractor import LlmExtractor
from callrt.telephony.webhook import compute_signature, parse_stream_twiml

SAMPLE = [HistoryTurn("user", "I'd like an appointment tomorrow at six pm, my name is Dana")]
SAMPLE_ZONE = "Asia/Jerusalem"
HTTP_TIMEOUT_S = 10.0


async def check_nlp(extractor: LlmExtractor | None) -> Verdict:
    """With a key, one request to the NLP model without the rule fallback; without, the rule extractor."""
    now = dt.datetime.now(dt.UTC)
    started = trio.current_time()
    try:
        if extractor is None:
            action = RuleExtractor().extract_sync(SAMPLE, now, SAMPLE_ZONE)
            source = "rule extractor (simulated: no OPENAI_API_KEY)"
        else:
            action = await extractor.answer(SAMPLE, now, SAMPLE_ZONE)
            source = f"{extractor.model} answered in the schema"
    except (openai.OpenAIError, ValueError, trio.TooSlowError) as exc:
        return Verdict("nlp_schema", False, f"{type(exc).__name__}: {exc}"[:300], _ms(started))
    if action.action != "create_appointment" or action.start is None or (action.name or "").lower() != "dana":
        return Verdict("nlp_schema", False, f"{source}, but not the sample booking: {action}"[:300], _ms(started))
    return Verdict("nlp_schema", True, f"{source}: book {action.start:%Y-%m-%d %H:%M} for {action.name}", _ms(started))


async def check_webhook(public_url: str, auth_token: str) -> list[Verdict]:
    url = public_url.rstrip("/") + "/twiml"
    form = {"CallSid": "CAdoctor00000000000000000000000000", "From": "+15005550006", "To": "+15005550001"}
    body = urlencode(form)
    headers = {"content-type": "application/x-www-form-urlencoded"}
    verdicts = []
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as client:
        started = trio.current_time()
        try:
            unsigned = await client.post(url, content=body, headers=headers)
            signed = await client.post(
                url, content=body, headers={**headers, "x-twilio-signature": compute_signature(auth_token, url, form)}
            )
        except httpx.HTTPError as exc:
            return [Verdict("webhook_reachable", False, f"{url}: {type(exc).__name__}: {exc}"[:300], _ms(started))]
        verdicts.append(Verdict("webhook_reachable", True, f"{url} answered", _ms(started)))
        verdicts.append(
            Verdict(
                "webhook_refuses_unsigned", unsigned.status_code == 403, f"unsigned request: {unsigned.status_code}"
            )
        )
        verdicts.append(_signed_verdict(signed))
    return verdicts


def _signed_verdict(response: httpx.Response) -> Verdict:
    if response.status_code != 200:
        return Verdict("webhook_accepts_signed", False, f"signed request: {response.status_code} {response.text[:100]}")
    try:
        stream_url, _params = parse_stream_twiml(response.text)
    except ValueError as exc:
        return Verdict("webhook_accepts_signed", False, f"signed request answered, but: {exc}")
    return Verdict("webhook_accepts_signed", True, f"TwiML streams to {stream_url}")


def _ms(since: float) -> float:
    return (trio.current_time() - since) * 1000.0
