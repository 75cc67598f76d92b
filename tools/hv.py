"""The `hv` command line.

    hv run KERNEL [--memory MiB] [--cmdline STR] [--timeout SECONDS]

Exit codes: 0 guest powered off, 1 crashed, 3 rebooted, 124 timed out, 2 bad input.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

EXIT_POWEROFF, EXIT_CRASH, EXIT_BAD_INPUT, EXIT_REBOOT, EXIT_TIMEOUT = 0, 1, 2, 3, 124
_EXIT_FOR_REASON = {"poweroff": EXIT_POWEROFF, "reboot": EXIT_REBOOT, "crash": EXIT_CRASH,
                    "watchdog": EXIT_CRASH, "suspend": EXIT_POWEROFF,
                    "soft_reset": EXIT_REBOOT, "timeout": EXIT_TIMEOUT}


class BadInput(Exception):
    """Something the user gave us is wrong: one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):   # one line, exit 2, as every bad input
        raise BadInput(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hv", description="hvcore: a Xen-style hypervisor on Unicorn")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="boot a PV kernel in the foreground")
    run.add_argument("kernel", help="Xen PV kernel (ELF with Xen notes)")
    run.add_argument("--memory", type=_positive_int, default=64, metavar="MiB",
                     help="guest memory in MiB (default 64)")
    run.add_argument("--cmdline", default="", help="kernel command line")
    run.add_argument("--timeout", type=_positive_float, default=None, metavar="SECONDS",
                     help="stop the guest after this many seconds (exit 124)")
    run.add_argument("--name", default=None, help="domain name (default: kernel file name)")
    return parser


def _positive(convert, what: str):
    """An argparse type: a number, > 0 (bad ones give one clear line)."""
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}")
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
        return value
    return parse


_positive_int = _positive(int, "a whole number")
_positive_float = _positive(float, "a number")


def _console_writer():
    out = sys.stdout.buffer

    def write(data: bytes) -> None:
        out.write(data)
        out.flush()
    return write


def cmd_run(args) -> int:
    from hvcore.scheduler import run_domain
    from loaders.elf import LoaderError, load_kernel
    from loaders.pv_builder import build_pv_domain
    from hvcore.hypercalls import load_families

    load_families()
    try:
        image = load_kernel(args.kernel)
        name = args.name or os.path.splitext(os.path.basename(args.kernel))[0]
        dom = build_pv_domain(image, args.memory, args.cmdline, domid=1, name=name,
                              console_write=_console_writer())
    except LoaderError as err:
        raise BadInput(f"hv: {err}")
    start = time.monotonic()
    deadline = start + args.timeout if args.timeout else None
    reason = run_domain(dom, deadline)
    wall = time.monotonic() - start
    if dom.crash_report:
        sys.stderr.write(dom.crash_report + "\n")
    hypercalls = sum(v.hypercalls_made for v in dom.vcpus)
    traps = sum(v.traps_taken for v in dom.vcpus)
    sys.stderr.write(f"hv: d{dom.domid} ({dom.name}) {reason} after {wall:.3f}s,"
                     f" {hypercalls} hypercalls, {traps} traps, guest instructions not counted\n")
    dom.destroy()
    return _EXIT_FOR_REASON.get(reason, EXIT_CRASH)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "run":
            return cmd_run(args)
        raise BadInput(f"hv: unknown command {args.command}")
    except BadInput as err:
        sys.stderr.write(f"{err}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write("hv: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
