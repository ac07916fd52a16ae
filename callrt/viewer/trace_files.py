"""Trace files as the viewer reads them: regular files only, never through a symlink, never a torn line.

A trace folder is written by the server and may hold what an attacker planted (a symlink to a
secret, a FIFO that would block an open): every read here refuses both.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

CHUNK_BYTES = 65536
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK  # a FIFO planted in trace_dir must not block the open


def is_trace_file(path: Path) -> bool:
    """A regular file itself, not a symlink to one."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def open_trace(path: Path) -> int:
    """A read-only descriptor of a regular trace file, never through a symlink (OSError otherwise)."""
    fd = os.open(path, _READ_FLAGS)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise IsADirectoryError(f"{path} is not a regular file")
    return fd


def complete_length(fd: int) -> int:
    """How many bytes of the file are whole lines: a live call's trace may end in a torn one."""
    end = os.fstat(fd).st_size
    while end > 0:
        start = max(0, end - CHUNK_BYTES)
        newline = os.pread(fd, end - start, start).rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        end = start
    return 0
