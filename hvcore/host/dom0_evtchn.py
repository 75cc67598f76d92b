"""dom0's event channels: how backends in the host talk to guest frontends.

A frontend allocates an unbound port for dom0 (EVTCHNOP_alloc_unbound, remote_dom 0)
and publishes it in xenstore; the backend binds to it here, as Xen's backends do with
bind_interdomain. Each guest gets an inbox of ours (hvcore.inbox, one ring, its own
eventfd), introduced to its process as peer 0: the guest's sends land there and the
host loop calls the port's handler. Our sends go into the guest's own inbox, so each
side's event state is still written only by its own process.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from hvcore.inbox import PEER_BOUND, PEER_CLOSED, SET_PENDING, Inbox, Request

DOM0 = 0
_EINVAL, _ESRCH = 22, 3


class Dom0PortError(Exception):
    def __init__(self, errno: int, what: str) -> None:
        self.errno = errno
        super().__init__(what)


@dataclass
class Dom0Port:
    port: int
    guest: int
    guest_port: int
    on_event: Callable[[], None]
    connected: bool = True


class Dom0Ports:
    """dom0's ports. `host` is the Host: its `guests`, `unbound` and `bound` maps."""

    def __init__(self, host) -> None:
        self.host = host
        self.ports: dict[int, Dom0Port] = {}
        self.inboxes: dict[int, Inbox] = {}     # guest -> the inbox its sends land in
        self.next_port = 1

    # ---- life of a guest ----------------------------------------------------------
    def attach(self, dp) -> None:
        """Introduce dom0 to a new guest's process as its peer 0."""
        inbox = Inbox(senders=1, name=f"hv-dom0-from-d{dp.domid}")
        self.inboxes[dp.domid] = inbox
        try:
            dp.send({"event": "peer", "domid": DOM0, "slot": 0}, [inbox.fd, inbox.eventfd])
        except OSError:
            pass      # it died already: the reaper notices and calls forget()

    def forget(self, dead: int) -> None:
        """The guest is gone: its inbox closes; ports bound to it wait unbound."""
        inbox = self.inboxes.pop(dead, None)
        if inbox is not None:
            inbox.close()
        for port in self.ports.values():
            if port.guest == dead:
                port.connected = False

    # ---- what backends call ----------------------------------------------------------
    def bind(self, guest: int, guest_port: int, on_event: Callable[[], None]) -> int:
        """Bind a new dom0 port to the guest's port, which must be unbound and offered to
        dom0 (Xen's rule for bind_interdomain). Returns dom0's port."""
        g = self.host.guests.get(guest)
        if g is None:
            raise Dom0PortError(_ESRCH, f"d{guest} does not exist")
        # what the guest's process told us may still be on its way: read it first
        g.dp.pump()
        if self.host.unbound.get((guest, guest_port)) != DOM0:
            raise Dom0PortError(_EINVAL, f"d{guest} port {guest_port} is not offered to dom0")
        port = self.next_port
        self.next_port += 1
        del self.host.unbound[(guest, guest_port)]
        self.host.bound[(guest, guest_port)] = (DOM0, port)
        self.host.bound[(DOM0, port)] = (guest, guest_port)
        self.ports[port] = Dom0Port(port, guest, guest_port, on_event)
        g.dp.outbox.post(Request(PEER_BOUND, guest_port, (DOM0 << 32) | port))
        return port

    def notify(self, port: int) -> None:
        """Mark the guest's end pending (its process applies it)."""
        p = self.ports.get(port)
        g = self.host.guests.get(p.guest) if p is not None and p.connected else None
        if g is not None:
            g.dp.send_event(p.guest_port)

    def close(self, port: int) -> None:
        p = self.ports.pop(port, None)
        if p is None:
            return
        self.host.bound.pop((DOM0, port), None)
        if p.connected and self.host.bound.pop((p.guest, p.guest_port), None) is not None:
            self.host.unbound[(p.guest, p.guest_port)] = DOM0   # it waits for us again
            g = self.host.guests.get(p.guest)
            if g is not None:
                g.dp.outbox.post(Request(PEER_CLOSED, p.guest_port))

    # ---- the host loop ---------------------------------------------------------------
    def waits(self) -> list[int]:
        return [inbox.eventfd for inbox in self.inboxes.values()]

    def service(self) -> None:
        """Deliver what guests sent to dom0's ports."""
        for inbox in list(self.inboxes.values()):
            for req in inbox.drain():
                port = self.ports.get(req.port)
                if port is None:
                    continue
                if req.kind == SET_PENDING and port.connected:
                    port.on_event()
                elif req.kind == PEER_CLOSED:
                    port.connected = False
