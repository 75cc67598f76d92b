"""The `hv` command line.

    hv run KERNEL [--memory MiB] [--cmdline STR] [--timeout SECONDS]

Exit codes: 0 guest powered off (or --expect matched), 1 crashed, 2 bad input, 3 rebooted,
4 no progress (--no-progress), 5 ended without the --expect match, 124 timed out.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

EXIT_POWEROFF, EXIT_CRASH, EXIT_BAD_INPUT, EXIT_REBOOT, EXIT_TIMEOUT = 0, 1, 2, 3, 124
EXIT_NO_PROGRESS, EXIT_NO_MATCH = 4, 5
EXIT_DESTROYED = 130           # the user ended `hv run` from its terminal (Ctrl-])
CTRL_RIGHT_BRACKET = b"\x1d"   # detaches `hv console`, ends `hv run`
_EXIT_FOR_REASON = {"poweroff": EXIT_POWEROFF, "reboot": EXIT_REBOOT, "crash": EXIT_CRASH,
                    "watchdog": EXIT_CRASH, "suspend": EXIT_POWEROFF,
                    "soft_reset": EXIT_REBOOT, "timeout": EXIT_TIMEOUT,
                    "expect": EXIT_POWEROFF, "no_progress": EXIT_NO_PROGRESS}


class BadInput(Exception):
    """Something the user gave us is wrong: one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):   # one line, exit 2, as every bad input
        raise BadInput(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hv", description="hvcore: a Xen-style hypervisor on Unicorn")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="boot a PV kernel (or an xl.cfg file) in the foreground")
    run.add_argument("kernel", metavar="CONFIG|KERNEL",
                     help="Xen PV kernel (ELF with Xen notes), or a domain config in xl.cfg syntax")
    run.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                     help="config settings, as xl accepts them after the config file")
    run.add_argument("--memory", type=_positive_int, default=None, metavar="MiB",
                     help="guest memory in MiB (default 64, or the config's)")
    run.add_argument("--cmdline", default=None, help="kernel command line")
    run.add_argument("--pcap", default=None, metavar="FILE",
                     help="write the frames on the domain's bridges to FILE (libpcap, Ethernet)")
    run.add_argument("--timeout", type=_positive_float, default=None, metavar="SECONDS",
                     help="stop the guest after this many seconds (exit 124)")
    run.add_argument("--expect", type=_regex, default=None, metavar="REGEX",
                     help="stop at the first console output matching REGEX (exit 0);"
                          " a guest that ends without it exits 5")
    run.add_argument("--no-progress", type=_positive_float, default=None, metavar="SECONDS",
                     help="stop the guest after SECONDS with no console output and no"
                          " hypercall or trap (exit 4)")
    run.add_argument("--hypercalls", default=None, metavar="FILE.py",
                     help="load more hypercalls from FILE.py (it registers them with"
                          " hvcore.hypercalls.hypercall, as a lab's does)")
    run.add_argument("--json", action="store_true",
                     help="print a JSON result on stdout (the console goes to stderr)")
    run.add_argument("--name", default=None, help="domain name (default: kernel file name)")
    run.add_argument("--type", choices=("pv", "pvh", "hvm"), default=None,
                     help="the guest type (as type = in a config): pvh boots a PVH kernel directly")
    run.add_argument("--entry32", action="store_true",
                     help="hvm: start an ELF kernel at its entry in flat 32-bit mode (no"
                          " Multiboot header or protocol needed)")
    run.add_argument("--gdb", type=_port, default=None, metavar="PORT",
                     help="serve the gdb remote protocol on 127.0.0.1:PORT (0: any free port)")
    run.add_argument("--gdb-wait", action="store_true",
                     help="with --gdb: stop the guest before its first instruction until gdb connects")
    from hvcore.trace.cli import add_run_options, add_trace_command
    add_run_options(run)
    from hvcore.replay.cli import add_run_options as add_replay_options
    add_replay_options(run)
    add_trace_command(sub)
    bench = sub.add_parser("bench", help="the benchmark suite (as `make bench`; docs/benchmarks.md)")
    bench.add_argument("options", nargs="*", metavar="OPTION",
                       help="its own: --quick, --json FILE, --doc FILE, --no-doc, --no-build")
    grade = sub.add_parser("grade", help="grade a lab (labs/LAB): points per check")
    grade.add_argument("lab", help="the lab's folder name under labs/")
    grade.add_argument("--src", default=None, metavar="DIR",
                       help="grade the files in DIR (default labs/LAB, e.g. labs/LAB/solution)")
    up = sub.add_parser("up", help="start the host (dom0) in the background")
    up.add_argument("--pcap", default=None, metavar="FILE",
                    help="write every frame on the host's bridges to FILE (libpcap, Ethernet)")
    sub.add_parser("down", help="destroy every domain and stop the host")
    create = sub.add_parser("create", help="create a domain from an xl.cfg file")
    create.add_argument("config", help="domain config in xl.cfg syntax")
    create.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    create.add_argument("-c", dest="console", action="store_true",
                        help="attach to the console once created")
    create.add_argument("-p", dest="paused", action="store_true", help="leave it paused")
    add_run_options(create)      # several domains may trace into one file (@DOMAIN filters)
    lister = sub.add_parser("list", help="list domains (xl's columns)")
    lister.add_argument("-l", dest="long", action="store_true", help="JSON, one object per domain")
    for name, text in (("console", "attach to a domain's console (Ctrl-] detaches)"),
                       ("destroy", "stop a domain at once"),
                       ("pause", "pause a domain"), ("unpause", "unpause a domain"),
                       ("reboot", "ask a domain to reboot (control/shutdown)")):
        p = sub.add_parser(name, help=text)
        p.add_argument("dom", help="domain name or id")
    shut = sub.add_parser("shutdown", help="ask a domain to power off (control/shutdown)")
    shut.add_argument("-w", dest="wait", action="store_true", help="wait until it is gone")
    shut.add_argument("dom", help="domain name or id")
    gdbs = sub.add_parser("gdbserver", help="serve gdb for a running domain on 127.0.0.1:PORT")
    gdbs.add_argument("dom", help="domain name or id")
    gdbs.add_argument("port", type=_port, help="TCP port (0: any free port)")
    mem = sub.add_parser("mem-set", help="set a domain's memory target (its balloon driver acts)")
    mem.add_argument("dom", help="domain name or id")
    mem.add_argument("mib", type=_positive_int, help="the new target in MiB")
    save = sub.add_parser("save", help="save a domain to FILE and stop it (docs/snapshot-format.md)")
    save.add_argument("-c", dest="checkpoint", action="store_true",
                      help="checkpoint: leave the domain running")
    save.add_argument("dom", help="domain name or id")
    save.add_argument("file", help="the snapshot file to write")
    restore = sub.add_parser("restore", help="create a domain from a snapshot FILE (hv save)")
    restore.add_argument("file", help="a snapshot file written by hv save")
    restore.add_argument("--name", default=None, help="name the domain NAME (default: the saved name)")
    restore.add_argument("-c", dest="console", action="store_true",
                         help="attach to its console (Ctrl-] detaches)")
    restore.add_argument("-p", dest="paused", action="store_true", help="leave it paused")
    sub.add_parser("dmesg", help="the hypervisor's log")
    sub.add_parser("info", help="about the host")
    xs = sub.add_parser("xenstore", help="read and change the host's xenstore (as dom0)")
    xs.add_argument("sub", choices=["ls", "read", "write", "rm", "perms", "watch"])
    xs.add_argument("--count", type=_positive_int, default=None,
                    help="watch: stop after this many events")
    xs.add_argument("path", nargs="?", default="/")
    xs.add_argument("value", nargs="*", help="value (write) or permissions like n0 r1 (perms)")
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


def _port(text: str) -> int:
    """A TCP port: 0 (any free one) to 65535."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text!r}")
    return int(text)
_positive_float = _positive(float, "a number")


def _regex(text: str):
    """An argparse type: a Python regular expression (searched in the console text)."""
    import re
    try:
        return re.compile(text, re.MULTILINE)
    except re.error as err:
        raise argparse.ArgumentTypeError(f"not a regular expression: {text!r} ({err})")


def cmd_run(args) -> int:
    """The one-shot foreground form: a private host that runs one domain in its own
    process and serves its console (console_io and the PV console ring) on stdout."""
    import select

    from hvcore.host.domain_process import DomainStartError, start_domain
    from hvcore.host.progress import ENV as PROGRESS_ENV
    from tools.run_watch import RunWatch

    if os.path.isdir(args.kernel):
        raise BadInput(f"hv: {args.kernel}: is a directory, not a kernel or config file")
    if not os.path.isfile(args.kernel):
        raise BadInput(f"hv: {args.kernel}: no such file")
    if args.gdb_wait and args.gdb is None:
        raise BadInput("hv run: --gdb-wait needs --gdb PORT")
    pcap = _pcap_path(args.pcap, "hv run")
    if args.hypercalls is not None:
        if not os.path.isfile(args.hypercalls):
            raise BadInput(f"hv run: --hypercalls {args.hypercalls}: no such file")
        from hvcore.hypercalls import EXTRA_ENV
        os.environ[EXTRA_ENV] = os.path.abspath(args.hypercalls)
    kernel, name, memory, cmdline, vcpus, cfg = _what_to_boot(args)
    hvm = _hvm_options(cfg) if cfg.type in ("hvm", "pvh") else None
    if args.entry32:
        if hvm is None or not kernel:
            raise BadInput("hv run: --entry32 starts an hvm guest's kernel (type=hvm, kernel=...)")
        hvm.append("--entry32")
    trace = _trace_request(args, kernel)
    replay = _replay_request(args, hvm is not None, vcpus)
    start = time.monotonic()
    os.environ[PROGRESS_ENV] = "0.25"       # the domain reports its counts as they move
    dp = start_domain(kernel, 1, name, memory, cmdline, vcpus=vcpus, gdb_port=args.gdb,
                      gdb_wait=args.gdb_wait, hvm=hvm, trace=trace, replay=replay)
    from hvcore.host.private_host import PrivateHost   # while the domain's Python starts
    try:
        dp.wait_built()
    except DomainStartError as err:
        raise BadInput(f"hv: {err}")
    if dp.info.get("gdb_port") is not None:
        wait = ", guest waiting for it" if args.gdb_wait else ""
        sys.stderr.write(f"hv: gdb: listening on 127.0.0.1:{dp.info['gdb_port']}{wait}\n")
        sys.stderr.flush()
    if hvm is not None and "store_pfn" not in dp.info:     # firmware-booted: no rings
        from hvcore.hvm.process import NoBackends
        host = NoBackends()
    else:
        host = PrivateHost(dp, cfg, pcap)   # xenstored, dom0's event channels, blk/netback
    out = sys.stderr.buffer if args.json else sys.stdout.buffer
    deadline = start + args.timeout if args.timeout else None
    stopped = None              # why we end the domain ourselves, if we do
    watch = RunWatch(args.expect, args.no_progress)
    stdin = _StdinFeeder(reads=not args.replay)    # a replay's input is its recording's
    busy = False
    try:
        while dp.proc.poll() is None:
            wait = 0.05 if deadline is None else max(0.0, min(0.05, deadline - time.monotonic()))
            ready, _, _ = select.select([dp.notify_fd, dp.sock] + host.waits() + stdin.fds(),
                                        [], [], 0 if busy else wait)
            stdin.feed(dp, readable=bool(ready and stdin.fds() and stdin.fds()[0] in ready))
            watch.output(_stream(out, dp))
            watch.counts(dp.progress)
            busy = host.serve()
            if stdin.quit:
                dp.kill()
                break
            if deadline is not None and time.monotonic() >= deadline:
                stopped = "timeout"
                dp.kill()
                break
            if watch.stop_reason() is not None:
                stopped = watch.stop_reason()
                dp.kill()
                break
        dp.wait()
        watch.output(_stream(out, dp))
    finally:
        stdin.restore()
        host.close()
        dp.close()
    if stdin.quit:
        print(f"\r\nhv: {name} destroyed (Ctrl-])", file=sys.stderr)
        return EXIT_DESTROYED
    return _report(dp, name, time.monotonic() - start, stopped, watch, args.json)


class _StdinFeeder:
    """stdin -> the guest's console ring, holding back what the ring cannot take yet.
    A terminal is put in raw mode (keys go to the guest as typed, as with `hv console`);
    Ctrl-] there ends the run."""

    def __init__(self, reads: bool = True) -> None:
        self.pending = b""
        self.open = reads and not sys.stdin.closed and _readable_fd(0)
        self.quit = False
        self.saved_tty = None
        if self.open and os.isatty(0):
            import termios
            import tty
            self.saved_tty = termios.tcgetattr(0)
            tty.setraw(0)

    def restore(self) -> None:
        if self.saved_tty is not None:
            import termios
            termios.tcsetattr(0, termios.TCSADRAIN, self.saved_tty)
            self.saved_tty = None

    def fds(self) -> list[int]:
        return [0] if self.open and not self.pending else []

    def feed(self, dp, readable: bool) -> None:
        if readable:
            data = os.read(0, 4096)
            if not data:
                self.open = False
            if self.saved_tty is not None and CTRL_RIGHT_BRACKET in data:
                data, self.quit = data.split(CTRL_RIGHT_BRACKET, 1)[0], True
            self.pending += data
        if self.pending:
            self.pending = self.pending[dp.feed_console(self.pending):]


def _readable_fd(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def _what_to_boot(args) -> tuple[str, str, int, str, int, object]:
    """(kernel, name, memory MiB, cmdline, vcpus, config) from a kernel file or an xl.cfg file;
    options given on the command line win over the config's. A kernel file takes
    KEY=VALUE settings too (vcpus=2), as if it came with a config of its own."""
    with open(args.kernel, "rb") as f:
        is_elf = f.read(4) == b"\x7fELF"
    from hvcore.toolstack import ConfigError, load_config, parse_config
    if args.type is not None:               # --type pvh: as a type = line would say
        args.overrides = [*args.overrides, f'type="{args.type}"']
    try:
        if is_elf:
            kernel = json.dumps(os.path.abspath(args.kernel))
            text = f'name = "hv-run"\nkernel = {kernel}\nmemory = 64\n'
            cfg = parse_config(text, "hv run", overrides=args.overrides)
            cfg = dataclasses.replace(cfg, name=os.path.splitext(os.path.basename(args.kernel))[0])
        else:
            cfg = load_config(args.kernel, args.overrides)
    except ConfigError as err:
        raise BadInput(f"hv: {err}")
    if cfg.type not in ("pv", "pvh", "hvm"):
        raise BadInput(f"hv: {args.kernel}: type '{cfg.type}' is not supported (pv, pvh or hvm)")
    for warning in cfg.warnings:
        sys.stderr.write(f"hv: {warning}\n")
    cmdline = args.cmdline if args.cmdline is not None else (cfg.cmdline or "")
    cfg = dataclasses.replace(cfg, cmdline=cmdline)     # what an HVM guest's loader passes
    return (str(cfg.kernel or ""), args.name or cfg.name, args.memory or cfg.memory, cmdline,
            cfg.vcpus, cfg)


def _hvm_options(cfg) -> list[str]:
    """The HVM domain process's options (hvcore/hvm/config.py)."""
    from hvcore.hvm.config import HvmConfigError, hvm_options
    try:
        return hvm_options(cfg)
    except HvmConfigError as err:
        raise BadInput(f"hv: {err}") from None


def _stream(out, dp) -> bytes:
    """dom0's round, and the guest's console output as it comes (returned too)."""
    data = dp.serve_backends()
    if data:
        out.write(data)
        out.flush()
    return data


def _report(dp, name: str, wall: float, stopped: str | None, watch, as_json: bool) -> int:
    """The summary line (and crash report) on stderr, the JSON result on stdout;
    `stopped`: why `hv run` itself ended the domain (timeout, expect, no_progress)."""
    shutdown = dp.shutdown or {}
    counts = shutdown or dp.progress
    timed_out = stopped is not None
    if stopped is not None:
        reason = stopped
    elif shutdown:
        reason = shutdown["reason"]
    else:
        reason = "crash"
        sys.stderr.write(f"d{dp.domid} ({name}): domain process died"
                         f" (exit status {dp.proc.returncode})\n")
    if shutdown.get("crash_report"):
        sys.stderr.write(shutdown["crash_report"] + "\n")
    sys.stderr.write(f"hv: d{dp.domid} ({name}) {reason} after {wall:.3f}s,"
                     f" {counts.get('hypercalls', '?')} hypercalls,"
                     f" {counts.get('traps', '?')} traps, guest instructions not counted\n")
    if shutdown.get("exit_code") is not None and not timed_out:
        code = shutdown["exit_code"]        # the guest wrote to the test-exit port
    else:
        code = _EXIT_FOR_REASON.get(reason, EXIT_CRASH)
    if watch.expect is not None and watch.matched is None and code in (EXIT_POWEROFF, EXIT_REBOOT):
        code = EXIT_NO_MATCH                # it ended well, but never said what was expected
    if as_json:
        from tools.run_watch import result
        print(json.dumps(result(watch, name, reason, code, wall, counts)), flush=True)
    return code


def cmd_grade(args) -> int:
    """`hv grade LAB`: the lab's autograder (labs/grading.py); 0 with full marks, else 1."""
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    from labs import grading
    if args.lab not in grading.lab_names():
        raise BadInput(f"hv grade: no lab {args.lab!r} (labs: {', '.join(grading.lab_names())})")
    src = Path(args.src) if args.src else None
    if src is not None and not src.is_dir():
        raise BadInput(f"hv grade: --src {args.src}: no such folder")
    outcomes = grading.grade(args.lab, src)
    print(grading.report(args.lab, outcomes))
    return 0 if all(o.earned == o.points for o in outcomes) else 1


def cmd_host(args) -> int:
    """The toolstack commands, answered by the host."""
    from hvcore.host import client
    try:
        return _host_command(args, client)
    except client.HostError as err:
        sys.stderr.write(f"hv {args.command}: {err}\n")
        return EXIT_BAD_INPUT


def _host_command(args, client) -> int:
    cmd = args.command
    if cmd == "up":
        client.start_host(client.state_dir(), pcap=_pcap_path(args.pcap, "hv up"))
        return 0
    if cmd == "down":
        try:
            client.request("down")
        except client.HostError:
            pass            # not running: nothing to stop
        return 0
    if cmd == "create":
        path = os.path.abspath(args.config)
        trace = _trace_request(args, path, append=True)
        reply = client.request("create", start=True, config=path, overrides=args.overrides,
                               trace=trace)
        if args.paused:
            client.request("pause", dom=reply["domid"])
        sys.stderr.write(f"hv: created d{reply['domid']} ({reply['name']})\n")
        return _console(client, reply["domid"]) if args.console else 0
    if cmd == "list":
        rows = client.request("list")["domains"]
        if args.long:
            print(json.dumps(rows, indent=2))
        else:
            print(f"{'Name':<32} {'ID':>5} {'Mem':>5} {'VCPUs':>5} {'State':>6} {'Time(s)':>9}")
            for r in rows:
                print(f"{r['name']:<32} {r['id']:>5} {r['mem']:>5} {r['vcpus']:>5} "
                      f"{_xl_state(r['state']):>6} {r['time']:>9.1f}")
        return 0
    if cmd == "dmesg":
        print("\n".join(client.request("dmesg")["lines"]))
        return 0
    if cmd == "info":
        for key, value in client.request("info")["info"].items():
            print(f"{key:<16}: {value}")
        return 0
    if cmd == "xenstore":
        return _xenstore(client, args)
    if cmd == "gdbserver":
        port = client.request("gdbserver", dom=args.dom, port=args.port)["port"]
        print(f"hv: gdb: d{_domid(client, args.dom)} listening on 127.0.0.1:{port}")
        return 0
    if cmd == "mem-set":          # xl mem-set: memory/target, in KiB, for the guest
        domid = _domid(client, args.dom)
        client.request("xenstore", sub="write", path=f"/local/domain/{domid}/memory/target",
                       value=str(args.mib * 1024))
        return 0
    if cmd == "console":
        return _console(client, args.dom)
    if cmd in ("shutdown", "reboot"):
        client.request("shutdown", dom=args.dom,
                       reason="reboot" if cmd == "reboot" else "poweroff")
        if cmd == "shutdown" and args.wait:      # until gone, or kept as shut down (preserve)
            while any(str(args.dom) in (str(r["id"]), r["name"]) and r["state"] not in "sc"
                      for r in client.request("list")["domains"]):
                time.sleep(0.1)
        return 0
    if cmd in ("save", "restore"):
        return _snapshot(client, args)
    client.request(cmd, dom=args.dom)      # destroy, pause, unpause
    return 0


def _snapshot(client, args) -> int:
    """hv save [-c] DOM FILE, hv restore FILE: the host does the work (hvcore/snapshot/)."""
    path = os.path.abspath(args.file)
    if args.command == "save":
        reply = client.request("save", dom=args.dom, file=path, checkpoint=args.checkpoint)
        kept = ", still running" if args.checkpoint else ""
        sys.stderr.write(f"hv: saved d{reply['domid']} ({reply['name']}) to {args.file}{kept}\n")
        return 0
    reply = client.request("restore", start=True, file=path, name=args.name)
    if args.paused:
        client.request("pause", dom=reply["domid"])
    sys.stderr.write(f"hv: restored d{reply['domid']} ({reply['name']}) from {args.file}\n")
    return _console(client, reply["domid"]) if args.console else 0


def _pcap_path(path: str | None, who: str) -> str | None:
    """--pcap FILE as an absolute path, refused at once if its folder is missing."""
    if path is None:
        return None
    full = os.path.abspath(path)
    if not os.path.isdir(os.path.dirname(full)):
        raise BadInput(f"{who}: --pcap {path}: no such folder")
    return full


def _domid(client, dom: str) -> int:
    for row in client.request("list")["domains"]:
        if dom in (str(row["id"]), row["name"]):
            return row["id"]
    raise BadInput(f"hv: no domain {dom!r}")


def _xl_state(letters: str) -> str:
    """xl's six state columns: running, blocked, paused, shutdown, crashed, dying."""
    return "".join(c if c in letters else "-" for c in "rbpscd")


def _xenstore(client, args) -> int:
    if args.sub == "watch":
        return _xenstore_watch(client, args.path, args.count)
    req = {"sub": args.sub, "path": args.path}
    if args.sub == "write":
        if len(args.value) != 1:
            raise BadInput("hv xenstore write: give one PATH and one VALUE")
        req["value"] = args.value[0]
    if args.sub == "perms":
        req["perms"] = args.value
    reply = client.request("xenstore", **req)
    if args.sub == "read":
        print(reply["value"])
    elif args.sub == "ls":
        for path, value in reply["tree"]:
            print(f'{path} = "{value}"')
    elif args.sub == "perms":
        print(" ".join(reply["perms"]))
    return 0


def _xenstore_watch(client, path: str, count: int | None) -> int:
    """Watch PATH over xenstored's own socket (Xen's wire protocol), one event a line."""
    import socket as so
    from hvcore.host.supervisor import XENSTORED_SOCKET
    from hvcore.public.io import xs_wire as w
    from hvcore.xenstore import FrameReader, Message
    sock = so.socket(so.AF_UNIX, so.SOCK_STREAM)
    try:
        sock.connect(str(client.state_dir() / XENSTORED_SOCKET))
    except OSError:
        raise client.HostError("no host is running; start one with `hv up`")
    token = "hv-watch"
    sock.sendall(Message(w.XS_WATCH, 1, 0, path.encode() + b"\0" + token.encode() + b"\0").pack())
    frames, seen = FrameReader(), 0
    with sock:
        while count is None or seen < count:
            data = sock.recv(65536)
            if not data:
                break
            for raw in frames.feed(data):
                msg = Message.unpack(raw)
                if msg.type == w.XS_ERROR:
                    raise client.HostError(f"watch {path}: {msg.payload.rstrip(bytes(1)).decode()}")
                if msg.type == w.XS_WATCH_EVENT:
                    print(msg.payload.split(b"\0")[0].decode("latin-1"), flush=True)
                    seen += 1
    return 0


def _console(client, dom) -> int:
    """Attach: the guest's output so far and as it comes; input to its ring.
    In a terminal, raw mode; Ctrl-] detaches."""
    import select
    import termios
    import tty
    sock = client.connect()
    client.exchange(sock, {"op": "console", "dom": dom})
    out = sys.stdout.buffer
    tty_in = sys.stdin.isatty()
    saved = termios.tcgetattr(0) if tty_in else None
    if tty_in:
        tty.setraw(0)
    try:
        stdin_open = True
        while True:
            fds = [sock] + ([0] if stdin_open else [])
            ready, _, _ = select.select(fds, [], [])
            if sock in ready:
                data = sock.recv(65536)
                if not data:
                    break               # the domain is gone
                out.write(data)
                out.flush()
            if 0 in ready:
                data = os.read(0, 1024)
                if not data:
                    stdin_open = False
                elif CTRL_RIGHT_BRACKET in data:
                    break
                else:
                    sock.sendall(data)
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
        sock.close()
    return 0


def _trace_request(args, kernel: str, append: bool = False) -> tuple[str, str] | None:
    """--trace SPEC --trace-out FILE checked, and the file created (hvcore/trace/cli.py);
    `append` (hv create): an existing trace file is added to."""
    from hvcore.trace.cli import TraceInputError, prepare_run
    try:
        return prepare_run(args.trace, args.trace_out, kernel, append)
    except TraceInputError as err:
        raise BadInput(f"hv {args.command}: {err}")


def _replay_request(args, hvm: bool, vcpus: int) -> list[str] | None:
    """--deterministic, --record FILE, --replay FILE checked (hvcore/replay/cli.py)."""
    from hvcore.replay.cli import ReplayInputError, domain_options
    try:
        return domain_options(args, hvm, vcpus)
    except ReplayInputError as err:
        raise BadInput(f"hv run: {err}") from None


def cmd_trace(args) -> int:
    """hv trace show|summary|timeline FILE"""
    from hvcore.trace.cli import TraceInputError, run_command
    try:
        return run_command(args)
    except TraceInputError as err:
        raise BadInput(f"hv trace: {err}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:            # its options are tools.bench's own
        from tools.bench import main as bench_main
        return bench_main(argv[1:])
    try:
        args = build_parser().parse_args(argv)
        if args.command == "run":
            return cmd_run(args)
        if args.command == "grade":
            return cmd_grade(args)
        if args.command == "trace":
            return cmd_trace(args)
        return cmd_host(args)
    except BadInput as err:
        sys.stderr.write(f"{err}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write("hv: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
