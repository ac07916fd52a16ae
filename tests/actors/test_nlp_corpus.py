"""Scores the rule extractor on the hand-written corpus: prints the accuracy and every miss, fails below 95%."""

from __future__ import annotations

from actors.appointment_nlp import RuleExtractor
from tests.nlp_corpus.corpus import TIMEZONE, load_corpus

MIN_ACCURACY = 0.95


def test_corpus_size() -> None:
    cases = load_corpus()
    assert sum(not case.is_conversation for case in cases) >= 150
    assert sum(case.is_conversation for case in cases) >= 20
    languages = {"he" if any("\u0590" <= ch <= "\u05ff" for ch in case.label) else "en" for case in cases}
    assert languages == {"he", "en"}


def test_rule_extractor_accuracy_on_corpus() -> None:
    extractor = RuleExtractor()
    cases = load_corpus()
    misses = []
    for case in cases:
        action = extractor.extract_sync(case.history, case.now, TIMEZONE)
        got = action.to_json()
        if (got["date"] is None or got["time"] is None) != (got["start"] is None):
            misses.append(f"{case.label}\n    start inconsistent: {got}")
            continue
        got.pop("start")
        if got != case.expect:
            diff = {key: (got[key], case.expect[key]) for key in got if got[key] != case.expect.get(key)}
            misses.append(f"{case.label}\n    got != expected: {diff}")
    accuracy = 1 - len(misses) / len(cases)
    print(f"\nNLP rule extractor: {len(cases) - len(misses)}/{len(cases)} correct, accuracy {accuracy:.1%}")
    for miss in misses:
        print("  MISS", miss)
    assert accuracy >= MIN_ACCURACY
