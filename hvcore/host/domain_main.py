"""Entry point of a domain process: build the domain, hand its memory over, run it.

Started by `hvcore.host.domain_process.spawn_domain` as
    python -m hvcore.host.domain_main --sock FD --notify FD --domid N --name NAME ...
It sends, over the Unix socket FD: a "built" message with the guest RAM and hypervisor
memfds attached (SCM_RIGHTS), then a "shutdown" message; its exit code is `hv run`'s.
The console and xenstore rings are served by the other side (dom0): this process only
signals the notify eventfd when the guest kicks one of those ports.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import socket
import sys

INBOX_SENDERS = 16          # ring 0 for the host, the others for peer domains

EXIT_CODES = {"poweroff": 0, "reboot": 3, "crash": 1, "watchdog": 1, "suspend": 0,
              "soft_reset": 3}


def set_process_name(name: str) -> None:
    """What `ps -o comm` and top show (the kernel keeps 15 bytes)."""
    try:
        libc = ctypes.CDLL(None)
        libc.prctl(15, name.encode()[:15], 0, 0, 0)   # PR_SET_NAME
    except OSError:
        pass


def send(sock: socket.socket, message: dict, fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode() + b"\n"
    if fds:
        socket.send_fds(sock, [data], fds)
    else:
        sock.sendall(data)


def main(argv: list[str] | None = None) -> int:
    if "--hvm" in (sys.argv[1:] if argv is None else argv):
        from hvcore.hvm.process import main as hvm_main     # a PC, not a PV kernel
        return hvm_main(argv)
    parser = argparse.ArgumentParser()
    parser.add_argument("--sock", type=int, required=True)
    parser.add_argument("--notify", type=int, required=True)
    parser.add_argument("--domid", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--memory", type=int, default=64)
    parser.add_argument("--cmdline", default="")
    parser.add_argument("--vcpus", type=int, default=1)
    parser.add_argument("--no-console-io", action="store_true",
                        help="refuse console_io like release Xen: guests use the ring")
    parser.add_argument("--gdb", type=int, default=None, help="serve gdb on 127.0.0.1:PORT")
    parser.add_argument("--gdb-wait", action="store_true", help="stop before the first instruction")
    parser.add_argument("--trace", default=None, help="what to trace (hvcore/trace/spec.py)")
    parser.add_argument("--trace-out", default=None, help="the trace file (created by the host)")
    parser.add_argument("--restore", default=None, help="run on from this snapshot (hv restore)")
    parser.add_argument("--deterministic", action="store_true",
                        help="guest time and event delivery from instruction counts")
    parser.add_argument("--record", default=None, help="write outside events to FILE")
    parser.add_argument("--replay", default=None, help="apply the outside events of FILE")
    args = parser.parse_args(argv)
    set_process_name(f"hv: d{args.domid} {args.name}")
    sock = socket.socket(fileno=args.sock)

    from hvcore.hypercalls import load_families
    from hvcore.host.peers import HostLink
    from hvcore.inbox import Inbox
    from hvcore.scheduler import watch_inbox
    from loaders.elf import LoaderError, load_kernel
    from loaders.pv_builder import build_pv_domain

    load_families()
    from hvcore.snapshot import SnapshotError, SnapshotFormatError
    try:
        if args.restore is not None:
            from hvcore.snapshot.process import restored_domain
            dom = restored_domain(args.restore, args.domid, args.name, _hypervisor_console(sock))
        else:
            dom = build_pv_domain(load_kernel(args.kernel), args.memory, args.cmdline,
                                  args.domid, args.name, console_write=_hypervisor_console(sock),
                                  vcpus=args.vcpus)
    except (LoaderError, SnapshotError, SnapshotFormatError) as err:
        send(sock, {"event": "error", "message": str(err)})
        return 2
    dom.backend_notify = lambda port: os.eventfd_write(args.notify, 1)
    dom.console_io_allowed = not args.no_console_io
    dom.inbox = Inbox(senders=INBOX_SENDERS, name=f"hv-d{dom.domid}-inbox")  # 0: the host
    dom.host = HostLink(sock)
    if args.restore is not None:
        from hvcore.snapshot.process import reconnect
        reconnect(dom)
    exit_with_host(dom.domid)
    if (args.deterministic or args.record or args.replay) and not _start_replay(dom, args, sock):
        return 2
    if args.gdb is not None:
        from hvcore.gdb.server import GdbServer
        try:
            dom.debugger = GdbServer(dom, args.gdb, args.gdb_wait)
        except OSError as err:
            send(sock, {"event": "error", "message": f"gdb: cannot listen on 127.0.0.1:{args.gdb}:"
                                                     f" {err.strerror}"})
            return 2
    # gdb may step backwards (one vCPU: going back to a point between two vCPUs' turns
    # is not done yet, so gdb is not offered it)
    if dom.debugger is not None and dom.replay is not None and len(dom.vcpus) == 1:
        from hvcore.replay.checkpoints import Reverser
        dom.replay.reverser = Reverser(dom, dom.replay)
    if args.trace is not None and not start_trace(dom, args, sock):
        return 2
    send(sock, {"event": "built", "domid": dom.domid, "nr_pages": dom.nr_pages,
                "console_pfn": dom.console_pfn, "store_pfn": dom.store_pfn,
                "hv_phys_base": dom.hv_region.paddr, "pid": os.getpid(),
                "vcpus": len(dom.vcpus), "deterministic": dom.replay is not None,
                "gdb_port": dom.debugger.port if dom.debugger is not None else None,
                "console_evtchn": dom.console_evtchn, "store_evtchn": dom.store_evtchn},
         [dom.ram.fd, dom.hv_region.fd, dom.inbox.fd, dom.inbox.eventfd, dom.grants.region.fd])
    watch_inbox(dom)
    from hvcore.host.progress import start_reports
    start_reports(dom, lambda message: send(sock, message))
    if dom.debugger is not None:
        dom.debugger.start()
    try:
        reason = _run(dom)
    finally:
        if dom.tracer is not None:       # what is buffered reaches the file, even on a bug
            dom.tracer.close(dom.shutdown_reason or "hypervisor error")
        if dom.replay is not None:
            dom.replay.close(dom.shutdown_reason or "hypervisor error")
    if dom.debugger is not None:
        dom.debugger.domain_ended(reason)
    send(sock, {"event": "shutdown", "reason": reason, "crash_report": dom.crash_report,
                "hypercalls": sum(v.hypercalls_made for v in dom.vcpus),
                "traps": sum(v.traps_taken for v in dom.vcpus)})
    return EXIT_CODES.get(reason, 1)


def _run(dom) -> str:
    """run_domain; a replay that leaves its recording crashes the domain, saying so."""
    from hvcore.scheduler import run_domain
    if dom.replay is None:
        return run_domain(dom)
    from hvcore.replay.record import RecordError
    try:
        return run_domain(dom)
    except RecordError as err:
        dom.crash(f"d{dom.domid}: {err}")
        return "crash"


def _start_replay(dom, args, sock: socket.socket) -> bool:
    """Deterministic mode (and --record/--replay) before the first instruction, and
    before a tracer's hooks: the instruction counter must be the engine's first hook."""
    from hvcore.replay.record import RecordError, start
    try:
        dom.replay = start(dom, args.kernel, args.memory, args.cmdline, args.record, args.replay)
    except RecordError as err:
        send(sock, {"event": "error", "message": str(err)})
        return False
    return True


def exit_with_host(domid: int, every: float = 0.25) -> None:
    """End this process if the host that started it dies (SIGKILL, OOM killer...): we
    are reparented then. Without this, a domain whose host was killed ran on, alone,
    holding its RAM, with nobody left to serve or stop it."""
    import threading
    import time
    host = os.getppid()

    def watch() -> None:
        while os.getppid() == host:
            time.sleep(every)
        try:        # our stderr is a pipe to the dead host: this may well fail
            print(f"hv: d{domid}: the host (pid {host}) went away; stopping", file=sys.stderr)
        except OSError:
            pass
        os._exit(1)

    threading.Thread(target=watch, name="hv-host-watch", daemon=True).start()


def start_trace(dom, args, sock: socket.socket, make=None) -> bool:
    """The domain's tracer, if the spec has items for it (False: error sent); `make`
    (dom, spec, path, spec_text) builds it for domains other than PV (hvcore/hvm)."""
    from hvcore.trace.spec import SpecError, for_domain, parse
    from hvcore.trace.tracer import Tracer, TraceSetupError
    try:
        spec = for_domain(parse(args.trace), dom.domid, dom.name)
        if spec is not None:
            dom.tracer = (make or Tracer)(dom, spec, args.trace_out, args.trace)
    except (SpecError, TraceSetupError) as err:
        send(sock, {"event": "error", "message": f"trace: {err}"})
        return False
    except OSError as err:
        send(sock, {"event": "error", "message": f"trace: {args.trace_out}: {err.strerror}"})
        return False
    return True


def _hypervisor_console(sock: socket.socket):
    """console_io output goes to the supervisor as it comes."""
    def write(data: bytes) -> None:
        send(sock, {"event": "console_io", "data": data.decode("latin-1")})
    return write


if __name__ == "__main__":
    sys.exit(main())
