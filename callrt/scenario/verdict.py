"""A scenario report's verdict: whether the call did what its file expects, and the exit status of a run.

`judge` adds to a report what its scenario's `expect` says of it: `unmet` (a message per expectation
the report does not meet), `not_applicable` (expectations a live call cannot check) and
`failure_expected` (the file names the failure it expects). `problems` names what makes a report
fail: a failed call (`failed`, unless it was expected), the invariants it broke, its unmet
expectations. `summary_line` and `exit_status` are what `callrt scenario run` and `callrt call` print
and return (docs/scenario-format.md, "Verdict and exit status").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from callrt.scenario.expect import lookup, unmet_expectations

EXIT_OK = 0
EXIT_FAILED = 1
"""A call failed, broke an invariant or left an expectation unmet."""
EXIT_NOT_APPLICABLE = 3
"""Nothing failed, but a live call could not check some of its file's expectations."""

LIVE_UNAPPLIED = ("now", "business", "appointments")
"""Scenario fields a live call cannot apply: the server answers with its own business, clock and book."""
LIVE_DEPENDENT_FIELDS = frozenset({"appointments", "server_notes", "ai_turns", "outcome", "callbacks_recorded"})
"""Report fields that follow from the business, its clock and its book: what the server decided, and
the words the model said about it. A live call's expectations on them are not applicable."""


def _field(path: str) -> str:
    return path.split(".", 1)[0].split("[", 1)[0]


def judge(report: Mapping[str, Any], expect: Mapping[str, Any], *, live: bool = False) -> dict[str, Any]:
    """`report` with `unmet`, `not_applicable` (lists of strings) and `failure_expected` set from `expect`,
    next to its `violations`."""
    applicable = {p: v for p, v in expect.items() if not (live and _field(p) in LIVE_DEPENDENT_FIELDS)}
    verdict_fields = {
        "unmet": unmet_expectations(dict(report), applicable),
        "not_applicable": [path for path in expect if path not in applicable],
        "failure_expected": expects_failure(applicable),
    }
    judged: dict[str, Any] = {}
    for key, value in report.items():
        judged[key] = value
        if key == "violations":
            judged.update(verdict_fields)
    return judged


def expects_failure(expect: Mapping[str, Any]) -> bool:
    """Whether the file expects its call to fail (`"failed.reason": "session_refused"`, `"outcome.kind": "failed"`):
    a failure it names is checked like any expectation, not counted against the run."""
    return any(
        (_field(path) == "failed" and value is not None) or (path == "outcome.kind" and value == "failed")
        for path, value in expect.items()
    )


def problems(report: Mapping[str, Any]) -> list[str]:
    """What fails this (judged) report, in words: empty when nothing does."""
    found = []
    failed = report.get("failed")
    if failed is not None and not report.get("failure_expected"):
        found.append(f"FAILED ({failed['reason']}): {failed['words']}")
    if report["violations"]:
        found.append("VIOLATIONS: " + ", ".join(report["violations"]))
    if report.get("unmet"):
        found.append("UNMET: " + "; ".join(report["unmet"]))
    return found


def verdict(report: Mapping[str, Any]) -> str:
    found = problems(report)
    if found:
        return " | ".join(found)
    if report.get("not_applicable"):
        return "not applicable (expects " + ", ".join(report["not_applicable"]) + " of the server's own business)"
    return "ok"


def summary_line(report: Mapping[str, Any]) -> str:
    hangup = report.get("hangup") or {}
    outcome = lookup(dict(report), "outcome.words")
    said = f", {outcome}" if isinstance(outcome, str) else ""
    return (
        f"{report['scenario']}: {verdict(report)} | {report['duration_ms'] / 1000:.1f}s, ended by"
        f" {hangup.get('by')} ({hangup.get('reason')}){said}, appointments={len(report['appointments'])},"
        f" silence_prompts={report['silence_prompts']}, barge_ins={len(report['barge_ins'])},"
        f" responses={report['responses_created']}, trace={report['trace']}"
    )


def exit_status(reports: Sequence[Mapping[str, Any]]) -> int:
    """`EXIT_FAILED` when any report has a problem, else `EXIT_NOT_APPLICABLE` when any could not check
    an expectation, else `EXIT_OK`."""
    if any(problems(report) for report in reports):
        return EXIT_FAILED
    return EXIT_NOT_APPLICABLE if any(report.get("not_applicable") for report in reports) else EXIT_OK
