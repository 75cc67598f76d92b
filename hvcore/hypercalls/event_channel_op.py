"""event_channel_op: the 2-level event channel ABI, within one domain for now.

Ports live in shared_info's evtchn_pending/evtchn_mask bitmaps. Interdomain channels
come with the domains-as-processes work; this module already serves VIRQs, IPIs,
unbound ports, send, unmask, close and status.
"""
import struct
from dataclasses import dataclass

from hvcore.hypercalls import hypercall
from hvcore.public import errno as E
from hvcore.public import event_channel as EV
from hvcore.public import xen as XEN

# Internal channel states (Xen's ECS_*); guests see EVTCHNSTAT_* through EVTCHNOP_status.
ECS_FREE, ECS_RESERVED, ECS_UNBOUND, ECS_INTERDOMAIN, ECS_PIRQ, ECS_VIRQ, ECS_IPI = range(7)
_PUBLIC_STATUS = {ECS_FREE: EV.EVTCHNSTAT_closed, ECS_RESERVED: EV.EVTCHNSTAT_closed,
                  ECS_UNBOUND: EV.EVTCHNSTAT_unbound, ECS_INTERDOMAIN: EV.EVTCHNSTAT_interdomain,
                  ECS_PIRQ: EV.EVTCHNSTAT_pirq, ECS_VIRQ: EV.EVTCHNSTAT_virq,
                  ECS_IPI: EV.EVTCHNSTAT_ipi}


@dataclass
class Channel:
    state: int
    vcpu: int = 0
    virq: int = -1
    remote_dom: int = 0
    remote_port: int = 0


def _channels(dom) -> dict[int, Channel]:
    chans = dom.__dict__.get("evtchns")
    if chans is None:
        chans = {0: Channel(ECS_RESERVED)}
        # the toolstack's console and xenstore ports are unbound until the backends come
        chans[dom.console_evtchn] = Channel(ECS_UNBOUND)
        chans[dom.store_evtchn] = Channel(ECS_UNBOUND)
        dom.__dict__["evtchns"] = chans
    return chans


def max_ports(dom) -> int:
    return 4096 if dom.is_64bit else 1024


def _bitmap_word(dom, which: int, port: int) -> tuple[int, int]:
    """(machine address of the word, bit) for port in evtchn_pending (0) or mask (1)."""
    w = dom.word_size
    base = dom.shared_info_paddr + 2048 + which * (64 * w if w == 8 else 32 * w)
    return base + (port // (8 * w)) * w, port % (8 * w)


def _test(dom, which: int, port: int) -> bool:
    addr, bit = _bitmap_word(dom, which, port)
    read = dom.mem.read_u64 if dom.word_size == 8 else dom.mem.read_u32
    return bool(read(addr) >> bit & 1)


def _set(dom, which: int, port: int, on: bool) -> None:
    addr, bit = _bitmap_word(dom, which, port)
    w = dom.word_size
    read, write = ((dom.mem.read_u64, dom.mem.write_u64) if w == 8
                   else (dom.mem.read_u32, dom.mem.write_u32))
    word = read(addr)
    write(addr, word | (1 << bit) if on else word & ~(1 << bit))


def port_pending(dom, port: int) -> bool:
    return 0 < port < max_ports(dom) and _test(dom, 0, port)


def set_pending(dom, port: int) -> None:
    """Xen's evtchn_set_pending for the 2-level ABI: the pending bit; if the port is not
    masked, the selector bit and upcall_pending (waking a blocked vCPU); and in any case
    the vCPUs polling this port (SCHEDOP_poll ignores masks)."""
    if _test(dom, 0, port):
        return
    _set(dom, 0, port, True)
    ch = _channels(dom).get(port)
    v = dom.vcpus[ch.vcpu if ch else 0]
    if dom.tracer is not None:
        dom.tracer.evtchn(1, v.id, port)          # EVTCHN_PENDING (hvcore/trace/format.py)
    if not _test(dom, 1, port):
        w = dom.word_size
        sel_bit = port // (8 * w)
        vi = v.state.vcpu_info_paddr
        read, write = ((dom.mem.read_u64, dom.mem.write_u64) if w == 8
                       else (dom.mem.read_u32, dom.mem.write_u32))
        sel = read(vi + w)
        if not sel >> sel_bit & 1:
            write(vi + w, sel | 1 << sel_bit)
            dom.mem.write(vi, b"\x01")            # evtchn_upcall_pending
        v.state.blocked = False
    for poller in dom.vcpus:
        if poller.state.blocked and port in poller.state.poll_ports:
            poller.state.blocked = False
            poller.state.poll_ports, poller.state.poll_deadline_ns = (), None


# Xen's virq_is_global: these VIRQs are per vCPU, the others are for the domain
_PER_VCPU_VIRQS = frozenset({XEN.VIRQ_TIMER, XEN.VIRQ_DEBUG, XEN.VIRQ_XENOPROF, XEN.VIRQ_XENPMU})


def virq_is_global(virq: int) -> bool:
    return virq not in _PER_VCPU_VIRQS


def send_virq(dom, virq: int, vcpu: int = 0) -> None:
    """Raise `virq` on `vcpu` (a global VIRQ goes wherever its channel is bound)."""
    for port, ch in _channels(dom).items():
        if ch.state == ECS_VIRQ and ch.virq == virq and (ch.vcpu == vcpu or virq_is_global(virq)):
            set_pending(dom, port)


def _alloc_port(dom, ch: Channel) -> int:
    chans = _channels(dom)
    for port in range(1, max_ports(dom)):
        if port not in chans:
            chans[port] = ch
            return port
    return -E.ENOSPC


def _bind_new(v, arg, out_offset: int, ch: Channel) -> int:
    """Allocate a port for `ch` and write it to the guest's struct at `out_offset`."""
    port = _alloc_port(v.domain, ch)
    if port < 0:
        return port
    v.write_virt(arg + out_offset, struct.pack("<I", port))
    return 0


def _bind_remote(v, arg, remote_dom: int, remote_port: int) -> int:
    """bind_interdomain to another domain: the host checks Xen's rule (the remote port
    is unbound and offered to us) and links our processes' inboxes."""
    dom = v.domain
    if dom.host is None:
        return -E.ESRCH
    rc = _bind_new(v, arg, 8, Channel(ECS_INTERDOMAIN, remote_dom=remote_dom,
                                         remote_port=remote_port))
    if rc:
        return rc
    local = struct.unpack("<I", v.read_virt(arg + 8, 4))[0]
    reply = dom.host.ask({"event": "bind", "remote_dom": remote_dom,
                          "remote_port": remote_port, "local_port": local})
    if reply.get("errno"):
        del _channels(dom)[local]
        return -reply["errno"]
    set_pending(dom, local)       # as Xen: a notification may have been lost meanwhile
    return 0


def peer_event(dom, kind: int, port: int, arg: int) -> None:
    """A request from a peer's process (applied by us: our event state is ours)."""
    from hvcore import inbox as ib
    ch = _channels(dom).get(port)
    if kind == ib.SET_PENDING and 0 < port < max_ports(dom):
        set_pending(dom, port)
    elif kind == ib.PEER_BOUND and ch is not None and ch.state == ECS_UNBOUND:
        ch.state, ch.remote_dom, ch.remote_port = ECS_INTERDOMAIN, arg >> 32, arg & 0xFFFFFFFF
    elif kind == ib.PEER_CLOSED and ch is not None and ch.state == ECS_INTERDOMAIN:
        ch.state, ch.remote_port = ECS_UNBOUND, 0


def _close(dom, port: int) -> int:
    """Xen's evtchn_close: free the port; a local peer goes back to unbound, a remote
    one is told (through its process) and the host's mirror is updated."""
    chans = _channels(dom)
    ch = chans.get(port)
    if ch is None or ch.state == ECS_RESERVED:
        return -E.EINVAL
    remote = ch.state in (ECS_INTERDOMAIN, ECS_UNBOUND) and ch.remote_dom != dom.domid
    peer = chans.get(ch.remote_port) if ch.state == ECS_INTERDOMAIN and not remote else None
    if peer is not None:
        peer.state, peer.remote_port = ECS_UNBOUND, 0   # the other end waits again
    if remote and dom.host is not None:
        if ch.state == ECS_INTERDOMAIN:
            from hvcore import inbox as ib
            dom.host.post(ch.remote_dom, ib.Request(ib.PEER_CLOSED, ch.remote_port))
        dom.host.tell({"event": "evtchn_closed", "port": port})
    del chans[port]
    return 0


def _own(dom, domid: int) -> int | None:
    """DOMID_SELF or our own id -> our id; other domains are not reachable from here."""
    return dom.domid if domid in (XEN.DOMID_SELF, dom.domid) else None


def _status_body(ch: "Channel | None") -> bytes:
    """status, vcpu and the union of struct evtchn_status, in Xen's public terms."""
    if ch is None:
        return struct.pack("<II8x", EV.EVTCHNSTAT_closed, 0)
    union = bytes(8)
    if ch.state == ECS_UNBOUND:
        union = struct.pack("<H6x", ch.remote_dom)
    elif ch.state == ECS_INTERDOMAIN:
        union = struct.pack("<H2xI", ch.remote_dom, ch.remote_port)
    elif ch.state == ECS_VIRQ:
        union = struct.pack("<I4x", ch.virq)
    return struct.pack("<II", _PUBLIC_STATUS[ch.state], ch.vcpu) + union


def _rw(v, arg, fmt):
    size = struct.calcsize(fmt)
    return struct.unpack(fmt, v.read_virt(arg, size))


@hypercall(XEN.HYPERVISOR_event_channel_op)
def event_channel_op(v, cmd, arg, *_):
    """long event_channel_op(int cmd, void *arg)"""
    cmd &= 0xFFFFFFFF
    dom = v.domain
    chans = _channels(dom)
    if cmd == EV.EVTCHNOP_bind_virq:          # { u32 virq; u32 vcpu; port out }
        virq, vcpu = _rw(v, arg, "<II")
        if virq >= XEN.NR_VIRQS or (virq_is_global(virq) and vcpu != 0):
            return -E.EINVAL                  # global VIRQs bind on vCPU0 (bind_vcpu moves them)
        if vcpu >= len(dom.vcpus):
            return -E.ENOENT
        if any(c.state == ECS_VIRQ and c.virq == virq
               and (c.vcpu == vcpu or virq_is_global(virq)) for c in chans.values()):
            return -E.EEXIST
        return _bind_new(v, arg, 8, Channel(ECS_VIRQ, vcpu=vcpu, virq=virq))
    if cmd == EV.EVTCHNOP_bind_ipi:           # { u32 vcpu; port out }
        (vcpu,) = _rw(v, arg, "<I")
        if vcpu >= len(dom.vcpus):
            return -E.ENOENT
        return _bind_new(v, arg, 4, Channel(ECS_IPI, vcpu=vcpu))
    if cmd == EV.EVTCHNOP_alloc_unbound:      # { u16 dom, remote_dom; port out }
        _dom, remote = _rw(v, arg, "<HH")
        if _own(dom, _dom) is None:
            return -E.EPERM                   # only for oneself (dom0 may do others)
        if _own(dom, remote) is None and dom.host is None:
            return -E.ESRCH                   # no other domain is reachable from here
        remote = _own(dom, remote) if _own(dom, remote) is not None else remote
        rc = _bind_new(v, arg, 4, Channel(ECS_UNBOUND, remote_dom=remote))
        if rc == 0 and remote != dom.domid:
            port = struct.unpack("<I", v.read_virt(arg + 4, 4))[0]
            dom.host.tell({"event": "evtchn_unbound", "port": port, "remote": remote})
        return rc
    if cmd == EV.EVTCHNOP_bind_interdomain:   # { u16 remote_dom; u32 remote_port; port out }
        remote_dom, remote_port = _rw(v, arg, "<H2xI")
        if _own(dom, remote_dom) is None:
            return _bind_remote(v, arg, remote_dom, remote_port)
        peer = chans.get(remote_port)
        if peer is None or peer.state != ECS_UNBOUND or peer.remote_dom != dom.domid:
            return -E.EINVAL
        rc = _bind_new(v, arg, 8, Channel(ECS_INTERDOMAIN, remote_dom=dom.domid,
                                             remote_port=remote_port))
        if rc:
            return rc
        local = struct.unpack("<I", v.read_virt(arg + 8, 4))[0]
        peer.state, peer.remote_port = ECS_INTERDOMAIN, local
        set_pending(dom, local)               # Xen marks the new local port pending
        return 0
    if cmd == EV.EVTCHNOP_send:               # { port }
        (port,) = _rw(v, arg, "<I")
        ch = chans.get(port)
        if ch is None or ch.state == ECS_RESERVED:
            return -E.EINVAL
        if port in (dom.console_evtchn, dom.store_evtchn):
            dom.kick_backend(port)
        elif ch.state == ECS_IPI:
            set_pending(dom, port)
        elif ch.state == ECS_INTERDOMAIN and ch.remote_dom == dom.domid:
            set_pending(dom, ch.remote_port)
        elif ch.state == ECS_INTERDOMAIN:
            from hvcore import inbox as ib
            dom.host.post(ch.remote_dom, ib.Request(ib.SET_PENDING, ch.remote_port))
        return 0
    if cmd == EV.EVTCHNOP_unmask:             # { port }
        (port,) = _rw(v, arg, "<I")
        if port not in chans:
            return -E.EINVAL
        _set(dom, 1, port, False)
        if _test(dom, 0, port):
            _set(dom, 0, port, False)
            set_pending(dom, port)
        return 0
    if cmd == EV.EVTCHNOP_close:              # { port }
        (port,) = _rw(v, arg, "<I")
        return _close(dom, port)
    if cmd == EV.EVTCHNOP_reset:              # { u16 dom }
        (target,) = _rw(v, arg, "<H")
        if _own(dom, target) is None:
            return -E.EPERM                   # only dom0 may reset another domain
        for port in sorted(chans):
            if chans[port].state != ECS_RESERVED:
                _close(dom, port)
        for port in range(max_ports(dom)):    # and nothing stays pending or masked
            for which in (0, 1):
                if _test(dom, which, port):
                    _set(dom, which, port, False)
        return 0
    if cmd == EV.EVTCHNOP_status:             # { u16 dom; u32 port; u32 status; u32 vcpu; union }
        _dom, port = _rw(v, arg, "<H2xI")
        if _own(dom, _dom) is None:
            return dom.errno_naming(_dom)
        if port >= max_ports(dom):
            return -E.EINVAL
        ch = chans.get(port)
        v.write_virt(arg + 8, _status_body(ch))
        return 0
    if cmd == EV.EVTCHNOP_bind_vcpu:          # { port; vcpu }
        port, vcpu = _rw(v, arg, "<II")
        if vcpu >= len(dom.vcpus):
            return -E.ENOENT
        ch = chans.get(port)
        rebindable = ch is not None and (ch.state in (ECS_UNBOUND, ECS_INTERDOMAIN) or
                                         (ch.state == ECS_VIRQ and virq_is_global(ch.virq)))
        if not rebindable:
            return -E.EINVAL                  # IPIs and per-vCPU VIRQs stay where they are
        ch.vcpu = vcpu
        return 0
    return -E.ENOSYS
