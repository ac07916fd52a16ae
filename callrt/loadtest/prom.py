"""Reading the server's /metrics: samples, histograms and their quantiles."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)$")


def parse(text: str) -> dict[str, float]:
    """`name{labels}` -> value for every sample line (labels kept verbatim)."""
    samples: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line.strip())
        if match:
            key = match["name"] + (f"{{{match['labels']}}}" if match["labels"] else "")
            samples[key] = float(match["value"])
    return samples


def merge(scrapes: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Sum of several processes' samples (counters and histograms add up across workers)."""
    total: dict[str, float] = {}
    for samples in scrapes:
        for key, value in samples.items():
            total[key] = total.get(key, 0.0) + value
    return total


def difference(after: Mapping[str, float], before: Mapping[str, float]) -> dict[str, float]:
    """What the counters and histograms gained between two scrapes."""
    return {key: value - before.get(key, 0.0) for key, value in after.items()}


def buckets(samples: Mapping[str, float], name: str) -> list[tuple[float, float]]:
    """(upper bound in the metric's unit, cumulative count), ascending, +Inf last."""
    out = []
    prefix = f'{name}_bucket{{le="'
    for key, value in samples.items():
        if key.startswith(prefix):
            bound = key[len(prefix) : -2]
            out.append((math.inf if bound == "+Inf" else float(bound), value))
    return sorted(out)


def quantile(samples: Mapping[str, float], name: str, q: float) -> float | None:
    """Like Prometheus' histogram_quantile: linear within the bucket holding the q-th observation.

    None without observations; the last finite bound when the quantile lies beyond it.
    """
    cumulative = buckets(samples, name)
    if not cumulative or cumulative[-1][1] <= 0:
        return None
    rank = q * cumulative[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in cumulative:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound
