"""A domain process's progress reports: how many hypercalls and traps its vCPUs have
made so far, sent to the host every few tenths of a second while the counts move.

`hv run` asks for them (environment variable HV_PROGRESS_SECONDS, inherited by the
domain process) so that its no-progress watchdog and its JSON result see a domain that
it had to stop; a domain that ends on its own reports its final counts at shutdown.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Callable

ENV = "HV_PROGRESS_SECONDS"


def counts(dom) -> tuple[int, int]:
    """(hypercalls, traps) over the domain's vCPUs."""
    return (sum(v.hypercalls_made for v in dom.vcpus), sum(v.traps_taken for v in dom.vcpus))


def start_reports(dom, send: Callable[[dict], None]) -> threading.Thread | None:
    """Start the reporting thread if the host asked for it (a daemon: it ends with us)."""
    try:
        every = float(os.environ.get(ENV, "0"))
    except ValueError:
        return None
    if every <= 0:
        return None
    thread = threading.Thread(target=_report_loop, args=(dom, send, every),
                              name="hv-progress", daemon=True)
    thread.start()
    return thread


def _report_loop(dom, send: Callable[[dict], None], every: float) -> None:
    last = None
    while True:
        time.sleep(every)
        now = counts(dom)
        if now == last:
            continue
        last = now
        try:
            send({"event": "progress", "hypercalls": now[0], "traps": now[1]})
        except OSError:
            return          # the host has gone: nothing more to tell
