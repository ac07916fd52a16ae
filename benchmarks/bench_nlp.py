"""Microseconds per utterance of the offline rule extractor, over the hand-written NLP corpus.

Every corpus case (single utterances and whole conversations) is extracted `--rounds`
times, with the extractor's cache of parsed turns cleared before each round; the figure
is per caller utterance (a conversation of three caller turns counts three). Then each
conversation is extracted as the NlpActor does in a call, once per caller turn over the
history so far, with the cache as a call leaves it: per caller turn, that is the cost of
parsing the new turn and folding the history again.

Reproduce: .venv/bin/python benchmarks/bench_nlp.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root: `tests` is a package

from actors.appointment_nlp import RuleExtractor
from actors.appointment_nlp.rules import clear_parse_cache
from tests.nlp_corpus.corpus import TIMEZONE, load_corpus


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
            clear_parse_cache()
            start = time.perf_counter()
            for case in group:
                extractor.extract_sync(case.history, case.now, TIMEZONE)
            samples.append((time.perf_counter() - start) / turns * 1e6)
        return samples

    def per_turn_in_a_call_us() -> list[float]:
        prefixes = [
            [case.history[: end + 1] for end, turn in enumerate(case.history) if turn.role == "user"]
            for case in conversations
        ]
        turns = sum(len(p) for p in prefixes)
        samples = []
        for _ in range(args.rounds):
            clear_parse_cache()
            start = time.perf_counter()
            for case, histories in zip(conversations, prefixes, strict=True):
                for history in histories:
                    extractor.extract_sync(history, case.now, TIMEZONE)
            samples.append((time.perf_counter() - start) / turns * 1e6)
        return samples

    for label, group in (("single utterances", single), ("conversations", conversations), ("whole corpus", cases)):
        samples = per_utterance_us(group)
        print(
            f"{label:18s} {len(group):4d} cases  median {statistics.median(samples):7.1f} µs/utterance"
            f"  (best {min(samples):.1f}, worst {max(samples):.1f}, {args.rounds} rounds)"
        )
    samples = per_turn_in_a_call_us()
    print(
        f"{'in a call':18s} {len(conversations):4d} cases  median {statistics.median(samples):7.1f} µs/caller turn"
        f"  (best {min(samples):.1f}, worst {max(samples):.1f}; the history re-read at every turn)"
    )


if __name__ == "__main__":
    main()
