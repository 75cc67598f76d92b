"""Capture and restore of an HVM domain, in the process that runs it.

As for PV (pv.py): `capture_hvm(dom)` between two time slices, `restore_hvm_into(dom,
snap)` into a domain built the same way (same options: memory, vCPUs, firmware, disks,
direct-boot kernel), which then runs on from where the snapshot was taken.

What is kept: all of the domain's physical memory (RAM with the firmware's copy in it,
and for a guest with a Xen side its shared_info and grant frames); each vCPU's
architectural state (cpu.py, plus the MSRs the engine keeps natively for an HVM guest:
PAT, TSC_AUX, MTRRs, MISC_ENABLE) and whether it is halted, asleep in a Xen
SCHEDOP_block or waiting for STARTUP; every device's own `save()` (hvcore/hvm/devices/),
the IRQ lines' levels, console input not yet taken; and the Xen side (params, the
callback vector, shared_info and grant frames placed in the physical map, event
channels, Xen timers in system time).

Nothing is in flight between slices: exceptions and interrupts are delivered by the run
loop before the guest runs again, so the only pending ones are the devices' requests
(their IRR bits, the LAPIC's NMI flag) and the interrupt shadow, kept in `hflags`.
Device timers count in host time: they are saved as seconds from the moment of the
capture and count on from the restore, so the guest does not see the time it spent in
a file pass on its timers (its clock, the CMOS RTC and the TSC, do: as after a
migration).
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from hvcore.snapshot.cpu import capture_cpu, restore_cpu
from hvcore.snapshot.format import MemoryImage
from hvcore.snapshot.pv import (SnapshotError, _channels, _check_saveable, _guest_state,
                                _restore_channels, _restore_time)
from hvcore.snapshot.state import DomainSnapshot

if TYPE_CHECKING:
    from hvcore.arch.x86.hvm.vcpu import HvmVcpu
    from hvcore.hvm.domain import HvmDomain
    from hvcore.hvm.xen import XenInterface, XenVcpu

# MSRs an HVM guest reaches natively beyond cpu.py's (hvcore/arch/x86/hvm/msr.py NATIVE);
# only these: any other one would take the MSR intercept outside a run of the engine.
HVM_MSRS = (0x277, 0xC0000103, 0x1A0, 0x2FF, 0x250, 0x258, 0x259,
            *range(0x200, 0x210), *range(0x268, 0x270))
_VCPU_FLAGS = ("halted", "waiting_for_sipi", "xen_blocked", "hypercall_page", "traps_taken",
               "interrupts_taken", "hypercalls_made")


# ---- capture ---------------------------------------------------------------------------
def capture_hvm(dom: "HvmDomain") -> DomainSnapshot:
    """The HVM domain as it is now. Call it between time slices (from the run loop)."""
    if dom.xen is not None:
        _check_saveable(dom.xen.dom)
    domain = {"options": list(dom.build_options),
              "devices": [[dev.name, dev.save()] for dev in dom.io.devices],
              "ioapic": dom.ioapic.save(),
              "irq_levels": list(dom.irqs.levels),
              "pending_input": bytes(dom.pending_input).hex(),
              "console_recent": bytes(dom.console.recent).hex(),
              "xen": _capture_xen(dom.xen) if dom.xen is not None else None}
    vcpus = [_capture_vcpu(v) for v in dom.vcpus]
    memory = [MemoryImage.of(r.paddr, r.view) for r in dom.mem.regions]
    return DomainSnapshot("hvm", domain, vcpus, memory)


def _capture_vcpu(v: "HvmVcpu") -> dict:
    cpu = capture_cpu(v.engine)
    cpu["msrs"].update({f"{msr:#x}": v.engine.uc.msr_read(msr) for msr in HVM_MSRS})
    out = {name: getattr(v, name) for name in _VCPU_FLAGS}
    out["cpu"] = cpu
    if v.xen is not None:
        out["xen"] = _capture_view(v.xen.views[v.id])
    return out


def _capture_view(view: "XenVcpu") -> dict:
    state = dataclasses.asdict(view.state)
    state["trap_table"] = [dataclasses.astuple(t) for t in view.state.trap_table.values()]
    return {"state": state, "upcall_vector": view.upcall_vector,
            "hypercalls_made": view.hypercalls_made}


def _capture_xen(xen: "XenInterface") -> dict:
    d = xen.dom
    return {"domid": d.domid, "rings": xen.rings, "is_64bit": d.is_64bit,
            "shared_info_paddr": d.shared_info_paddr, "frames_next": d.frames.next,
            "params": sorted(xen.params.items()),
            "physmap": [[space, idx, gpfn] for (space, idx), gpfn in sorted(xen.physmap.items())],
            "grant_frames": d.grants.nr_frames, "grant_version": d.grants.version,
            "evtchns": [[port, *dataclasses.astuple(ch)] for port, ch in sorted(_channels(d).items())],
            "system_time_ns": d.time.system_time_ns()}


# ---- restore ---------------------------------------------------------------------------
def restore_hvm_into(dom: "HvmDomain", snap: DomainSnapshot) -> None:
    """Make `dom` (built with the snapshot's options) what the snapshot says.
    SnapshotError (one line) if it does not fit."""
    restore_hvm_state(dom, snap)
    if snap.domain["xen"] is not None:
        _restore_time(dom.xen.dom, snap.domain["xen"]["system_time_ns"])


def restore_hvm_state(dom: "HvmDomain", snap: DomainSnapshot) -> None:
    """`restore_hvm_into` but for the Xen side's time, which a caller with a clock of
    its own (the deterministic one, hvcore/replay/hvm.py) puts back itself, before:
    the devices load their timers relative to it."""
    _check_fits(dom, snap)
    for region in dom.mem.regions:
        snap.region(region.paddr).write_into(region.view)
    d = snap.domain
    dom.irqs.levels = list(d["irq_levels"])
    for device, (_name, state) in zip(dom.io.devices, d["devices"]):
        try:
            device.load(state)
        except ValueError as err:
            raise SnapshotError(str(err)) from None
    dom.ioapic.load(d["ioapic"])
    if dom.physmap is not None:
        dom.a20_changed()                   # the 8042's and port 92h's A20 lines, as loaded
    dom.pending_input = bytearray.fromhex(d["pending_input"])
    dom.console.recent = bytearray.fromhex(d["console_recent"])
    for v, state in zip(dom.vcpus, snap.vcpus):
        _restore_vcpu(v, state)
    if d["xen"] is not None:
        _restore_xen(dom.xen, d["xen"], snap.vcpus)


def _check_fits(dom: "HvmDomain", snap: DomainSnapshot) -> None:
    d = snap.domain
    names = [dev.name for dev in dom.io.devices]
    if snap.kind != "hvm" or len(snap.vcpus) != len(dom.vcpus):
        raise SnapshotError(f"a {snap.kind} snapshot of {len(snap.vcpus)} vCPUs does not"
                            f" fit this HVM domain of {len(dom.vcpus)}")
    if [name for name, _state in d["devices"]] != names:
        raise SnapshotError("the snapshot's devices are not this HVM domain's"
                            f" ({', '.join(n for n, _s in d['devices'])})")
    if (d["xen"] is None) != (dom.xen is None) or \
            (dom.xen is not None and d["xen"]["rings"] != dom.xen.rings):
        raise SnapshotError("the snapshot's Xen side does not match this HVM domain's")
    sizes = {r.paddr: r.size for r in dom.mem.regions}
    if {m.paddr: m.size for m in snap.memory} != sizes:
        raise SnapshotError("the snapshot's memory layout is not this HVM domain's")


def _restore_vcpu(v: "HvmVcpu", s: dict) -> None:
    restore_cpu(v.engine, s["cpu"])
    for name in _VCPU_FLAGS:
        setattr(v, name, s[name])
    v._ins_decoded.clear()          # decoded from the code that was there before


def _restore_xen(xen: "XenInterface", x: dict, vcpus: list[dict]) -> None:
    d = xen.dom
    xen.params = {index: value for index, value in x["params"]}
    for space, idx, gpfn in x["physmap"]:
        if xen.add_to_physmap(space, idx, gpfn) != 0:
            raise SnapshotError(f"cannot place Xen's page ({space}, {idx}) at gpfn {gpfn:#x}")
    d.is_64bit, d.shared_info_paddr, d.frames.next = (x["is_64bit"], x["shared_info_paddr"],
                                                      x["frames_next"])
    d.grants.nr_frames, d.grants.version = x["grant_frames"], x["grant_version"]
    _restore_channels(d, x)
    for view, state in zip(xen.views, vcpus):
        saved = state["xen"]
        view.state = _guest_state(saved["state"])
        view.upcall_vector, view.hypercalls_made = saved["upcall_vector"], saved["hypercalls_made"]
