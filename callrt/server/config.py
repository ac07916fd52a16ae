"""The telephony server's configuration: `ServerConfig` (with its environment variables), the models
calls will use, and the settings handed to hypercorn."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
from hypercorn.config import Config as HypercornConfig

from actors.config import CallConfig
from actors.defaults import (
    DEFAULT_DIALECT,
    DEFAULT_LANGUAGE,
    DEFAULT_REALTIME_MODELS,
    DEFAULT_TRANSCRIPTION_MODEL,
    DIALECTS,
    Dialect,
    Language,
)
from callrt.model.llm_extractor import DEFAULT_NLP_MODEL

if TYPE_CHECKING:
    from store import BusinessSettings


@attrs.frozen
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    db_url: str = "sqlite:///callrt.db"
    db_schema: str | None = None
    """CALLRT_DB_SCHEMA: the PostgreSQL schema of callrt's tables, in a database shared with another application."""
    public_url: str | None = None
    """The base URL Twilio uses to reach us (e.g. `https://calls.example.com`); overrides the request's
    own URL and any X-Forwarded-Proto/Host headers."""
    forwarded_allow_ips: str = "127.0.0.1"
    """Proxies whose X-Forwarded-Proto/Host (right-most value) and Host are believed: comma-separated
    addresses or networks, `*` for any (uvicorn's `--forwarded-allow-ips`)."""
    business_id: int | None = None
    """The business every call is for, whatever number was called; None: route by the called number."""
    max_calls: int = 100
    """Concurrent calls per server process; streams beyond it are closed with 1013 (try again later)."""
    max_pending: int = 32
    """Media connections per process still waiting for their `start`; the oldest is dropped beyond it."""
    max_message_bytes: int = 64 * 1024
    """Largest inbound websocket message; the stream is closed (1009) beyond it."""
    auth_token: str | None = None
    """TWILIO_AUTH_TOKEN: when set, /twiml requires a valid X-Twilio-Signature."""
    insecure: bool = False
    """Serve a non-loopback address without an auth token (`callrt serve --insecure`)."""
    stream_secret: bytes = attrs.field(factory=lambda: secrets.token_bytes(32), repr=False)
    token_ttl_s: float = 120.0
    start_timeout_s: float = 5.0
    """How long a new media connection may take to complete its handshake and send its `start` message."""
    body_timeout_s: float = 10.0
    """How long an HTTP request's body may take to arrive whole (408 beyond it)."""
    trace_dir: Path = Path("traces")
    trace_max_bytes: int = 64 * 1024 * 1024
    """A call's trace file stops (with a `trace_truncated` event) at this size."""
    trace_retention_days: float | None = None
    """CALLRT_TRACE_RETENTION_DAYS: traces older than this are deleted (at start, then hourly); None keeps them."""
    worker: int = 0
    """This process's number among `workers` (1…N), 0 for a single process; /health shows it."""
    workers: int = 1
    openai_api_key: str | None = attrs.field(default=None, repr=False)
    openai_model: str | None = None
    """None: the connector's default model for the dialect."""
    dialect: Dialect = attrs.field(default=DEFAULT_DIALECT, validator=attrs.validators.in_(DIALECTS))
    language: Language = DEFAULT_LANGUAGE
    transcription_model: str = DEFAULT_TRANSCRIPTION_MODEL
    """CALLRT_TRANSCRIPTION_MODEL: the caller's speech is transcribed by it (the NLP reads the transcript)."""
    realtime_url: str | None = None
    """CALLRT_REALTIME_URL: the Realtime websocket to use instead of OpenAI's. Without an API key it is taken
    to be a simulated peer (`callrt sim-peer`): the stream's sim script and call id go in its handshake."""
    write_traces: bool = True
    """CALLRT_TRACES=off: no per-call trace files (the events still feed /metrics); e.g. under load tests."""
    drain_s: float = CallConfig().max_call_s
    """`--drain-s`: on SIGTERM, how long running calls may go on before they are ended with a goodbye."""
    relay: bool = False
    """Serve every call as a bare relay (no actors, no VAD, no trace): the benchmark's baseline."""
    metrics_token: str | None = attrs.field(default=None, repr=False)
    """CALLRT_METRICS_TOKEN: the bearer token /metrics requires; None: /metrics is not served."""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> ServerConfig:
        """Defaults from the environment (CALLRT_DB_URL, OPENAI_API_KEY, TWILIO_AUTH_TOKEN, CALLRT_TRACE_DIR,
        CALLRT_DB_SCHEMA, CALLRT_PUBLIC_URL, CALLRT_FORWARDED_ALLOW_IPS, CALLRT_STREAM_SECRET, CALLRT_OPENAI_MODEL,
        CALLRT_TRANSCRIPTION_MODEL, CALLRT_DIALECT, CALLRT_REALTIME_URL, CALLRT_TRACES, CALLRT_TRACE_RETENTION_DAYS)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {
            "db_url": env.get("CALLRT_DB_URL", "sqlite:///callrt.db"),
            "db_schema": env.get("CALLRT_DB_SCHEMA") or None,
            "public_url": env.get("CALLRT_PUBLIC_URL") or None,
            "auth_token": env.get("TWILIO_AUTH_TOKEN") or None,
            "trace_dir": Path(env.get("CALLRT_TRACE_DIR", "traces")),
            "openai_api_key": env.get("OPENAI_API_KEY") or None,
            "openai_model": env.get("CALLRT_OPENAI_MODEL") or None,
            "transcription_model": env.get("CALLRT_TRANSCRIPTION_MODEL") or DEFAULT_TRANSCRIPTION_MODEL,
            "dialect": env.get("CALLRT_DIALECT", DEFAULT_DIALECT),
            "realtime_url": env.get("CALLRT_REALTIME_URL") or None,
            "write_traces": env.get("CALLRT_TRACES", "on").lower() not in ("0", "off", "false", "no"),
            "forwarded_allow_ips": env.get("CALLRT_FORWARDED_ALLOW_IPS", "127.0.0.1"),
            "metrics_token": env.get("CALLRT_METRICS_TOKEN") or None,
        }
        if env.get("CALLRT_TRACE_RETENTION_DAYS"):
            values["trace_retention_days"] = float(env["CALLRT_TRACE_RETENTION_DAYS"])
        if env.get("CALLRT_STREAM_SECRET"):
            values["stream_secret"] = env["CALLRT_STREAM_SECRET"].encode("utf-8")
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)


def hypercorn_config(config: ServerConfig) -> HypercornConfig:
    hc = HypercornConfig()
    hc.websocket_max_message_size = config.max_message_bytes
    hc.graceful_timeout = 5.0
    hc.accesslog = None
    hc.errorlog = logging.getLogger("hypercorn.error")  # through our logging set-up, not a second handler
    return hc


def business_models(settings: BusinessSettings) -> dict[str, str]:
    """The models a business chose for its own calls (`callrt business set --realtime-model …`), by role."""
    chosen = {"Realtime": settings.realtime_model, "transcription": settings.transcription_model}
    return {role: model for role, model in chosen.items() if model}


def configured_models(config: ServerConfig) -> dict[str, str]:
    """The models calls will use, by role (what `callrt serve` and `callrt doctor` check for shutdowns)."""
    return {
        "Realtime": config.openai_model or DEFAULT_REALTIME_MODELS[config.dialect],
        "transcription": config.transcription_model,
        "NLP": DEFAULT_NLP_MODEL,
    }
