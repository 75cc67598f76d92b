"""The HVM vCPU: a PC's CPU from reset, and the run loop that serves its exits.

Guest code runs in the engine until it stops: an exception or `int N` (delivered
through the guest's IDT or IVT by delivery.py), port I/O refused by IOPL (#GP), `hlt`
(the vCPU sleeps until an interrupt can be taken), or a kick (slice over, a device
wants attention). External interrupts are injected only between runs, when IF=1 and
no interrupt shadow (sti, mov ss) is in force, as the CPU samples INTR.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from unicorn import x86_const as X

from hvcore import engine as eng
from hvcore.arch.x86.hvm import delivery, fast_syscall, halt
from hvcore.arch.x86.hvm import msr
from hvcore.arch.x86.hvm.cpuid import hvm_leaf
from hvcore.arch.x86.hvm.cpu_state import CS, CpuState
from hvcore.arch.x86.hvm.delivery import Event, TripleFault
from hvcore.arch.x86.hvm.guest_memory import LinearMemory

if TYPE_CHECKING:
    from hvcore.hvm.devices.lapic import LocalApic
    from hvcore.hvm.domain import HvmDomain

RF_IF = 1 << 9
RF_VM = 1 << 17
RF_IOPL_SHIFT = 12
RF_DF = 1 << 10
TSS_IOMAP_BASE = 0x66          # the I/O map base's offset in a 32- or 64-bit TSS
CR0_PG = 1 << 31


class InterruptController(Protocol):
    """What the vCPU asks of its interrupt controller (its local APIC, which passes the
    8259A's requests on through LINT0 in ExtINT mode)."""
    def intr_pending(self) -> bool: ...
    def acknowledge(self) -> int: ...


class HvmVcpu:
    def __init__(self, domain: "HvmDomain", vcpu_id: int, engine: eng.Engine) -> None:
        self.domain = domain
        self.id = vcpu_id
        self.engine = engine
        self.state = CpuState(engine)
        self.mem = LinearMemory(domain.mem, engine)
        self.halted = False
        self.traps_taken = 0
        self.hypercalls_made = 0
        self.interrupts_taken = 0
        self.in_guest = False         # inside engine.run: a raised IRQ must kick us
        self.waiting_for_sipi = False  # an AP after INIT (or power-on), until STARTUP
        self.lapic: "LocalApic | None" = None
        self.interrupts: InterruptController = domain.interrupts
        engine.set_io_handlers(self._io_in, self._io_out)
        # The error code and `int N` flag, read while the engine raises the exception:
        # it may overwrite them on its way out of emu_start (as it does CR2).
        self._raised: tuple[int, bool] = (0, False)
        from unicorn import UC_HOOK_INTR
        engine.uc.hook_add(UC_HOOK_INTR, engine._guarded(self._on_exception))
        engine.add_inline_insn_hook(X.UC_X86_INS_CPUID, self._cpuid)
        engine.exit_on_sysenter()          # as `syscall`: emulated (fast_syscall.py)
        msr.check_layout()
        self.msrs = msr.MsrIntercept(engine, self.state.env, self.state.hflags)
        self._msr_at = 0                 # the rdmsr/wrmsr that exited
        self.hypercall_page: int | None = None
        self.xen = None                  # the domain's Xen side (hvcore/hvm/xen.py), if any
        self.xen_blocked = False         # asleep in SCHEDOP_block/poll, not in hlt
        self._ins_decoded: dict[tuple[int, bool, bool], int | None] = {}

    def reset(self, cs: int = 0xF000, ip: int = 0xFFF0) -> None:
        self.state.reset(cs, ip)
        self.halted = False
        if hasattr(self, "msrs"):
            self.msrs.arm()

    def attach_lapic(self, lapic: "LocalApic") -> None:
        self.lapic = lapic
        self.interrupts = lapic
        lapic.wake = self.wake

    def wake(self) -> None:
        """Something for this vCPU (an interrupt, a register to put right): stop it at
        its next block if it is running; the run loop looks again."""
        if self.in_guest:
            self.engine.kick()

    def init(self) -> None:
        """INIT: the local APIC and the CPU to their reset state; an AP then waits for
        STARTUP (the BSP's INIT goes through the reset vector again)."""
        if self.lapic is not None:
            self.lapic.reset()
        self.reset()
        self.waiting_for_sipi = self.id != 0
        self.engine.kick()

    def startup(self, vector: int) -> None:
        """STARTUP: an AP waiting for it starts in real mode at vector << 12
        (CS = vector << 8, IP = 0); otherwise it is ignored."""
        if not self.waiting_for_sipi:
            return
        self.reset(cs=vector << 8, ip=0)
        self.waiting_for_sipi = False

    def _cpuid(self) -> None:
        e = self.engine
        apic_id = self.lapic.apic_id if self.lapic is not None else self.id
        regs = hvm_leaf(apic_id, e.reg(X.UC_X86_REG_EAX) & 0xFFFFFFFF,
                        e.reg(X.UC_X86_REG_ECX) & 0xFFFFFFFF)
        for reg, value in zip((X.UC_X86_REG_RAX, X.UC_X86_REG_RBX, X.UC_X86_REG_RCX,
                               X.UC_X86_REG_RDX), regs):
            e.set_reg(reg, value)

    @property
    def rip(self) -> int:
        return self.engine.reg(X.UC_X86_REG_RIP)

    @property
    def interrupts_enabled(self) -> bool:
        return bool(self.engine.reg(X.UC_X86_REG_RFLAGS) & RF_IF)

    # ---- scheduling -------------------------------------------------------------------
    def runnable(self) -> bool:
        """Runs unless halted; a halted vCPU wakes for an interrupt it can take."""
        if not self.domain.running or self.waiting_for_sipi:
            return False
        if self.halted and (self._nmi_pending() or (
                self.interrupts_enabled and self._intr_pending())):
            self.halted = False
        if self.halted and self.xen is not None and self.xen.wakes(self):
            self.halted = False
        return not self.halted

    def _nmi_pending(self) -> bool:
        return self.lapic is not None and self.lapic.nmi_pending

    def run_slice(self, slice_us: int) -> None:
        if self.domain.tracer is not None:     # the same steps, with records
            from hvcore.trace.hvm_loop import run_slice
            run_slice(self.domain.tracer, self, slice_us)
            return
        with self.engine.time_slice(slice_us):
            while self.domain.running and not self.halted:
                exit = self.enter_guest()
                if exit is None:
                    return
                if exit.kind in (eng.EXIT_TIMEOUT, eng.EXIT_STOPPED):
                    self.slice_over()
                    return
                if not self._serve_exit(exit):
                    return

    def enter_guest(self) -> eng.Exit | None:
        """A pending interrupt taken, then guest code run until it exits; None: the
        domain stopped on the way in (triple fault)."""
        if not self._inject_interrupt():
            return None
        self.domain.put_pages_right()
        self.in_guest = True
        self.engine.stop_address = self._until()
        exit = self.engine.run(self.rip)
        self.in_guest = False
        return exit

    def slice_over(self) -> None:
        """The run ended without an exit to serve: time up, a kick, or a `hlt`."""
        if not halt.stopped_by_request(self.engine) and self._after_hlt():
            self.halted = True

    def linear_rip(self) -> int:
        return self.state.segment(CS).base + self.rip

    def raised_by_int(self) -> bool:
        """The trap exit being served came from `int N` (not an exception)."""
        return self._raised[1]

    def _serve_exit(self, exit: eng.Exit) -> bool:
        """An exit handled; False if that was a hypervisor bug (the domain crashed)."""
        self.traps_taken += 1
        try:
            self._handle_exit(exit)
        except Exception as bug:   # noqa: BLE001 - must not take the process down
            from hvcore.crash import describe_bug
            self.domain.crash_vcpu(self, "hypervisor bug: " + describe_bug(bug))
            return False
        return True

    def step_instruction(self) -> None:
        """One guest instruction and its exit, if any (gdb's stepi). No interrupt is
        taken first (as QEMU's gdbstub steps, with IRQs held off); a `hlt` stepped
        over halts the vCPU as in a run."""
        self.domain.put_pages_right()
        self.engine.stop_address = self._until()
        linear = self.state.segment(CS).base + self.rip
        exit = self.engine.step(self.rip)
        if exit.kind in (eng.EXIT_TIMEOUT, eng.EXIT_STOPPED):
            here = self.state.segment(CS).base + self.rip
            self.halted = here == linear + 1 and self._after_hlt()
            return
        self._serve_exit(exit)

    def _until(self) -> int:
        """The run's `until` address. The engine translates the byte before it when a
        run starts, and where guest paging does not map that byte it writes the
        address into CR2, which the guest may be about to read. So: with paging, the
        byte before `until` is CR2 itself (a fault there leaves CR2 as it was), or,
        when the guest is about to execute at CR2 + 1, the instruction it is about to
        run (mapped); without paging, the last byte of RAM."""
        if not self.engine.reg(X.UC_X86_REG_CR0) & CR0_PG:
            return self.domain.ram.size
        cr2 = self.engine.reg(X.UC_X86_REG_CR2)
        here = self.state.segment(CS).base + self.rip
        return here + 1 if here == cr2 + 1 else cr2 + 1

    def _after_hlt(self) -> bool:
        try:
            linear = self.state.segment(CS).base + self.rip - 1
            return self.mem.read(linear, 1) == b"\xF4"
        except Exception:                   # noqa: BLE001 - unreadable: not a hlt we know
            return False

    # ---- interrupts -------------------------------------------------------------------
    def _inject_interrupt(self) -> bool:
        """Take a pending external interrupt if the CPU would now. False: the domain
        stopped (triple fault)."""
        if self._nmi_pending():
            self.lapic.nmi_pending = False
            return self.deliver(Event(delivery.NMI, external=True))
        if not self._intr_pending() or not self.interrupts_enabled:
            return True
        if self.state.interrupt_shadow:
            self.engine.step(self.rip)        # one instruction, then INTR is sampled
            if not self._intr_pending() or not self.interrupts_enabled:
                return True
        self.interrupts_taken += 1
        vector = self._xen_vector()
        if vector is None:
            vector = self.interrupts.acknowledge()
        return self.deliver(Event(vector, external=True))

    def _xen_vector(self) -> int | None:
        """Xen's event callback vector, while an upcall is pending (it comes before
        the interrupt controller's requests, as in Xen's hvm_vcpu_has_pending_irq)."""
        return self.xen.callback_vector(self) if self.xen is not None else None

    def _intr_pending(self) -> bool:
        return self._xen_vector() is not None or self.interrupts.intr_pending()

    def deliver(self, event: Event) -> bool:
        try:
            delivery.deliver(self.state, self.mem, event)
            return True
        except TripleFault as why:
            self.domain.triple_fault(self, str(why))
            return False

    # ---- exits --------------------------------------------------------------------------
    def _handle_exit(self, exit: eng.Exit) -> None:
        if exit.kind == eng.EXIT_TRAP:
            self._trap(exit)
        elif exit.kind == eng.EXIT_INVALID:
            if self.xen is None or not self.xen.vmcall(self):
                self.deliver(Event(delivery.UD))
        elif exit.kind == eng.EXIT_SYSCALL:
            fault = fast_syscall.emulate(self, sysenter=exit.detail == eng.SYSENTER)
            if fault is not None:
                self.deliver(fault)
        elif exit.kind == eng.EXIT_IO_DENIED:
            self.engine.set_reg(X.UC_X86_REG_RIP, exit.address)   # a fault: on the in/out
            self.deliver(Event(delivery.GP, 0))
        else:
            self.domain.crash_vcpu(self, _describe(exit))

    def _on_exception(self, vector: int) -> None:
        self._raised = (self.state.exception_error_code, self.state.exception_is_int)
        self.state.forget_exception()
        if vector == msr.VMEXIT_MSR:           # RIP is on the instruction only now
            self._msr_at = self.engine.reg(X.UC_X86_REG_RIP)

    def _trap(self, exit: eng.Exit) -> None:
        vector = exit.vector
        error_code, is_int = self._raised
        if vector == msr.VMEXIT_MSR:
            self._msr(write=error_code == 1)
            return
        if is_int:
            length = self._int_length(vector)
            if self.interrupts_enabled and self._intr_pending():
                # INTR was up at the boundary before the `int` (IF=1 there): the CPU takes
                # it first, and the `int` runs when the handler returns. Checking only
                # after the `int` (IF=0 in its handler) would starve a guest that polls
                # through a service in a loop, as INT 16h AH=01h callers do.
                self.engine.set_reg(X.UC_X86_REG_RIP, self.rip - length)
                return
            self.deliver(Event(vector, software=True, insn_length=length))
            return
        code = error_code if vector in delivery.ERROR_CODE_VECTORS else None
        if vector == delivery.PF:
            self.engine.set_reg(X.UC_X86_REG_CR2, exit.address)
        self.deliver(Event(vector, code))

    # ---- rdmsr / wrmsr the engine did not run (msr.py) ---------------------------------
    def _msr(self, write: bool) -> None:
        e = self.engine
        e.set_reg(X.UC_X86_REG_RIP, self._msr_at)
        index = e.reg(X.UC_X86_REG_RCX) & 0xFFFFFFFF
        try:
            if write:
                value = (e.reg(X.UC_X86_REG_RDX) & 0xFFFFFFFF) << 32
                self._write_msr(index, value | (e.reg(X.UC_X86_REG_RAX) & 0xFFFFFFFF))
            else:
                value = self._read_msr(index)
                e.set_reg(X.UC_X86_REG_RAX, value & 0xFFFFFFFF)
                e.set_reg(X.UC_X86_REG_RDX, value >> 32)
        except msr.MsrFault:
            self.deliver(Event(delivery.GP, 0))
            return
        e.set_reg(X.UC_X86_REG_RIP, self._msr_at + 2)

    def _read_msr(self, index: int) -> int:
        if index == msr.MSR_APIC_BASE:
            bsp = msr.APIC_BASE_BSP if self.id == 0 else 0
            return 0xFEE00000 | msr.APIC_BASE_ENABLE | bsp
        if index == msr.MSR_TSC_DEADLINE and self.lapic is not None:
            return self.lapic.read_tsc_deadline()
        raise msr.MsrFault(index)

    def _write_msr(self, index: int, value: int) -> None:
        if index == msr.MSR_APIC_BASE:
            if value & ~0xFFF != 0xFEE00000 or not value & msr.APIC_BASE_ENABLE:
                raise msr.MsrFault(index)       # the APIC stays where it is, enabled
        elif index == msr.MSR_TSC_DEADLINE and self.lapic is not None:
            self.lapic.write_tsc_deadline(value)
            self.engine.kick()      # the slice ends: the domain's loop times the next one to it
        elif index == msr.MSR_XEN_HYPERCALL:
            self.hypercall_page = value & ~0xFFF
            self.domain.mem.write(self.hypercall_page, msr.hypercall_page())
            for v in self.domain.vcpus:       # code written behind the engines' backs
                v.engine.drop_code_cache(self.hypercall_page, self.hypercall_page + 4096)
        else:
            raise msr.MsrFault(index)

    def _int_length(self, vector: int) -> int:
        """`int N` is CD nn; int3 (CC), into (CE) and int1 (F1) are one byte."""
        try:
            before = self.mem.read(self.state.segment(CS).base + self.rip - 2, 2)
        except Exception:                   # noqa: BLE001 - unreadable: assume int N
            return 2
        return 2 if before == bytes([0xCD, vector]) else 1

    # ---- port I/O -------------------------------------------------------------------------
    def _io_allowed(self, port: int, size: int) -> bool:
        """Protected mode: CPL <= IOPL, or else the TSS I/O permission bitmap: every
        bit of the accessed ports clear, inside the TSS limit (SDM vol. 1 19.5.2).
        Virtual-8086 mode asks the bitmap only, whatever IOPL (SDM vol. 3 20.2.7)."""
        if not self.state.protected:
            return True
        flags = self.engine.reg(X.UC_X86_REG_RFLAGS)
        if not flags & RF_VM and self.state.cpl <= (flags >> RF_IOPL_SHIFT) & 3:
            return True
        return self._io_bitmap_allows(port, size)

    def _io_bitmap_allows(self, port: int, size: int) -> bool:
        _selector, base, limit, _flags = self.engine.uc.reg_read(X.UC_X86_REG_TR)
        if limit < TSS_IOMAP_BASE + 1:
            return False
        try:
            iomap = int.from_bytes(self.mem.read(base + TSS_IOMAP_BASE, 2), "little")
            at = iomap + port // 8
            if at + 1 > limit:
                return False
            bits = int.from_bytes(self.mem.read(base + at, 2), "little")
        except Exception:                   # noqa: BLE001 - unreadable TSS: refused
            return False
        mask = ((1 << size) - 1) << (port % 8)
        return not bits & mask

    def _io_in(self, port: int, size: int) -> int | None:
        if not self._io_allowed(port, size):
            return None
        value = self.domain.io.read(port, size)
        if port in self.domain.io.block_ports:
            self._rep_ins(port, size)
        return value

    # ---- `rep ins` from a data port in one copy ------------------------------------------
    def _rep_ins(self, port: int, size: int) -> None:
        """The engine calls the in hook once per element of a `rep ins`. On a device's
        data port, the hook for the first element also moves the elements after it (to
        the end of the destination page, as far as the device has data), and advances
        EDI and ECX past them; the engine then stores the first element, at the EDI it
        had computed already, and steps EDI and ECX once more (tests/test_hvm_ide.py)."""
        address_size = self._rep_ins_at()
        if address_size is None:
            return
        e = self.engine
        if e.reg(X.UC_X86_REG_RFLAGS) & RF_DF:
            return
        mask = (1 << (8 * address_size)) - 1
        count = e.reg(X.UC_X86_REG_RCX) & mask
        di = e.reg(X.UC_X86_REG_RDI) & mask
        following = (di + size) & mask
        room = min(count - 1, (mask + 1 - following) // size)
        start = self.state.segment(0).base + following       # ES: ins ignores overrides
        room = min(room, (0x1000 - (start & 0xFFF)) // size)
        if room <= 0:
            return
        try:
            self.mem.translate(start, write=True, user=self.state.cpl == 3)
        except Exception:                   # noqa: BLE001 - a fault there: element by element
            return
        data = self.domain.io.read_block(port, size, room)
        if not data:
            return
        moved = len(data) // size
        self.mem.write(start, data, user=self.state.cpl == 3)
        e.set_reg(X.UC_X86_REG_RDI, (e.reg(X.UC_X86_REG_RDI) & ~mask) | ((di + moved * size) & mask))
        e.set_reg(X.UC_X86_REG_RCX, (e.reg(X.UC_X86_REG_RCX) & ~mask) | ((count - moved) & mask))

    def _rep_ins_at(self) -> int | None:
        """Is the instruction at CS:RIP a `rep ins`? Its address size in bytes, or
        None. Decoded once per address and code size."""
        key = (self.state.segment(CS).base + self.rip, self.state.code32, self.state.code64)
        if key not in self._ins_decoded:
            self._ins_decoded[key] = self._decode_rep_ins(key[0])
        return self._ins_decoded[key]

    def _decode_rep_ins(self, linear: int) -> int | None:
        try:
            code = self.mem.read(linear, 6)
        except Exception:                   # noqa: BLE001 - unreadable: not one we know
            return None
        long = self.state.code64
        default = 8 if long else 4 if self.state.code32 else 2
        size, rep = default, False
        for byte in code:
            if byte == 0xF3:
                rep = True
            elif byte == 0x67:                 # 64 -> 32, 32 -> 16, 16 -> 32
                size = 4 if default != 4 else 2
            elif byte in (0x66, 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65) or (long and 0x40 <= byte <= 0x4F):
                continue
            else:
                return size if rep and byte in (0x6C, 0x6D) else None
        return None

    def _io_out(self, port: int, size: int, value: int) -> bool:
        if not self._io_allowed(port, size):
            return False
        self.domain.io.write(port, size, value)
        return True


def _describe(exit: eng.Exit) -> str:
    if exit.kind == eng.EXIT_UNMAPPED:
        return f"access to unmapped physical address {exit.address:#x} ({exit.detail})"
    return f"{exit.kind}: {exit.detail or exit.vector}"
