"""What the simulated model peer knows about one call: the caller's lines and the peer's faults.

A `SimScript` is cut out of a scenario file (docs/scenario-format.md): the
`say` texts in order (the peer "transcribes" the nth non-empty committed audio
buffer as the nth text) and the faults the model side plays. It travels as a
compact JSON string: a Twilio `<Parameter name="sim_script">` in live runs, the
`X-Callrt-Sim-Script` header on the peer's websocket.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from actors.defaults import DEFAULT_LANGUAGE, LANGUAGES, Language
from store.errors import CallrtError

PeerFaultKind = Literal[
    "realtime_disconnect",
    "late_transcription",
    "duplicate_events",
    "ai_false_claim",
    "text_only_reply",
    "refuse_session",
    "realtime_freeze",
]
PEER_FAULT_KINDS: frozenset[str] = frozenset(typing.get_args(PeerFaultKind))


class ScriptError(CallrtError, ValueError):
    """A scenario or a serialised script the peer cannot use."""


@attrs.frozen
class PeerFault:
    kind: PeerFaultKind
    at_ms: int
    ms: int = 0
    """`late_transcription`: how long after the response started the transcription arrives;
    `realtime_freeze`: how long the peer says nothing."""
    field: str = ""
    """`refuse_session`: the session field refused (a path inside `session`, `*`: every session)."""


@attrs.frozen
class SimScript:
    language: Language = DEFAULT_LANGUAGE
    business_name: str = ""
    says: tuple[str, ...] = ()
    faults: tuple[PeerFault, ...] = ()

    @classmethod
    def from_scenario(cls, scenario: Mapping[str, Any]) -> SimScript:
        """The peer's part of a scenario; faults meant for other components (crash, db_down) are left out."""
        language = scenario.get("language", DEFAULT_LANGUAGE)
        if language not in LANGUAGES:
            raise ScriptError(f"language must be 'he' or 'en', not {language!r}")
        business = scenario.get("business") or {}
        says = tuple(
            str(step["say"]) for step in scenario.get("script", []) if isinstance(step, Mapping) and "say" in step
        )
        faults = tuple(
            _fault(raw)
            for raw in scenario.get("faults", [])
            if isinstance(raw, Mapping) and raw.get("kind") in PEER_FAULT_KINDS
        )
        return cls(language=language, business_name=str(business.get("name", "")), says=says, faults=faults)

    def to_json(self) -> str:
        """Compact JSON (ASCII-only, so it is a valid HTTP header value and TwiML attribute)."""
        doc: dict[str, Any] = {"l": self.language, "b": self.business_name, "s": list(self.says)}
        if self.faults:
            doc["f"] = [_fault_doc(fault) for fault in self.faults]
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=True)

    @classmethod
    def from_json(cls, text: str) -> SimScript:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScriptError(f"sim script is not JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise ScriptError("sim script must be a JSON object")
        language = doc.get("l", DEFAULT_LANGUAGE)
        says = doc.get("s", [])
        if language not in LANGUAGES or not isinstance(says, list):
            raise ScriptError("sim script: bad language or says")
        faults = tuple(_fault(raw) for raw in doc.get("f", []))
        return cls(language=language, business_name=str(doc.get("b", "")), says=tuple(map(str, says)), faults=faults)

    def faults_of(self, kind: PeerFaultKind) -> tuple[PeerFault, ...]:
        return tuple(fault for fault in self.faults if fault.kind == kind)


def _fault(raw: Any) -> PeerFault:
    if not isinstance(raw, Mapping) or raw.get("kind") not in PEER_FAULT_KINDS:
        raise ScriptError(f"not a model-peer fault: {raw!r}")
    try:
        return PeerFault(
            kind=raw["kind"], at_ms=int(raw.get("at_ms", 0)), ms=int(raw.get("ms", 0)), field=str(raw.get("field", ""))
        )
    except (TypeError, ValueError) as exc:
        raise ScriptError(f"bad fault {raw!r}: {exc}") from exc


def _fault_doc(fault: PeerFault) -> dict[str, Any]:
    doc: dict[str, Any] = {"kind": fault.kind, "at_ms": fault.at_ms}
    if fault.ms:
        doc["ms"] = fault.ms
    if fault.field:
        doc["field"] = fault.field
    return doc
