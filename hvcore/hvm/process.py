"""The process of an HVM domain (started by spawn_domain with --hvm): build the PC,
hand its RAM and inbox to the host, run it, report how it ended.

Messages to the host, over the Unix socket: "built" (with "hvm": true and the RAM and
inbox memfds attached), "console_io" for what the guest's UART and port E9 print,
"shutdown" with the reason and, after a write to the test-exit port, "exit_code".
"""
from __future__ import annotations

import argparse
import socket

from hvcore.host.domain_main import EXIT_CODES, exit_with_host, send, set_process_name

INBOX_SENDERS = 16


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hvm", action="store_true", required=True)
    parser.add_argument("--sock", type=int, required=True)
    parser.add_argument("--notify", type=int, required=True)
    parser.add_argument("--domid", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--memory", type=int, default=64)
    parser.add_argument("--vcpus", type=int, default=1)
    parser.add_argument("--disk", default=None)
    parser.add_argument("--disk-readonly", action="store_true")
    parser.add_argument("--slave-disk", default=None)
    parser.add_argument("--slave-readonly", action="store_true")
    parser.add_argument("--on-crash", default="destroy")
    parser.add_argument("--firmware", default=None)
    parser.add_argument("--kernel", default=None, help="a Multiboot kernel, booted directly")
    parser.add_argument("--cmdline", default="")
    parser.add_argument("--ramdisk", default=None, help="the Multiboot kernel's module")
    parser.add_argument("--entry32", action="store_true",
                        help="the kernel is a plain ELF: start at its entry, no Multiboot")
    parser.add_argument("--pvh", action="store_true",
                        help="the kernel is a PVH ELF (XEN_ELFNOTE_PHYS32_ENTRY)")
    parser.add_argument("--restore", default=None,
                        help="run on from this snapshot (hv restore) instead of booting")
    parser.add_argument("--deterministic", action="store_true",
                        help="time and events from instruction counts (hvcore/replay/hvm.py)")
    parser.add_argument("--record", default=None, help="write the outside events to FILE")
    parser.add_argument("--replay", default=None, help="apply the outside events of FILE")
    parser.add_argument("--gdb", type=int, default=None, help="serve gdb on 127.0.0.1:PORT")
    parser.add_argument("--gdb-wait", action="store_true", help="stop before the first instruction")
    parser.add_argument("--trace", default=None, help="what to trace (hvcore/trace/spec.py)")
    parser.add_argument("--trace-out", default=None, help="the trace file (created by the host)")
    args, _unknown = parser.parse_known_args(argv)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    set_process_name(f"hv: d{args.domid} {args.name}")
    exit_with_host(args.domid)              # a killed `hv run` or host takes us along
    sock = socket.socket(fileno=args.sock)
    from hvcore.hvm.domain import DEFAULT_FIRMWARE, HvmBuildError, build_hvm_domain
    from hvcore.hvm.run import run_hvm_domain
    from hvcore.hvm.xen import attach_xen
    from hvcore.hypercalls import load_families
    from hvcore.inbox import Inbox
    from hvcore.snapshot import SnapshotError, SnapshotFormatError

    load_families()

    def console_write(data: bytes) -> None:
        send(sock, {"event": "console_io", "data": data.decode("latin-1")})

    try:
        dom = build_hvm_domain(args.domid, args.name, args.memory, args.disk, console_write,
                               firmware=args.firmware or DEFAULT_FIRMWARE,
                               disk_readonly=args.disk_readonly, on_crash=args.on_crash,
                               vcpus=args.vcpus, slave=args.slave_disk,
                               slave_readonly=args.slave_readonly)
        xen = attach_xen(dom, rings=bool(args.kernel))
        dom.build_options = build_options(args)
        if args.restore is not None:
            _restore(dom, args.restore)
        elif args.kernel:                  # (spawn_domain passes an empty one for disks)
            from hvcore.hvm.direct_boot import boot_multiboot, boot_pvh
            if args.pvh:
                boot_pvh(dom, args.kernel, args.cmdline, args.ramdisk)
            else:
                boot_multiboot(dom, args.kernel, args.cmdline, args.ramdisk, args.entry32)
    except (HvmBuildError, SnapshotError, SnapshotFormatError) as err:
        send(sock, {"event": "error", "message": str(err)})
        return 2
    dom.inbox = Inbox(senders=INBOX_SENDERS, name=f"hv-d{dom.domid}-inbox")
    run = run_hvm_domain
    if args.deterministic or args.record or args.replay:
        run = _start_replay(dom, args, sock)
        if run is None:
            return 2
    else:
        for v in dom.vcpus:                # a send from dom0 or a peer stops the guest at once
            v.engine.watch_doorbell(dom.inbox.doorbell_address)
    if args.gdb is not None and not _open_gdb(dom, args, sock):
        return 2
    if args.trace is not None and not _start_trace(dom, args, sock):
        return 2
    if dom.debugger is not None and xen.dom.replay is not None:
        from hvcore.replay.hvm import allow_going_back
        allow_going_back(dom)              # one vCPU: gdb may step backwards
    _hand_over(sock, dom, xen, args)
    if dom.debugger is not None:
        dom.debugger.start()
    if xen.dom.replay is not None:
        from hvcore.replay.hvm import watch_store_kicks
        watch_store_kicks(dom)
    if args.restore is not None and xen.rings:
        from hvcore.snapshot.process import reconnect
        reconnect(xen.dom)                 # its console and xenstore rings, as for PV
    try:
        reason = run(dom)
    finally:
        if dom.tracer is not None:         # what is buffered reaches the file, even on a bug
            dom.tracer.close(dom.shutdown_reason or "hypervisor error")
        if xen.dom.replay is not None:
            xen.dom.replay.close(dom.shutdown_reason or "hypervisor error")
    if dom.debugger is not None:
        dom.debugger.domain_ended(reason, dom.exit_code)
    message = {"event": "shutdown", "reason": reason, "crash_report": dom.crash_report,
               "hypercalls": sum(v.hypercalls_made for v in xen.views),
               "traps": sum(v.traps_taken for v in dom.vcpus)}
    if dom.exit_code is not None:
        message["exit_code"] = dom.exit_code
    send(sock, message)
    if dom.exit_code is not None:
        return dom.exit_code & 0xFF
    return EXIT_CODES.get(reason, 1)


def _start_replay(dom, args: argparse.Namespace, sock: socket.socket):
    """--deterministic/--record/--replay before the first instruction: the run loop to
    use, or None after telling the host why not (one line)."""
    from hvcore.replay.hvm import run_deterministic, start_hvm
    from hvcore.replay.record import RecordError
    try:
        start_hvm(dom, args)
    except RecordError as err:
        send(sock, {"event": "error", "message": str(err)})
        return None
    return run_deterministic


def _open_gdb(dom, args: argparse.Namespace, sock: socket.socket) -> bool:
    """The gdb server (hvcore/gdb/), before the first instruction; False after telling
    the host why not (one line)."""
    from hvcore.gdb.server import GdbServer
    try:
        dom.debugger = GdbServer(dom, args.gdb, args.gdb_wait)
    except OSError as err:
        send(sock, {"event": "error",
                    "message": f"gdb: cannot listen on 127.0.0.1:{args.gdb}: {err.strerror}"})
        return False
    return True


def _start_trace(dom, args: argparse.Namespace, sock: socket.socket) -> bool:
    """The domain's tracer, if the spec has items for it, after the replay's
    instruction counter (it must be the engine's first hook); False after telling the
    host why not (one line)."""
    from functools import partial

    from hvcore.host.domain_main import start_trace
    from hvcore.trace.hvm import start_tracer
    from loaders.elf import file_symbols
    if args.kernel:                        # a direct-booted kernel: symbols for insn/block
        dom.symbols = file_symbols(args.kernel)
    return start_trace(dom, args, sock,
                       make=partial(start_tracer, abi="pvh" if args.pvh else "hvm"))


def build_options(args: argparse.Namespace) -> list[str]:
    """The options that build this domain again: a snapshot keeps them, and `hv
    restore` starts the new process with them (memory and vCPUs come from META)."""
    options = ["--on-crash", args.on_crash]
    for flag, value in (("--firmware", args.firmware), ("--kernel", args.kernel),
                        ("--ramdisk", args.ramdisk), ("--disk", args.disk),
                        ("--slave-disk", args.slave_disk)):
        if value:
            options += [flag, str(value)]
    if args.kernel:
        options += ["--cmdline", args.cmdline]
    for flag, on in (("--disk-readonly", args.disk_readonly),
                     ("--slave-readonly", args.slave_readonly),
                     ("--entry32", args.entry32), ("--pvh", args.pvh)):
        if on:
            options.append(flag)
    return options


def _restore(dom, path: str) -> None:
    """The snapshot in `path` into the domain just built (SnapshotError: one line)."""
    from hvcore.snapshot import SnapshotError, read_file
    from hvcore.snapshot.hvm import restore_hvm_into
    snap = read_file(path)
    if snap.kind != "hvm":
        raise SnapshotError(f"{path}: a {snap.kind} snapshot is not an HVM domain")
    restore_hvm_into(dom, snap)


def _hand_over(sock: socket.socket, dom, xen, args: argparse.Namespace) -> None:
    """The "built" message: RAM and inbox; with rings (direct boot) also what a PV
    domain hands over, so dom0 serves its xenstore, console and back ends alike."""
    import os
    from hvcore.host.peers import HostLink
    message = {"event": "built", "hvm": True, "domid": dom.domid, "nr_pages": dom.nr_pages,
               "pid": os.getpid(), "vcpus": len(dom.vcpus),
               "deterministic": xen.dom.replay is not None,
               "gdb_port": dom.debugger.port if dom.debugger is not None else None}
    fds = [dom.ram.fd, dom.inbox.fd, dom.inbox.eventfd]
    xen.dom.inbox, xen.dom.host = dom.inbox, HostLink(sock)
    if xen.rings:
        x = xen.dom
        x.backend_notify = lambda port: os.eventfd_write(args.notify, 1)
        message.update(console_pfn=x.console_pfn, store_pfn=x.store_pfn,
                       console_evtchn=x.console_evtchn, store_evtchn=x.store_evtchn,
                       pv_console=args.pvh)
        fds.append(x.grants.region.fd)
    send(sock, message, fds)


class NoBackends:
    """`hv run`'s private host for an HVM domain: no xenstore or PV back ends yet (the
    console comes as console_io messages; input goes through the domain's inbox)."""

    def waits(self) -> list[int]:
        return []

    def serve(self) -> bool:
        return False

    def dmesg(self) -> list[str]:
        return []

    def close(self) -> None:
        return None
