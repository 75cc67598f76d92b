"""The domain process's part of `hv save` and `hv restore`.

Saving is a handshake with the host, between two time slices: we tell the host we have
stopped (`save_park`); it takes the last console output and answers the xenstore ring,
so that nothing moves in our memory any more, and says go; we capture and hand the
host our sections (CPUS, MEMR) in a memfd (`saved`); the host adds its own (META,
XSTR) and writes the file. Then we run on (`hv save -c`) or stop as Xen's
SHUTDOWN_suspend says.
"""
from __future__ import annotations

import json
import os
import socket
from typing import Callable

from hvcore.domain import SHUTDOWN_SUSPEND, Domain
from hvcore.snapshot.format import pack_section
from hvcore.snapshot.pv import SnapshotError, capture, new_domain
from hvcore.snapshot.state import DomainSnapshot, read_file


def save(dom: Domain, keep_running: bool) -> None:
    """The host asked for a snapshot of this PV domain (inbox request SAVE)."""
    if serve_save(dom.host, lambda: capture(dom)) and not keep_running:
        dom.shutdown(SHUTDOWN_SUSPEND)


def save_hvm(dom, keep_running: bool) -> None:
    """The same for an HVM domain (hvcore/hvm/run.py); its host link is its Xen side's."""
    from hvcore.snapshot.hvm import capture_hvm
    if serve_save(dom.xen.dom.host, lambda: capture_hvm(dom)) and not keep_running:
        dom.shutdown(SHUTDOWN_SUSPEND)


def serve_save(host, take: Callable[[], DomainSnapshot]) -> bool:
    """The handshake: park, capture with `take`, hand the sections over. True once the
    host has the snapshot (the domain may stop then)."""
    if host is None or not host.ask({"event": "save_park"}).get("go"):
        return False                             # the host gave up on it
    try:
        snap = take()
        blob = b"".join(pack_section(tag, payload) for tag, payload in snap.domain_sections())
    except SnapshotError as err:
        host.tell({"event": "saved", "error": str(err)})
        return False
    fd = os.memfd_create("hv-snapshot", os.MFD_CLOEXEC)
    try:
        view = memoryview(blob)
        while view:
            view = view[os.write(fd, view):]
        message = json.dumps({"event": "saved", "size": len(blob)}).encode() + b"\n"
        socket.send_fds(host.sock, [message], [fd])
    finally:
        os.close(fd)
    return True


def restored_domain(path: str, domid: int, name: str,
                    console_write: Callable[[bytes], None]) -> Domain:
    """The domain in the snapshot file (SnapshotFormatError/SnapshotError: one line)."""
    return new_domain(read_file(path), domid, name, console_write)


def reconnect(dom: Domain) -> None:
    """Once the host link exists: tell the host which of our ports wait for other
    domains, and kick the console and xenstore ports, as a backend that reconnects
    does (an event the old host sent as we were saved may have been lost; a spurious
    one only makes the guest look at its rings)."""
    from hvcore.hypercalls.event_channel_op import ECS_UNBOUND, _channels, set_pending
    for port, ch in _channels(dom).items():
        if ch.state == ECS_UNBOUND and ch.remote_dom != dom.domid \
                and port not in (dom.console_evtchn, dom.store_evtchn):
            dom.host.tell({"event": "evtchn_unbound", "port": port, "remote": ch.remote_dom})
    for port in (dom.console_evtchn, dom.store_evtchn):
        set_pending(dom, port)
