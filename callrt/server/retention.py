"""Trace retention (`CALLRT_TRACE_RETENTION_DAYS`): traces older than that are deleted when the
server starts and every hour after. Traces hold what callers said; keep them no longer than needed."""

from __future__ import annotations

import logging
import os
import stat
import time
from pathlib import Path

import trio

logger = logging.getLogger("callrt.server.retention")

PRUNE_EVERY_S = 3600.0
TRACE_SUFFIX = ".jsonl"


def prune_traces(trace_dir: Path, max_age_days: float, now: float | None = None) -> int:
    """Delete the trace files in `trace_dir` last written more than `max_age_days` ago; how many went.
    Only regular `*.jsonl` files directly in it (a symlink is never followed: it is removed if old)."""
    cutoff = (time.time() if now is None else now) - max_age_days * 86400.0
    removed = 0
    try:
        entries = list(os.scandir(trace_dir))
    except FileNotFoundError:
        return 0
    for entry in entries:
        if not entry.name.endswith(TRACE_SUFFIX):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)) and info.st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:
            continue  # another worker pruned it first
    return removed


async def keep_pruning(trace_dir: Path, max_age_days: float, every_s: float = PRUNE_EVERY_S) -> None:
    """Prune now, then every `every_s`, off the event loop; runs until cancelled."""
    while True:
        try:
            removed = await trio.to_thread.run_sync(prune_traces, trace_dir, max_age_days)
        except OSError as exc:
            logger.warning("could not prune traces in %s: %s", trace_dir, exc)
        else:
            if removed:
                logger.info("pruned %d trace(s) older than %g days from %s", removed, max_age_days, trace_dir)
        await trio.sleep(every_s)
