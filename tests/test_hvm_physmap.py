"""The guest-physical map of an HVM domain's engines (hvcore/hvm/physmap.py): the A20
gate from the BIOS, port 92h and the 8042, in real and protected mode
(tests/hvm_src/a20_16.S), and pages put over RAM, seen by the engine and by the
hypervisor alike, with no copy of RAM made."""
from __future__ import annotations

import struct

from test_hvm_delivery import boot, boot_sector, firmware  # noqa: F401 - fixture

from hvcore import engine as eng
from hvcore.hvm.physmap import A20_BIT, GuestPhysMap, Page
from hvcore.memory import MemoryRegion

MIB = 1 << 20


def _engine_with(ram: MemoryRegion) -> tuple[GuestPhysMap, eng.Engine]:
    physmap = GuestPhysMap(ram)
    engine = eng.Engine()
    physmap.attach(engine)
    return physmap, engine


def test_a20_off_shows_each_even_mib_at_the_odd_one_and_shares_ram():
    ram = MemoryRegion("t-a20", 0, 6 * MIB)
    physmap, engine = _engine_with(ram)
    try:
        ram.map[0x600] = 0x11
        ram.map[MIB + 0x600] = 0x22
        ram.map[2 * MIB + 0x600] = 0x55
        assert engine.uc.mem_read(MIB + 0x600, 1) == b"\x22"
        physmap.set_a20(False)
        assert engine.uc.mem_read(MIB + 0x600, 1) == b"\x11"
        assert engine.uc.mem_read(3 * MIB + 0x600, 1) == b"\x55"
        engine.uc.mem_write(5 * MIB + 0x600, b"\x77")     # lands in the memfd, at 4 MiB
        assert ram.map[4 * MIB + 0x600] == 0x77
        physmap.set_a20(True)
        assert engine.uc.mem_read(MIB + 0x600, 1) == b"\x22"
        assert len(list(engine.uc.mem_regions())) == 1     # one piece again
    finally:
        engine.close()
        ram.close()


def test_a_page_over_ram_hides_it_until_taken_away():
    ram = MemoryRegion("t-page", 0, 4 * MIB)
    over = MemoryRegion("t-over", 0xE0000000, 4096)
    physmap, engine = _engine_with(ram)
    try:
        gpfn = 0x23                                         # below 1 MiB
        ram.map[gpfn << 12] = 0x11
        physmap.map_page(gpfn, Page(over.host_addr, over.paddr))
        engine.uc.mem_write(gpfn << 12, b"\x99")
        assert over.map[0] == 0x99 and ram.map[gpfn << 12] == 0x11
        assert physmap.resolve((gpfn << 12) + 5) == over.paddr + 5
        assert engine.uc.mem_read((gpfn << 12) - 1, 2) == b"\0\x99"   # neighbours intact
        physmap.set_a20(False)                              # its alias at 1 MiB + gpfn
        assert engine.uc.mem_read((gpfn << 12) | A20_BIT, 1) == b"\x99"
        physmap.set_a20(True)
        physmap.unmap_page(gpfn)
        assert engine.uc.mem_read(gpfn << 12, 1) == b"\x11"
        assert physmap.resolve(gpfn << 12) == gpfn << 12
        assert len(list(engine.uc.mem_regions())) == 1
    finally:
        engine.close()
        ram.close()
        over.close()


def test_guest_a20_through_bios_port92_and_8042(firmware, tmp_path):  # noqa: F811
    dom, reason, out = boot(firmware, boot_sector(tmp_path, "a20_16"))
    try:
        assert reason == "poweroff" and dom.exit_code == 0x55, (reason, out, dom.crash_report)
        got = dom.mem.read(0x700, 0x13)
        assert list(got[:10]) == [1, 0, 0, 0x11, 0x33, 0x22, 1, 0x33, 0x22, 3], got.hex()
        high, low = struct.unpack_from("<HH", got, 0xA)
        assert high == low                                 # FFFF:0010 is physical 0
        assert list(got[0x10:0x13]) == [0x44, 0x33, 0], got.hex()
        assert dom.physmap.a20
    finally:
        dom.destroy()


def test_shared_info_and_a_grant_frame_added_over_ram(firmware, tmp_path):  # noqa: F811
    from hvcore.hvm.domain import build_hvm_domain
    from hvcore.hvm.xen import attach_xen
    from hvcore.public import hvm as H
    dom = build_hvm_domain(1, "t", 16, None, lambda data: None, firmware=firmware)
    try:
        xen = attach_xen(dom, rings=True)
        engine, gpfn, frame_gpfn = dom.vcpus[0].engine, 0x400, 0x401
        dom.mem.write(gpfn << 12, b"RAM!")
        assert xen.add_to_physmap(H.XENMAPSPACE_shared_info, 0, gpfn) == 0
        assert xen.add_to_physmap(H.XENMAPSPACE_grant_table, 0, frame_gpfn) == 0
        shared = xen.dom.shared_info_paddr
        dom.mem.write(shared + 3072, b"\x2a")                  # wc_version, as Xen writes it
        assert engine.uc.mem_read((gpfn << 12) + 3072, 1) == b"\x2a"
        engine.uc.mem_write(frame_gpfn << 12, b"\x01\x00\x07\x00")   # a grant entry
        assert dom.mem.read(xen.dom.grants.region.paddr, 4) == b"\x01\x00\x07\x00"
        assert dom.mem.read(gpfn << 12, 4) == b"RAM!"           # the frame beneath, kept
        assert xen.add_to_physmap(H.XENMAPSPACE_shared_info, 0, 0x402) == 0   # moved
        assert engine.uc.mem_read(gpfn << 12, 4) == b"RAM!"    # RAM shows again
        assert engine.uc.mem_read((0x402 << 12) + 3072, 1) == b"\x2a"
        assert xen.add_to_physmap(H.XENMAPSPACE_shared_info, 0, frame_gpfn) == -22
        assert xen.add_to_physmap(H.XENMAPSPACE_shared_info, 0, 0xA0) == -22   # a ring
    finally:
        dom.destroy()


def test_callback_irq_gsi_form_drives_the_line_while_an_upcall_is_pending(firmware):  # noqa: F811
    from hvcore.hvm.domain import build_hvm_domain
    from hvcore.hvm.xen import attach_xen
    from hvcore.public import hvm as H
    dom = build_hvm_domain(1, "t", 16, None, lambda data: None, firmware=firmware)
    try:
        xen = attach_xen(dom, rings=True)
        view = xen.views[0]
        xen.params[H.HVM_PARAM_CALLBACK_IRQ] = 5                 # type 0 (GSI), GSI 5
        xen.sync_callback_gsi()
        assert not dom.ioapic.inputs[5]                         # nothing pending yet
        dom.mem.write(view.state.vcpu_info_paddr, b"\x01")      # evtchn_upcall_pending
        assert xen.callback_vector(dom.vcpus[0]) is None        # not the vector form...
        assert dom.ioapic.inputs[5] and dom.interrupts.master.lines & (1 << 5)   # ...the line
        dom.mem.write(view.state.vcpu_info_paddr, b"\x00")      # the guest took it
        xen.between_slices()
        assert not dom.ioapic.inputs[5] and not dom.interrupts.master.lines & (1 << 5)
        dom.mem.write(view.state.vcpu_info_paddr, b"\x01")
        xen.params[H.HVM_PARAM_CALLBACK_IRQ] = 20               # GSI 20: the IOAPIC only
        xen.sync_callback_gsi()
        assert dom.ioapic.inputs[20] and not dom.ioapic.inputs[5]
        xen.params[H.HVM_PARAM_CALLBACK_IRQ] = (H.HVM_PARAM_CALLBACK_TYPE_VECTOR << 56) | 0xF3
        assert xen.callback_vector(dom.vcpus[0]) == 0xF3 and not dom.ioapic.inputs[20]
    finally:
        dom.destroy()
