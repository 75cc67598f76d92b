"""The process of an HVM domain (started by spawn_domain with --hvm): build the PC,
hand its RAM and inbox to the host, run it, report how it ended.

Messages to the host, over the Unix socket: "built" (with "hvm": true and the RAM and
inbox memfds attached), "console_io" for what the guest's UART and port E9 print,
"shutdown" with the reason and, after a write to the test-exit port, "exit_code".
"""
from __future__ import annotations

import argparse
import socket

from hvcore.host.domain_main import EXIT_CODES, send, set_process_name

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
    args, _unknown = parser.parse_known_args(argv)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    set_process_name(f"hv: d{args.domid} {args.name}")
    sock = socket.socket(fileno=args.sock)
    from hvcore.hvm.domain import DEFAULT_FIRMWARE, HvmBuildError, build_hvm_domain
    from hvcore.hvm.run import run_hvm_domain
    from hvcore.hvm.xen import attach_xen
    from hvcore.hypercalls import load_families
    from hvcore.inbox import Inbox

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
        if args.kernel:                    # (spawn_domain passes an empty one for disks)
            from hvcore.hvm.direct_boot import boot_multiboot, boot_pvh
            if args.pvh:
                boot_pvh(dom, args.kernel, args.cmdline, args.ramdisk)
            else:
                boot_multiboot(dom, args.kernel, args.cmdline, args.ramdisk, args.entry32)
    except HvmBuildError as err:
        send(sock, {"event": "error", "message": str(err)})
        return 2
    dom.inbox = Inbox(senders=INBOX_SENDERS, name=f"hv-d{dom.domid}-inbox")
    for v in dom.vcpus:                    # a send from dom0 or a peer stops the guest at once
        v.engine.watch_doorbell(dom.inbox.doorbell_address)
    _hand_over(sock, dom, xen, args)
    reason = run_hvm_domain(dom)
    message = {"event": "shutdown", "reason": reason, "crash_report": dom.crash_report,
               "hypercalls": sum(v.hypercalls_made for v in xen.views),
               "traps": sum(v.traps_taken for v in dom.vcpus)}
    if dom.exit_code is not None:
        message["exit_code"] = dom.exit_code
    send(sock, message)
    if dom.exit_code is not None:
        return dom.exit_code & 0xFF
    return EXIT_CODES.get(reason, 1)


def _hand_over(sock: socket.socket, dom, xen, args: argparse.Namespace) -> None:
    """The "built" message: RAM and inbox; with rings (direct boot) also what a PV
    domain hands over, so dom0 serves its xenstore, console and back ends alike."""
    import os
    from hvcore.host.peers import HostLink
    message = {"event": "built", "hvm": True, "domid": dom.domid, "nr_pages": dom.nr_pages,
               "pid": os.getpid(), "vcpus": len(dom.vcpus)}
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
