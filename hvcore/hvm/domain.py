"""An HVM domain: guest RAM from address 0, the firmware in its top 64 KiB below 1 MiB,
the PC devices, its vCPUs (the BSP starts at the reset vector, the APs wait for
INIT/STARTUP), a local APIC per vCPU (FEE00000 in each vCPU's own engine) and the
IOAPIC (FEC00000, one page seen by every engine).

Memory map (what the firmware reports through E820): RAM 0-0x9FC00, the EBDA
0x9FC00-0xA0000, the legacy video and ROM area 0xA0000-0x100000 (guest RAM here too:
the BIOS runs from a RAM copy, as a BIOS does once it has shadowed its ROM), RAM from
1 MiB up to the domain's size.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from hvcore import engine as eng
from hvcore.arch.x86.hvm.vcpu import HvmVcpu
from hvcore.hvm import open_bus
from hvcore.hvm.apic_bus import ApicBus
from hvcore.hvm.devices.cmos import Cmos
from hvcore.hvm.devices.debug_console import DebugConsole
from hvcore.hvm.devices.debug_exit import DebugExit
from hvcore.hvm.devices.cga import COLUMNS, ROWS, TEXT_BASE, CgaText
from hvcore.hvm.devices.i8042 import Kbc8042
from hvcore.hvm.devices.ide import SECTOR, Drive, IdeChannel
from hvcore.hvm.devices.ioapic import MASKED as IOAPIC_MASKED, IoApic, isa_pin
from hvcore.hvm.devices.lapic import TCCR, LocalApic
from hvcore.hvm.devices.pic import Pic8259Pair
from hvcore.hvm.devices.pit import Pit8254
from hvcore.hvm.devices.port92 import SystemControlA
from hvcore.hvm.devices.uart import Uart16550
from hvcore.hvm.physmap import GuestPhysMap
from hvcore.hvm.platform import ConsoleSink, IoBus, IrqLines
from hvcore.memory import MemoryRegion, PhysicalMemory

FIRMWARE_BASE = 0xF0000
FIRMWARE_SIZE = 0x10000
MIB = 1 << 20
MAX_VCPUS = 15                 # APIC IDs 0..14; the IOAPIC takes the next ID
IOAPIC_ID = MAX_VCPUS         # the firmware's MP table and MADT say so
CMOS_VCPUS = 0x5F              # CMOS byte: number of vCPUs - 1 (the firmware's tables)
KBD_IRQ = 1
INPUT_READS = 16               # reads of a device's input side in a row: a guest polling it
ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_FIRMWARE = ROOT / "firmware" / "build" / "bios.bin"


class HvmBuildError(Exception):
    """The domain cannot be built (one line for the user)."""


@dataclass
class HvmDomain:
    domid: int
    name: str
    ram: MemoryRegion
    mem: PhysicalMemory
    console_write: Callable[[bytes], None]
    console: ConsoleSink = field(default_factory=ConsoleSink)
    io: IoBus = field(default_factory=IoBus)
    irqs: IrqLines = field(default_factory=IrqLines)
    interrupts: Pic8259Pair = field(default_factory=Pic8259Pair)
    vcpus: list[HvmVcpu] = field(default_factory=list)
    uart: Uart16550 | None = None
    kbc: Kbc8042 | None = None
    port92: SystemControlA | None = None
    cga: CgaText | None = None
    pending_input: bytearray = field(default_factory=bytearray)
    input_to: "Uart16550 | Kbc8042 | None" = None   # where the held input goes (route_input)
    shutdown_reason: str | None = None
    crash_report: str | None = None
    exit_code: int | None = None
    on_crash: str = "destroy"
    inbox: object = None
    inbox_drained: threading.Event = field(default_factory=threading.Event)
    debugger: object = None
    disk_fds: list[int] = field(default_factory=list)
    ide: IdeChannel | None = None
    apic_bus: ApicBus | None = None
    ioapic: IoApic | None = None
    xen: object = None              # its Xen side (hvcore/hvm/xen.py): hypercalls, rings
    physmap: GuestPhysMap | None = None  # what the engines map: RAM, A20, pages over it
    build_options: list[str] = field(default_factory=list)   # its process's (for snapshots)
    # `--trace` (hvcore/trace/hvm.py): None unless asked; the run loop checks it per slice
    tracer: object = None
    symbols: dict[str, int] = field(default_factory=dict)    # a direct-booted kernel's .symtab

    @property
    def nr_pages(self) -> int:
        return self.ram.size >> 12

    @property
    def running(self) -> bool:
        return self.shutdown_reason is None

    def shutdown(self, reason: str) -> None:
        if self.shutdown_reason is None:
            self.shutdown_reason = reason
            for v in self.vcpus:
                v.engine.kick()

    def crash(self, report: str) -> None:
        if self.shutdown_reason is None:
            self.crash_report = report
        self.shutdown("crash")

    def crash_vcpu(self, vcpu: HvmVcpu, why: str) -> None:
        from hvcore.hvm.report import vcpu_report
        self.crash(f"d{self.domid} ({self.name}) crashed: {why}\n{vcpu_report(vcpu)}")

    def triple_fault(self, vcpu: HvmVcpu, why: str) -> None:
        """The CPU shuts down: on a PC the chipset resets it; here on_crash decides
        (restart: reset the vCPU to the reset vector; otherwise the domain crashes)."""
        if self.on_crash in ("restart", "coredump-restart"):
            vcpu.reset()
            return
        self.crash_vcpu(vcpu, f"triple fault ({why})")

    def put_pages_right(self) -> None:
        """Device pages a guest store landed on as written (a read-only register, a
        reserved bit): show what the device says before the guest runs again."""
        for v in self.vcpus:
            if v.lapic is not None and v.lapic.dirty:
                v.lapic.publish()
            if v.lapic is not None and v.lapic.count_watch is not None:
                v.lapic.count_watch.sync()
        if self.ioapic is not None and self.ioapic.dirty:
            self.ioapic._show()

    def debug_exit(self, code: int) -> None:
        self.exit_code = code
        self.shutdown("poweroff")

    def flush_console(self, whole_lines: bool = False) -> None:
        """Hand the console's bytes on; `whole_lines` while the guest is busy (a line
        half-written on one console is not cut by another's: console_io, the PV ring)."""
        data = self.console.take(whole_lines)
        if data:
            self.console_write(data)

    def feed_console(self, data: bytes) -> int:
        """Console input, held until the guest shows where it reads keys from."""
        if not self.pending_input:
            self._input_arrived()
        self.pending_input += data
        self.route_input()
        return len(data)

    def _input_arrived(self) -> None:
        """Only what the guest does once input is there shows where it reads it: the
        device reads are counted from here (not time: a replay must route the same)."""
        self.input_to = None
        for device in (self.uart, self.kbc):
            if device is not None:
                device.input_reads = 0

    def route_input(self) -> None:
        """Held input to where the guest reads it, once it has shown that; then the
        rest of it goes there too."""
        if not self.pending_input or self.uart is None or self.kbc is None:
            return
        if self.input_to is None:
            self.input_to = self._input_reader()
        if self.input_to is self.uart:
            del self.pending_input[:self.uart.feed(bytes(self.pending_input))]
        elif self.input_to is self.kbc:
            self.kbc.type(bytes(self.pending_input))
            self.pending_input.clear()

    def _input_reader(self) -> "Uart16550 | Kbc8042 | None":
        """The UART if the guest takes serial input by interrupt or has polled its
        input side (LSR/RBR, INPUT_READS times in a row with no byte sent between:
        a transmit loop reads LSR once a byte); else the keyboard if it has polled the
        8042 so (our BIOS's INT 16h peek reads its status) or idles in `hlt` with IRQ 1
        on in the 8042 and unmasked (INT 16h waiting for a key; our BIOS turns IRQ 1
        on at POST, so that alone says nothing of a kernel polling COM1); else no one
        yet."""
        uart, kbc = self.uart, self.kbc
        if uart.receive_interrupts or uart.input_reads >= INPUT_READS:
            return uart
        if kbc.input_reads >= INPUT_READS:
            return kbc
        if kbc.interrupt_driven and self._irq_unmasked(KBD_IRQ) and any(
                v.halted and v.interrupts_enabled for v in self.vcpus):
            return kbc
        return None

    def _irq_unmasked(self, irq: int) -> bool:
        """An ISA IRQ reaches a CPU: unmasked in the 8259A or at its IOAPIC pin."""
        if irq < 8 and not self.interrupts.master.imr & (1 << irq):
            return True
        return self.ioapic is not None and not self.ioapic.entries[isa_pin(irq)] & IOAPIC_MASKED

    def a20_changed(self) -> None:
        """A20M#: off only while both the 8042's A20GATE and port 92h's bit 1 are 0 (the
        chipset ORs them)."""
        self.physmap.set_a20(self.kbc.a20 or self.port92.a20)

    def reset_system(self) -> None:
        """The keyboard controller's reset line: the PC restarts (on_reboot is the
        toolstack's business: we stop as a reboot)."""
        self.shutdown("reboot")

    def destroy(self) -> None:
        for v in self.vcpus:
            v.engine.close()
        if self.inbox is not None:
            self.inbox.close()
        for fd in self.disk_fds:
            os.close(fd)
        self.mem.close()


def build_hvm_domain(domid: int, name: str, memory_mib: int, disk: str | None,
                     console_write: Callable[[bytes], None], firmware: Path = DEFAULT_FIRMWARE,
                     disk_readonly: bool = False, on_crash: str = "destroy",
                     vcpus: int = 1, slave: str | None = None,
                     slave_readonly: bool = False) -> HvmDomain:
    if memory_mib < 2:
        raise HvmBuildError(f"an HVM guest needs at least 2 MiB (memory = {memory_mib})")
    if not 1 <= vcpus <= MAX_VCPUS:
        raise HvmBuildError(f"an HVM guest has 1 to {MAX_VCPUS} vCPUs (vcpus = {vcpus})")
    image = _read_firmware(firmware)
    mem = PhysicalMemory()
    ram = mem.add(MemoryRegion(f"hv-d{domid}-ram", 0, memory_mib * MIB))
    dom = HvmDomain(domid, name, ram, mem, console_write, on_crash=on_crash,
                    physmap=GuestPhysMap(ram))
    mem.write(FIRMWARE_BASE + FIRMWARE_SIZE - len(image), image)
    _attach_devices(dom, memory_mib * MIB, vcpus)
    for index, (path, readonly) in enumerate(((disk, disk_readonly), (slave, slave_readonly))):
        if path is not None:
            try:
                dom.ide.drives[index] = _open_disk(dom, path, readonly, index)
            except HvmBuildError:
                dom.destroy()
                raise
    for index in range(vcpus):
        _add_vcpu(dom, index)
    dom.irqs.on_raise = lambda: [v.engine.kick() for v in dom.vcpus if v.in_guest]
    return dom


def _add_vcpu(dom: HvmDomain, index: int) -> HvmVcpu:
    """A vCPU with its own engine: RAM, its local APIC's page, the IOAPIC's page."""
    engine = eng.Engine()
    dom.physmap.attach(engine)
    vcpu = HvmVcpu(dom, index, engine)
    dom.physmap.on_a20.append(vcpu.mem.set_a20_mask)
    lapic = LocalApic(apic_id=index, bus=dom.apic_bus)
    dom.apic_bus.add(lapic)
    dom.io.attach(lapic)                          # its timer's deadline and tick
    vcpu.attach_lapic(lapic)
    lapic.count_watch = lapic.page.map_into(engine, lapic.mmio_write,
                                            on_read=(TCCR, lapic.refresh_count))
    dom.ioapic.page.map_into(engine, dom.ioapic.mmio_write)
    open_bus.attach(engine)
    vcpu.reset()
    vcpu.waiting_for_sipi = index != 0
    dom.vcpus.append(vcpu)
    return vcpu


def _read_firmware(path: Path) -> bytes:
    try:
        image = Path(path).read_bytes()
    except OSError as err:
        raise HvmBuildError(f"firmware {path}: {err.strerror} (build it: make -C firmware)")
    if not image or len(image) > FIRMWARE_SIZE:
        raise HvmBuildError(f"firmware {path}: {len(image)} bytes (1 to 64 KiB expected)")
    return image


def _attach_devices(dom: HvmDomain, memory_bytes: int, vcpus: int) -> None:
    dom.irqs.connect(dom.interrupts)
    dom.io.attach(dom.interrupts)
    dom.apic_bus = ApicBus(pic=dom.interrupts,
                           on_init=lambda i: dom.vcpus[i].init(),
                           on_startup=lambda i, vector: dom.vcpus[i].startup(vector))
    dom.ioapic = IoApic(dom.apic_bus, apic_id=IOAPIC_ID)
    dom.ioapic.wake = lambda: [v.wake() for v in dom.vcpus]
    dom.irqs.connect(dom.ioapic)
    dom.io.attach(Pit8254(raise_irq=dom.irqs.pulse))
    cmos = dom.io.attach(Cmos(memory_bytes=memory_bytes))
    cmos.ram[CMOS_VCPUS] = vcpus - 1
    dom.uart = dom.io.attach(Uart16550(console=dom.console, set_irq=dom.irqs.set))
    dom.ide = dom.io.attach(IdeChannel(set_irq=dom.irqs.set))
    dom.kbc = dom.io.attach(Kbc8042(set_irq=dom.irqs.set, reset_system=dom.reset_system,
                                    a20_changed=dom.a20_changed))
    dom.port92 = dom.io.attach(SystemControlA(reset_system=dom.reset_system,
                                              a20_changed=dom.a20_changed))
    dom.cga = dom.io.attach(CgaText(lambda: dom.mem.read(TEXT_BASE, ROWS * COLUMNS * 2),
                                    dom.console))
    dom.io.attach(DebugConsole(dom.console))
    dom.io.attach(DebugExit(dom.debug_exit))


def _open_disk(dom: HvmDomain, path: str, readonly: bool, index: int) -> Drive:
    try:
        fd = os.open(path, os.O_RDONLY if readonly else os.O_RDWR)
    except OSError as err:
        raise HvmBuildError(f"disk {path}: {err.strerror}")
    dom.disk_fds.append(fd)
    size = os.fstat(fd).st_size
    if size < SECTOR:
        raise HvmBuildError(f"disk {path}: {size} bytes, not even one sector")
    return Drive(fd, size // SECTOR, readonly, serial=f"HVCORE{dom.domid:04d}{index}")
