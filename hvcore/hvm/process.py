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
    args, _unknown = parser.parse_known_args(argv)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    set_process_name(f"hv: d{args.domid} {args.name}")
    sock = socket.socket(fileno=args.sock)
    from hvcore.hvm.domain import DEFAULT_FIRMWARE, HvmBuildError, build_hvm_domain
    from hvcore.hvm.run import run_hvm_domain
    from hvcore.inbox import Inbox

    def console_write(data: bytes) -> None:
        send(sock, {"event": "console_io", "data": data.decode("latin-1")})

    try:
        dom = build_hvm_domain(args.domid, args.name, args.memory, args.disk, console_write,
                               firmware=args.firmware or DEFAULT_FIRMWARE,
                               disk_readonly=args.disk_readonly, on_crash=args.on_crash,
                               vcpus=args.vcpus, slave=args.slave_disk,
                               slave_readonly=args.slave_readonly)
        if args.kernel:                    # (spawn_domain passes an empty one for disks)
            from hvcore.hvm.direct_boot import boot_multiboot
            boot_multiboot(dom, args.kernel, args.cmdline, args.ramdisk, args.entry32)
    except HvmBuildError as err:
        send(sock, {"event": "error", "message": str(err)})
        return 2
    dom.inbox = Inbox(senders=INBOX_SENDERS, name=f"hv-d{dom.domid}-inbox")
    send(sock, {"event": "built", "hvm": True, "domid": dom.domid, "nr_pages": dom.nr_pages,
                "pid": __import__("os").getpid(), "vcpus": len(dom.vcpus)},
         [dom.ram.fd, dom.inbox.fd, dom.inbox.eventfd])
    reason = run_hvm_domain(dom)
    message = {"event": "shutdown", "reason": reason, "crash_report": dom.crash_report,
               "hypercalls": 0, "traps": sum(v.traps_taken for v in dom.vcpus)}
    if dom.exit_code is not None:
        message["exit_code"] = dom.exit_code
    send(sock, message)
    if dom.exit_code is not None:
        return dom.exit_code & 0xFF
    return EXIT_CODES.get(reason, 1)


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
