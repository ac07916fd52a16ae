"""Call summaries of trace files, computed once per version of each file.

A file's version is its size and modification time: a trace still being written gets a new
summary each time it grew, a finished one is read once. The cache is bounded (least recently
used entries go first) and safe to use from worker threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from callrt.viewer.summary import summarise_file

CACHED_SUMMARIES = 512


class SummaryCache:
    def __init__(self, capacity: int = CACHED_SUMMARIES) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[Path, tuple[tuple[int, int], dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()
        self.computed = 0
        """How many summaries were computed (not served from the cache), for tests and curiosity."""

    def summary(self, path: Path) -> dict[str, Any]:
        """The summary of the trace at `path` (blocking: call it from a worker thread in async code)."""
        stat = path.stat()
        version = (stat.st_size, stat.st_mtime_ns)
        with self._lock:
            cached = self._entries.get(path)
            if cached is not None and cached[0] == version:
                self._entries.move_to_end(path)
                return cached[1]
        summary = summarise_file(path)
        with self._lock:
            self.computed += 1
            self._entries[path] = (version, summary)
            self._entries.move_to_end(path)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return summary
