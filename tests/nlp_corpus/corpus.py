"""Loads the NLP corpus: every `*.jsonl` here, one labelled case per line (format: callrt.model.nlp_eval).

Each case has an `id`, a `category` (the pattern it exercises) and a `split`: `dev` cases
may be read while writing rules, `test` cases are held out and only scored. The split was
made once, from a stable hash of the id (`split_of`), and is recorded in the files, so a
case never moves between parts. A case without `now` is read at `DEFAULT_NOW`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from callrt.model.nlp_eval import LabelledCase, load_cases

CORPUS_DIR = Path(__file__).parent
DEFAULT_NOW = dt.datetime.fromisoformat("2026-11-24T10:00:00+02:00")  # a Tuesday
TIMEZONE = "Asia/Jerusalem"
TEST_SHARE_PERCENT = 35


def split_of(case_id: str) -> str:
    """`test` for about 35 % of ids, chosen by the first 32 bits of the id's SHA-256."""
    bucket = int(hashlib.sha256(case_id.encode()).hexdigest()[:8], 16) % 100
    return "test" if bucket < TEST_SHARE_PERCENT else "dev"


def corpus_files() -> list[Path]:
    return sorted(CORPUS_DIR.glob("*.jsonl"))


def load_corpus() -> list[LabelledCase]:
    return load_cases(corpus_files(), DEFAULT_NOW, TIMEZONE)
