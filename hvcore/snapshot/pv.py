"""Capture and restore of a PV domain, in the process that runs it.

`capture(dom)` takes the domain between two time slices (every vCPU out of its engine)
and `restore_into(dom, snap)` puts a snapshot into a domain with the same memory layout
and vCPU count, which then runs on from where the snapshot was taken; neither touches a
file or another process, so deterministic replay can keep snapshots in memory.
`new_domain` builds such a domain for a snapshot (what `hv restore`'s process does).

The restore is transparent to the guest (see docs/snapshot-format.md): its memory,
page types, event channels, grant frames and vCPUs come back as they were, including
the frame numbers of the console and xenstore rings, so a PV guest needs no
SHUTDOWN_suspend cycle. What it can notice: time went on while it was saved (its
system time continues from the saved value, the wall clock is today's, the TSC jumps,
as after a migration), and its domain id changed (xenstore's domid key says so).
"""
from __future__ import annotations

import dataclasses
import time
from typing import Callable

from hvcore.domain import Domain
from hvcore.memory import FrameAllocator, MemoryRegion, PhysicalMemory
from hvcore.snapshot.cpu import capture_cpu, restore_cpu
from hvcore.snapshot.format import MemoryImage
from hvcore.snapshot.state import DomainSnapshot
from hvcore.vcpu import VCPU, Callback, GuestCpuState, GuestEntry, TrapInfo


class SnapshotError(Exception):
    """This domain cannot be saved (or this snapshot restored) now: one line."""


# Domain fields that are plain values, kept as they are.
_FIELDS = ("is_64bit", "nr_pages", "max_pages", "cmdline", "shared_info_paddr",
           "start_info_paddr", "console_pfn", "store_pfn", "console_evtchn", "store_evtchn",
           "vm_assist", "console_out_total", "m2p_paddr", "compat_m2p_paddr", "gdt_l1_paddr",
           "zero_page", "xen_gdt_page", "invalid_m2p_page", "iret_frames",
           "console_io_allowed", "symbols")
_VCPU_FIELDS = ("hv_l4", "gdt_l1_paddr", "zero_page", "traps_taken", "hypercalls_made")


# ---- capture ---------------------------------------------------------------------------
def capture(dom: Domain) -> DomainSnapshot:
    """The domain as it is now. Call it between time slices (from the run loop)."""
    _check_saveable(dom)
    return capture_state(dom)


def capture_state(dom: Domain) -> DomainSnapshot:
    """`capture` without its checks: for checkpoints that stay in this process
    (reverse debugging, hvcore/replay/checkpoints.py), where channels to other domains
    and mapped grants stay valid because the domain is never anywhere else."""
    domain = {name: getattr(dom, name) for name in _FIELDS}
    domain.update(
        domid=dom.domid,
        hv_l4_entries=sorted(dom.hv_l4_entries.items()),
        released=sorted(dom.released),
        frames_next=dom.frames.next,
        compat_m2p_l1s=getattr(dom, "compat_m2p_l1s", None),
        evtchns=[[port, *dataclasses.astuple(ch)] for port, ch in sorted(_channels(dom).items())],
        page_types=[[mfn, p.type, p.count, p.pinned]
                    for mfn, p in sorted(dom.page_types.pages.items()) if p.count or p.pinned],
        system_time_ns=dom.time.system_time_ns())
    vcpus = [_capture_vcpu(v) for v in dom.vcpus]
    memory = [MemoryImage.of(r.paddr, r.view) for r in dom.mem.regions]
    return DomainSnapshot("pv", domain, vcpus, memory)


def _check_saveable(dom: Domain) -> None:
    from hvcore.hypercalls.event_channel_op import ECS_INTERDOMAIN
    if not all(isinstance(r, MemoryRegion) for r in dom.mem.regions) or dom.maptrack.entries:
        raise SnapshotError(f"d{dom.domid} maps pages other domains granted it:"
                            " unmap them before saving")
    for port, ch in _channels(dom).items():
        if ch.state == ECS_INTERDOMAIN and ch.remote_dom != dom.domid:
            raise SnapshotError(f"d{dom.domid} port {port} is bound to d{ch.remote_dom}:"
                                " interdomain channels are not saved")


def _capture_vcpu(v: VCPU) -> dict:
    out = {name: getattr(v, name) for name in _VCPU_FIELDS}
    out["state"] = dataclasses.asdict(v.state)
    out["state"]["trap_table"] = [dataclasses.astuple(t) for t in v.state.trap_table.values()]
    out["entry"] = dataclasses.asdict(v.entry) if v.entry is not None else None
    out["cpu"] = capture_cpu(v.engine)
    return out


def _channels(dom: Domain) -> dict:
    from hvcore.hypercalls.event_channel_op import _channels as channels
    return channels(dom)


# ---- restore ---------------------------------------------------------------------------
def new_domain(snap: DomainSnapshot, domid: int, name: str,
               console_write: Callable[[bytes], None]) -> Domain:
    """A domain for `snap`: its memory regions and vCPUs, with the snapshot in them."""
    from hvcore.arch.x86.pv import layout as L
    from hvcore.grant_table import GrantFrames
    from loaders.pv_builder import _make_vcpu
    if snap.kind != "pv":
        raise SnapshotError(f"a {snap.kind} snapshot is not a PV domain")
    d = snap.domain
    mem = PhysicalMemory()
    ram = mem.add(MemoryRegion(f"hv-d{domid}-ram", 0, snap.region(0).size))
    hv = mem.add(MemoryRegion(f"hv-d{domid}-xen", L.HYPERVISOR_PHYS_BASE,
                              snap.region(L.HYPERVISOR_PHYS_BASE).size))
    dom = Domain(domid=domid, name=name, is_64bit=d["is_64bit"], mem=mem, ram=ram,
                 hv_region=hv, frames=FrameAllocator(mem, hv), nr_pages=d["nr_pages"],
                 max_pages=d["max_pages"], console_write=console_write, cmdline=d["cmdline"])
    dom.grants = GrantFrames(domid, dom.nr_pages)
    mem.add(dom.grants.region)
    _restore_fields(dom, d)              # the vCPUs' GDT mappings need Xen's frames
    dom.vcpus = [_make_vcpu(dom, i) for i in range(len(snap.vcpus))]
    restore_into(dom, snap)
    return dom


def restore_into(dom: Domain, snap: DomainSnapshot) -> None:
    """Make `dom` (same regions, same vCPU count) what the snapshot says. Its domid
    stays its own: channels the snapshot's domain had with itself follow it."""
    restore_state(dom, snap)
    _restore_time(dom, snap.domain["system_time_ns"])


def restore_state(dom: Domain, snap: DomainSnapshot) -> None:
    """`restore_into` but for time, which a caller with a clock of its own (the
    deterministic one of hvcore/replay/clock.py) puts back itself."""
    if snap.kind != "pv" or len(snap.vcpus) != len(dom.vcpus):
        raise SnapshotError(f"a {snap.kind} snapshot of {len(snap.vcpus)} vCPUs does not"
                            f" fit this PV domain of {len(dom.vcpus)}")
    for region in dom.mem.regions:
        snap.region(region.paddr).write_into(region.view)
    _restore_fields(dom, snap.domain)
    _restore_channels(dom, snap.domain)
    _restore_page_types(dom, snap.domain["page_types"])
    for v, state in zip(dom.vcpus, snap.vcpus):
        _restore_vcpu(v, state)


def _restore_fields(dom: Domain, d: dict) -> None:
    for name in _FIELDS:
        setattr(dom, name, d[name])
    dom.hv_l4_entries = {slot: entry for slot, entry in d["hv_l4_entries"]}
    dom.released = set(d["released"])
    dom.frames.next = d["frames_next"]
    if d["compat_m2p_l1s"] is not None:
        dom.compat_m2p_l1s = list(d["compat_m2p_l1s"])


def _restore_channels(dom: Domain, d: dict) -> None:
    from hvcore.hypercalls.event_channel_op import Channel
    chans = {}
    for port, state, vcpu, virq, remote_dom, remote_port in d["evtchns"]:
        if remote_dom == d["domid"]:
            remote_dom = dom.domid            # a channel with itself stays with itself
        chans[port] = Channel(state, vcpu, virq, remote_dom, remote_port)
    dom.__dict__["evtchns"] = chans


def _restore_page_types(dom: Domain, rows: list) -> None:
    from hvcore.arch.x86.pv.page_types import PageInfo, PageTypes
    if dom.page_types is None:
        dom.page_types = PageTypes(dom)
    dom.page_types.pages = {mfn: PageInfo(kind, count, pinned) for mfn, kind, count, pinned in rows}


def _restore_vcpu(v: VCPU, s: dict) -> None:
    for name in _VCPU_FIELDS:
        setattr(v, name, s[name])
    v.state = _guest_state(s["state"])
    e = s["entry"]
    v.entry = None if e is None else GuestEntry(**{**e, "data_selectors": tuple(e["data_selectors"])})
    v._tlb.clear()
    restore_cpu(v.engine, s["cpu"])


def _guest_state(s: dict) -> GuestCpuState:
    callbacks = {k: Callback(**v) for k, v in s.items() if k.endswith("_callback")}
    return GuestCpuState(**{**s, **callbacks,
                            "trap_table": {t[0]: TrapInfo(*t) for t in s["trap_table"]},
                            "poll_ports": tuple(s["poll_ports"]),
                            "debugreg": list(s["debugreg"]), "gdt_frames": list(s["gdt_frames"])})


def _restore_time(dom: Domain, system_time_ns: int) -> None:
    """System time goes on from the saved value (timers armed in it keep their meaning);
    the wall clock is today's; the time records are republished for today's TSC."""
    from hvcore.public import xen as XEN
    from hvcore.time import DomainTime, publish_vcpu_time
    now_wall = time.time_ns()
    dom.time = DomainTime(boot_ns=time.monotonic_ns() - system_time_ns,
                          wall_at_boot_ns=now_wall - system_time_ns)
    cls = XEN.shared_info_64 if dom.is_64bit else XEN.shared_info_32
    si = dom.mem.struct_at(cls, dom.shared_info_paddr)
    si.wc_version = (si.wc_version + 1) | 1           # odd while it changes, as Xen does
    si.wc_sec, si.wc_nsec = dom.time.wallclock_at_boot()
    si.wc_version += 1
    del si
    for v in dom.vcpus:
        if v.state.vcpu_info_paddr:
            publish_vcpu_time(v)
