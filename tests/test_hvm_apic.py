"""The local APIC, the IOAPIC, CPUID and the firmware's MP and ACPI tables: register
semantics from the SDM / 82093AA data sheet driven directly, and a boot sector
(tests/hvm_src/apic32.S) that reads the LAPIC ID a million times, takes LAPIC timer,
IOAPIC and self-IPI interrupts through its IDT in a real domain."""
from __future__ import annotations

import struct

from test_hvm_delivery import boot, boot_sector, firmware  # noqa: F401 - fixture

from hvcore.hvm.apic_bus import ApicBus
from hvcore.hvm.devices import lapic as L
from hvcore.hvm.devices.ioapic import IoApic
from hvcore.hvm.devices.lapic import LocalApic
from hvcore.hvm.platform import IrqLines
from test_hvm_devices import programmed_pic


def apics(n: int = 2, now=None):
    bus = ApicBus(pic=programmed_pic())
    clock = (lambda: now[0]) if now is not None else None
    for i in range(n):
        a = LocalApic(apic_id=i, bus=bus, **({"clock": clock} if clock else {}))
        bus.add(a)
        a.mmio_write(L.SVR, 4, 0x1FF)
    return bus


def test_priority_tpr_and_eoi_order():
    a = apics(1).lapics[0]
    a.accept(0x31, level=False)
    a.accept(0x52, level=False)
    assert a.acknowledge() == 0x52 and a.ppr() == 0x50
    a.accept(0x41, level=False)
    assert not a.intr_pending()                     # class 4 below the in-service 5
    a.mmio_write(L.EOI, 4, 0)
    assert a.acknowledge() == 0x41
    a.mmio_write(L.EOI, 4, 0)
    a.mmio_write(L.TPR, 4, 0x40)
    assert not a.intr_pending()                     # 0x31 is under TPR
    assert a.page.read32(L.IRR + 0x10) == 1 << (0x31 - 32) and a.page.read32(L.PPR) == 0x40


def test_software_disabled_apic_masks_lvts_and_drops_fixed_interrupts():
    a = apics(1).lapics[0]
    a.mmio_write(L.SVR, 4, 0xFF)
    a.mmio_write(L.LVT_TIMER, 4, 0x40)
    assert a.register(L.LVT_TIMER) & L.LVT_MASKED and a.dirty   # read-back differs
    a.accept(0x40, level=False)
    assert not a.intr_pending()


def test_timer_one_shot_periodic_and_current_count():
    now = [10.0]
    a = apics(1, now).lapics[0]
    a.mmio_write(L.TDCR, 4, 0xB)                    # divide by 1
    a.mmio_write(L.LVT_TIMER, 4, 0x20045)           # periodic
    a.mmio_write(L.TICR, 4, 1_000_000)              # 1 ms
    now[0] += 0.0004
    assert 590_000 < a.current_count() <= 600_000
    a.tick(now[0])
    assert not a.intr_pending()
    now[0] += 0.0007
    a.tick(now[0])
    assert a.acknowledge() == 0x45 and abs(a.deadline() - 10.002) < 1e-9
    a.mmio_write(L.EOI, 4, 0)
    a.mmio_write(L.LVT_TIMER, 4, 0x46)              # one-shot
    a.mmio_write(L.TDCR, 4, 0x3)                    # divide by 16
    a.mmio_write(L.TICR, 4, 1000)
    assert abs(a.deadline() - (now[0] + 16e-6)) < 1e-9
    now[0] += 1e-3
    a.tick(now[0])
    assert a.acknowledge() == 0x46 and a.deadline() is None and a.current_count() == 0


def test_ipis_fixed_logical_init_startup_and_illegal_vector():
    bus = apics(3)
    started, inits = [], []
    bus.on_init, bus.on_startup = inits.append, lambda i, v: started.append((i, v))
    a0, a1, a2 = bus.lapics
    a0.mmio_write(L.ICR_HIGH, 4, 2 << 24)
    a0.mmio_write(L.ICR_LOW, 4, 0x4070)             # fixed, physical APIC 2
    assert a2.acknowledge() == 0x70 and not a1.intr_pending()
    for i, a in enumerate(bus.lapics):
        a.mmio_write(L.LDR, 4, (1 << i) << 24)
    a0.mmio_write(L.ICR_HIGH, 4, 0x03 << 24)
    a0.mmio_write(L.ICR_LOW, 4, 0x4871)             # logical, flat: APICs 0 and 1
    assert a0.acknowledge() == 0x71 and a1.acknowledge() == 0x71 and not a2.intr_pending()
    a0.mmio_write(L.ICR_LOW, 4, 0xC4500)            # INIT, all but self
    a0.mmio_write(L.ICR_LOW, 4, 0xC4699)            # STARTUP vector 99h, all but self
    assert inits == [1, 2] and started == [(1, 0x99), (2, 0x99)]
    a0.mmio_write(L.ICR_LOW, 4, 0x44005)            # fixed vector 5 to self: illegal
    a0.mmio_write(L.ESR, 4, 0)
    assert a0.register(L.ESR) == L.ESR_SEND_ILLEGAL


def test_ioapic_routes_isa_irqs_edge_and_level_with_remote_irr():
    bus = apics(2)
    io = IoApic(bus, apic_id=15)
    lines = IrqLines()
    lines.connect(io)
    io.mmio_write(0x00, 4, 0x10 + 2 * 2)            # pin 2 (ISA IRQ 0): vector 0x30
    io.mmio_write(0x10, 4, 0x30)
    io.mmio_write(0x00, 4, 0x10 + 2 * 2 + 1)
    io.mmio_write(0x10, 4, 1 << 24)                 # to APIC 1
    assert io.page.read32(0x10) == 1 << 24          # IOWIN shows the selected register
    lines.pulse(0)
    assert bus.lapics[1].acknowledge() == 0x30 and not bus.lapics[0].intr_pending()
    io.mmio_write(0x00, 4, 0x10 + 2 * 9)            # pin 9: level, vector 0x39, APIC 0
    io.mmio_write(0x10, 4, 0x8039)
    lines.set(9, True)
    a0 = bus.lapics[0]
    assert a0.acknowledge() == 0x39 and io.entries[9] & (1 << 14)      # remote IRR
    a0.mmio_write(L.EOI, 4, 0)                      # still asserted: sent again
    assert a0.acknowledge() == 0x39
    lines.set(9, False)
    a0.mmio_write(L.EOI, 4, 0)
    assert not a0.intr_pending() and not io.entries[9] & (1 << 14)
    io.mmio_write(0x00, 4, 1)
    assert io.page.read32(0x10) == 0x00170011


def test_guest_lapic_timer_ioapic_self_ipi_and_cpuid(firmware, tmp_path):  # noqa: F811
    dom, reason, out = boot(firmware, boot_sector(tmp_path, "apic32"), seconds=30)
    try:
        assert reason == "poweroff" and dom.exit_code == 0x55, (reason, out, dom.crash_report)
        ids, b, c, d, leaf1, ticks, tccr, isr, pit, iowin, ipi = struct.unpack(
            "<11I", dom.mem.read(0x500, 44))
        assert ids == 0                              # vCPU 0: ID 0, a million times
        assert struct.pack("<3I", b, c, d) == b"XenVMMXenVMM"
        assert leaf1 >> 24 == 0
        assert ticks == 5 and 0 < tccr <= 200000 and isr == 1
        assert pit == 3 and iowin == 0x50 and ipi == 1
    finally:
        dom.destroy()


def test_lapic_id_reads_cost_no_python_call(firmware, tmp_path):  # noqa: F811
    calls = []
    original = LocalApic.mmio_write
    LocalApic.mmio_write = lambda self, *a: (calls.append(a), original(self, *a))[1]
    try:
        dom, reason, _out = boot(firmware, boot_sector(tmp_path, "apic32"), seconds=30)
    finally:
        LocalApic.mmio_write = original
    try:
        assert reason == "poweroff"
        assert len(calls) < 40, calls              # the guest's writes; no read reached us
    finally:
        dom.destroy()


def _table(mem, address: int, length: int) -> bytes:
    data = mem.read(address, length)
    assert sum(data) & 0xFF == 0, f"checksum of table at {address:#x}"
    return data


def test_firmware_mp_and_acpi_tables_list_every_vcpu(firmware, tmp_path):  # noqa: F811
    image = tmp_path / "blank.img"
    image.write_bytes(bytes(4096))
    dom, _reason, out = boot(firmware, image, seconds=2, vcpus=3)
    try:
        assert b"no 55AAh" in out
        bios = dom.mem.read(0xF0000, 0x10000)
        fp = 0xF0000 + next(o for o in range(0, 0x10000, 16) if bios[o:o + 4] == b"_MP_")
        table = struct.unpack_from("<I", _table(dom.mem, fp, 16), 4)[0]
        header = dom.mem.read(table, 44)
        length, count = struct.unpack_from("<H", header, 4)[0], struct.unpack_from("<H", header, 34)[0]
        data = _table(dom.mem, table, length)
        assert data[:4] == b"PCMP" and struct.unpack_from("<I", data, 36)[0] == 0xFEE00000
        entries, at = [], 44
        for _ in range(count):
            entries.append(data[at])
            at += 20 if data[at] == 0 else 8
        assert at == length and entries.count(0) == 3 and entries.count(2) == 1
        cpus = [data[44 + 20 * i + 1] for i in range(3)]
        assert cpus == [0, 1, 2] and data[44 + 3] == 3     # the BSP: enabled | BP
        rsdp = 0xF0000 + next(o for o in range(0, 0x10000, 16) if bios[o:o + 8] == b"RSD PTR ")
        rsdt = struct.unpack_from("<I", _table(dom.mem, rsdp, 20), 16)[0]
        rsdt_data = _table(dom.mem, rsdt, struct.unpack_from("<I", dom.mem.read(rsdt, 8), 4)[0])
        madt = struct.unpack_from("<I", rsdt_data, 36)[0]
        madt_data = _table(dom.mem, madt, struct.unpack_from("<I", dom.mem.read(madt, 8), 4)[0])
        assert madt_data[:4] == b"APIC"
        kinds, at = [], 44
        while at < len(madt_data):
            kinds.append((madt_data[at], madt_data[at + 3] if madt_data[at] == 0 else None))
            at += madt_data[at + 1]
        assert kinds[:3] == [(0, 0), (0, 1), (0, 2)] and [k for k, _ in kinds[3:]] == [1, 2, 4]
    finally:
        dom.destroy()


def test_msrs_native_served_and_refused_and_the_hypercall_page(firmware, tmp_path):  # noqa: F811
    dom, reason, out = boot(firmware, boot_sector(tmp_path, "msr32"), seconds=30)
    try:
        assert reason == "poweroff" and dom.exit_code == 0x55, (reason, out, dom.crash_report)
        apic_base, efer, star_high, gps, deadline, msr_base = struct.unpack(
            "<6I", dom.mem.read(0x500, 24))
        assert apic_base == 0xFEE00000 | (1 << 11) | (1 << 8)   # enabled, BSP
        assert efer == 0 and star_high == 0x00230010
        assert gps == 2                                  # unknown MSR: read and write
        assert deadline == 0 and msr_base == 0x40000000   # not TSC-deadline mode: ignored
        page = dom.mem.read(0x9000, 4096)
        assert page[32:41] == bytes.fromhex("b8010000000f01c1c3")   # mov $1,%eax; vmcall; ret
        assert page[23 * 32:23 * 32 + 2] == b"\x0f\x0b"           # no iret stub
    finally:
        dom.destroy()


def test_msr_permission_map_lets_the_engine_run_the_msrs_it_knows():
    from hvcore.arch.x86.hvm import msr
    bits = msr.permission_map()

    def exits(index: int) -> bool:
        bit = msr._map_offset(index)
        return bit is None or bool(bits[bit // 8] >> (bit % 8) & 3)
    assert not any(exits(m) for m in (0xC0000080, 0xC0000082, 0xC0000100, 0x277, 0x10, 0x174))
    assert all(exits(m) for m in (0x1B, 0x6E0, 0x40000000, 0x0BADF00D, 0x3A))


def test_the_current_count_read_hook_is_there_only_while_the_timer_counts(firmware, tmp_path):  # noqa: F811
    # a ranged read hook slows every guest load: the LAPIC wants it on TCCR only while
    # the count moves, and the run loop adds or removes it between runs
    dom, reason, out = boot(firmware, boot_sector(tmp_path, "msr32"), seconds=30)
    try:
        assert reason == "poweroff", (reason, out, dom.crash_report)
        watch = dom.vcpus[0].lapic.count_watch
        assert watch is not None and not watch.wanted and watch.handle is None
        lapic = dom.vcpus[0].lapic
        lapic.mmio_write(L.TDCR, 4, 0xB)                 # divide by 1
        lapic.mmio_write(L.TICR, 4, 10**9)               # a one-second count
        assert watch.wanted and watch.handle is None     # until the next run
        dom.put_pages_right()
        assert watch.handle is not None
        lapic.mmio_write(L.TICR, 4, 0)                   # stopped: TCCR reads 0, no hook
        dom.put_pages_right()
        assert watch.handle is None and lapic.page.read32(L.TCCR) == 0
    finally:
        dom.destroy()


def test_tsc_deadline_timer_unit():
    now, tsc = [5.0], [1_000_000]

    class Tsc:
        def now(self) -> int:
            return tsc[0]

        def hz(self) -> int:
            return 1_000_000_000

    bus = ApicBus(pic=programmed_pic())
    a = LocalApic(apic_id=0, bus=bus, clock=lambda: now[0], tsc=Tsc())
    bus.add(a)
    a.mmio_write(L.SVR, 4, 0x1FF)
    a.write_tsc_deadline(2_000_000)                   # not in TSC-deadline mode: ignored
    assert a.read_tsc_deadline() == 0 and a.deadline() is None
    a.mmio_write(L.LVT_TIMER, 4, 0x40047)
    a.write_tsc_deadline(3_000_000)
    assert a.read_tsc_deadline() == 3_000_000 and abs(a.deadline() - 5.002) < 1e-9
    a.mmio_write(L.TICR, 4, 500)                      # ignored; TCCR reads 0
    assert a.ticr == 0 and a.current_count() == 0
    now[0], tsc[0] = 5.002, 2_999_000                 # the host clock ran ahead of the TSC
    a.tick(now[0])
    assert not a.intr_pending() and a.deadline() > now[0]
    tsc[0] = 3_000_000
    a.tick(a.deadline())
    assert a.acknowledge() == 0x47 and a.read_tsc_deadline() == 0 and a.deadline() is None
    a.mmio_write(L.EOI, 4, 0)
    a.write_tsc_deadline(1)                           # already passed: at once
    assert a.acknowledge() == 0x47 and a.read_tsc_deadline() == 0
    a.mmio_write(L.EOI, 4, 0)
    a.write_tsc_deadline(9_000_000)
    a.write_tsc_deadline(0)                           # disarmed
    assert a.deadline() is None
    a.write_tsc_deadline(9_000_000)
    a.mmio_write(L.LVT_TIMER, 4, 0x47)                # leaving the mode disarms
    assert a.deadline() is None and a.read_tsc_deadline() == 0
    a.mmio_write(L.LVT_TIMER, 4, 0x40047)
    assert a.read_tsc_deadline() == 0


def test_guest_tsc_deadline_timer(firmware, tmp_path):  # noqa: F811
    dom, reason, out = boot(firmware, boot_sector(tmp_path, "tscdl32"), seconds=30)
    try:
        assert reason == "poweroff" and dom.exit_code == 0x55, (reason, out, dom.crash_report)
        ecx1, ignored, armed, tccr = struct.unpack("<4I", dom.mem.read(0x500, 16))
        late, in_handler, taken, after_leave = struct.unpack("<qIII", dom.mem.read(0x510, 20))
        deadline = struct.unpack("<Q", dom.mem.read(0x600, 8))[0]
        assert ecx1 & (1 << 24)                       # CPUID.1:ECX.TSC_Deadline
        assert ignored == 0 and tccr == 0 and armed != 0
        assert 0 <= late < 1 << 40 and in_handler == 0   # fired at or after the deadline
        assert taken == 2 and after_leave == 0 and deadline != 0
    finally:
        dom.destroy()
