"""`hv run --deterministic | --record FILE | --replay FILE`: the options and their checks."""
from __future__ import annotations

import argparse
import os


class ReplayInputError(Exception):
    """A bad option (one line for the user)."""


def add_run_options(run: argparse.ArgumentParser) -> None:
    run.add_argument("--deterministic", action="store_true",
                     help="guest time (TSC, system time, timers) and event delivery from"
                          " instruction counts, not the host clock: the same guest with the"
                          " same input runs the same way (PV, HVM, PVH; several vCPUs too)")
    run.add_argument("--record", default=None, metavar="FILE",
                     help="deterministic, and write console input and other outside events"
                          " to FILE with the point at which each was delivered")
    run.add_argument("--replay", default=None, metavar="FILE",
                     help="deterministic, and deliver FILE's events at their points"
                          " instead of reading input (gdb can then step backwards)")


def domain_options(args, hvm: bool, vcpus: int) -> list[str] | None:
    """The domain process's options, or None when none of ours was given."""
    if not (args.deterministic or args.record or args.replay):
        return None
    if args.record and args.replay:
        raise ReplayInputError("--record and --replay cannot be used together")
    options = ["--deterministic"]
    if args.replay:
        from hvcore.replay.record import RecordError, load
        try:
            load(args.replay)
        except RecordError as err:
            raise ReplayInputError(f"--replay {err}") from None
        options += ["--replay", os.path.abspath(args.replay)]
    if args.record:
        folder = os.path.dirname(os.path.abspath(args.record))
        if not os.path.isdir(folder) or os.path.isdir(args.record):
            raise ReplayInputError(f"--record {args.record}: cannot create that file")
        options += ["--record", os.path.abspath(args.record)]
    return options
