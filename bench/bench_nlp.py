"""Microseconds per utterance of the offline rule extractor, over the hand-written NLP corpus.

Every corpus case (single utterances and whole conversations) is extracted `--rounds`
times; the figure is per caller utterance (a conversation of three caller turns counts
three), because the NlpActor re-reads the conversation at every turn.

Reproduce: .venv/bin/python bench/bench_nlp.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from nlp_corpus.corpus import TIMEZONE, load_corpus

from actors.appointment_nlp import RuleExtractor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    extractor = RuleExtractor()
    cases = load_corpus()
    single = [c for c in cases if not c.is_conversation]
    conversations = [c for c in cases if c.is_conversation]

    def per_utterance_us(group: list) -> list[float]:
        turns = sum(sum(turn.role == "user" for turn in case.history) for case in group)
        samples = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            for case in group:
                extractor.extract_sync(case.history, case.now, TIMEZONE)
            samples.append((time.perf_counter() - start) / turns * 1e6)
        return samples

    for label, group in (("single utterances", single), ("conversations", conversations), ("whole corpus", cases)):
        samples = per_utterance_us(group)
        print(
            f"{label:18s} {len(group):4d} cases  median {statistics.median(samples):7.1f} µs/utterance"
            f"  (best {min(samples):.1f}, worst {max(samples):.1f}, {args.rounds} rounds)"
        )


if __name__ == "__main__":
    main()
