"""One check's verdict: passed or not, what was seen, how long it took."""

from __future__ import annotations

import attrs


@attrs.frozen
class Verdict:
    check: str
    ok: bool
    detail: str
    latency_ms: float | None = None
    warning: bool = False
    """Passed, with something to act on (a model's shutdown is near)."""

    def line(self) -> str:
        status = "FAIL" if not self.ok else ("WARN" if self.warning else "ok")
        latency = f" ({self.latency_ms:.0f} ms)" if self.latency_ms is not None else ""
        return f"{status:4}  {self.check}{latency}: {self.detail}"
