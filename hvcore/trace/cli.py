"""What `hv` does for traces: `hv run --trace SPEC --trace-out FILE` (check the spec,
create the file) and `hv trace show|summary|timeline FILE`."""
from __future__ import annotations

import argparse
import os
import sys
import time

# The readers (and what they import) are loaded by the commands that use them: `hv`
# builds its parser with this module on every start.


class TraceInputError(Exception):
    """Bad input for a trace: one line for the user."""


def add_run_options(run: argparse.ArgumentParser) -> None:
    run.add_argument("--trace", default=None, metavar="SPEC",
                     help="trace insn, block, hypercall, trap, evtchn, io, mmu, sched or all, "
                          "comma-separated, each with :FILTER and @DOMAIN (docs/trace-format.md)")
    run.add_argument("--trace-out", default=None, metavar="FILE", help="where the trace goes")


def add_trace_command(sub) -> None:
    trace = sub.add_parser("trace", help="read a trace file (hv run --trace)")
    trace.add_argument("what", choices=["show", "summary", "timeline", "diff"])
    trace.add_argument("file", help="a trace file")
    trace.add_argument("other", nargs="?", default=None, metavar="FILE2",
                       help="diff: the trace to compare FILE with (host-time fields aside)")
    trace.add_argument("-o", dest="output", default=None, metavar="HTML",
                       help="timeline: the page to write (default FILE.html)")
    trace.add_argument("--kind", default=None, metavar="KINDS",
                       help="show: only these kinds (comma-separated)")
    trace.add_argument("--limit", type=int, default=None, metavar="N",
                       help="show: at most N events")


def prepare_run(spec_text: str | None, out_path: str | None, kernel: str,
                append: bool = False) -> tuple[str, str] | None:
    """(SPEC, FILE) for the domain process, the file created with its header; with
    `append` (hv create), a trace file that exists already is added to."""
    if spec_text is None and out_path is None:
        return None
    if spec_text is None or out_path is None:
        raise TraceInputError("--trace and --trace-out go together")
    import datetime

    from hvcore.trace.spec import SpecError, parse
    try:
        parse(spec_text)
    except SpecError as err:
        raise TraceInputError(f"--trace: {err}") from None
    from hvcore.trace import writer
    meta = {"t0_ns": time.monotonic_ns(), "clock": "CLOCK_MONOTONIC",
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "spec": spec_text, "kernel": kernel}
    try:
        if append and os.path.exists(out_path):
            _open(out_path)                  # a trace file, or a one-line error
        else:
            writer.create(out_path, meta)
    except OSError as err:
        raise TraceInputError(f"--trace-out {out_path}: {err.strerror}") from None
    except TraceInputError as err:
        raise TraceInputError(f"--trace-out: {err}") from None
    return spec_text, os.path.abspath(out_path)


def run_command(args) -> int:
    try:
        return _run_command(args)
    except BrokenPipeError:                # `hv trace show FILE | head`
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _run_command(args) -> int:
    from hvcore.trace import format as fmt
    try:
        return _read_command(args)
    except fmt.FormatError as err:
        raise TraceInputError(f"{args.file}: {err}") from None


def _read_command(args) -> int:
    from hvcore.trace import show, summary, timeline
    from hvcore.trace.spec import KINDS
    trace = _open(args.file)
    if args.what == "diff":
        from hvcore.trace.compare import diff
        if args.other is None:
            raise TraceInputError("diff needs two trace files")
        return diff(trace, _open(args.other), sys.stdout)
    if args.other is not None:
        raise TraceInputError(f"{args.what} reads one trace file")
    if args.what == "show":
        kinds = set(args.kind.split(",")) if args.kind else None
        unknown = (kinds or set()) - set(KINDS) - {"domain", "end"}
        if unknown:
            raise TraceInputError(f"--kind: unknown {', '.join(sorted(unknown))}")
        show.show(trace, sys.stdout, kinds, args.limit)
    elif args.what == "summary":
        summary.write(trace, sys.stdout)
    else:
        out = args.output or f"{args.file}.html"
        try:
            timeline.write(trace, out, args.file)
        except OSError as err:
            raise TraceInputError(f"{out}: {err.strerror}") from None
        sys.stderr.write(f"hv trace: timeline written to {out}\n")
    return 0


def _open(path: str):
    from hvcore.trace import format as fmt
    from hvcore.trace.reader import TraceFile
    try:
        return TraceFile(path)
    except OSError as err:
        raise TraceInputError(f"{path}: {err.strerror}") from None
    except fmt.FormatError as err:
        raise TraceInputError(f"{path}: {err}") from None
