"""What `hv run` watches for a grader: the console against --expect, the no-progress
watchdog, and the JSON result (see docs/user-guide.md, "Grading-friendly runs")."""
from __future__ import annotations

import re
import time

TAIL_BYTES = 4096           # console kept for the JSON result
SEARCH_BYTES = 1 << 20      # console kept for --expect (a match may span chunks)


class RunWatch:
    def __init__(self, expect: re.Pattern | None, no_progress: float | None) -> None:
        self.expect = expect
        self.no_progress = no_progress
        self.console = bytearray()
        self.matched: str | None = None
        self.last_progress = time.monotonic()
        self.last_counts: tuple = ()

    def output(self, data: bytes) -> None:
        """Console output from the guest (either kind): progress, and maybe the match."""
        if not data:
            return
        self.last_progress = time.monotonic()
        self.console += data
        del self.console[:-SEARCH_BYTES]
        if self.expect is not None and self.matched is None:
            found = self.expect.search(self.console.decode("utf-8", "replace"))
            if found:
                self.matched = found.group(0)

    def counts(self, progress: dict) -> None:
        """The domain's latest progress report: a new hypercall or trap is progress."""
        now = (progress.get("hypercalls"), progress.get("traps"))
        if now != self.last_counts:
            self.last_counts = now
            self.last_progress = time.monotonic()

    def stop_reason(self) -> str | None:
        """"expect" once the console matched, "no_progress" once the watchdog fired."""
        if self.matched is not None:
            return "expect"
        if self.no_progress and time.monotonic() - self.last_progress >= self.no_progress:
            return "no_progress"
        return None

    def tail(self) -> str:
        return self.console[-TAIL_BYTES:].decode("utf-8", "replace")


def result(watch: RunWatch, name: str, reason: str, code: int, wall: float,
           counts: dict) -> dict:
    """The JSON result of one run (keys documented in docs/user-guide.md)."""
    return {"domain": name, "exit_reason": reason, "exit_code": code,
            "wall_seconds": round(wall, 3), "matched": watch.matched,
            "hypercalls": counts.get("hypercalls"), "traps": counts.get("traps"),
            "instructions": None, "console_tail": watch.tail()}
