"""The one wrapper around the Unicorn engine.

Everything the hypervisor asks of the CPU emulator goes through `Engine`: memory maps,
registers, privilege changes, and `run()`, which executes guest code until it traps.

Hooks here only *record* why the guest stopped and stop the engine; the vCPU run loop
does the emulation afterwards. Measured on unicorn 2.1.4 (tests/test_engine_facts.py):
handling a fault inside the hook and writing RIP there costs ~46 us (the engine throws
away its translation state), while stop + restart costs ~4.5 us.

Two pieces of the engine's internal CPU state are reached directly (see `_LiveCpuState`):
- `old_exception`: QEMU remembers the last contributory fault until it is delivered
  through an IDT, which Unicorn never does; left alone, the guest's second trapped
  instruction escalates to #DF. We clear it on every trap and before every run.
- `hflags` CPL bits: `reg_write(CS/SS)` checks descriptors against the current CPL, so
  to move the vCPU between rings (kernel ring 1 <-> user ring 3 for 32-bit PV) we set
  the CPL first, then load SS and CS, exactly what a gate or iret does in hardware.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import struct
import threading
import time

from dataclasses import dataclass, field
from typing import Callable

from unicorn import (UC_ARCH_X86, UC_CTL_IO_WRITE, UC_CTL_TLB_FLUSH, UC_ERR_OK, UC_HOOK_CODE,
                     UC_HOOK_INSN, UC_HOOK_INSN_INVALID,
                     UC_HOOK_INTR, UC_HOOK_MEM_FETCH_UNMAPPED, UC_HOOK_MEM_READ_UNMAPPED,
                     UC_HOOK_MEM_WRITE_UNMAPPED, UC_MODE_64, UC_PROT_ALL, UC_PROT_EXEC,
                     UC_PROT_READ, Uc, UcError)
from unicorn import x86_const as X

# Offsets inside the saved context blob of unicorn 2.1.x, checked at start-up by
# `_LiveCpuState._calibrate` (a wrong guess is refused, never used).
_CTX_ENV_START = 40          # context header size: env (CPUX86State) copy starts here
_ENV_HFLAGS = 176            # CPUX86State.hflags
_ENV_OLD_EXCEPTION = 5496    # CPUX86State.old_exception

HF_CPL_MASK = 3
HF_CS32_MASK = 1 << 4
HF_SS32_MASK = 1 << 5
HF_CS64_MASK = 1 << 15
IRETQ = b"\x48\xcf"


from unicorn.unicorn_py3.unicorn import uclib as _uclib

_uc_reg_read = _uclib.uc_reg_read
_uc_reg_write = _uclib.uc_reg_write
_uc_reg_read_batch = _uclib.uc_reg_read_batch
_uc_emu_start = _uclib.uc_emu_start


class RegisterBatch:
    """Several integer registers read in one call into the engine (a hypercall's number
    and arguments: one C call instead of six)."""

    def __init__(self, names: tuple[int, ...]) -> None:
        count = len(names)
        self.count = count
        self.ids = (ctypes.c_int * count)(*names)
        self.values = (ctypes.c_uint64 * count)()
        self.ptrs = (ctypes.c_void_p * count)(
            *(ctypes.addressof(self.values) + 8 * i for i in range(count)))


class EngineError(Exception):
    """The engine cannot be used as this project needs (wrong version, layout changed)."""


# Why `Engine.run` returned.
EXIT_TIMEOUT = "timeout"        # time slice over; guest still runnable
EXIT_TRAP = "trap"              # exception or `int N`: vector in Exit.vector
EXIT_SYSCALL = "syscall"        # `syscall` (or, detail SYSENTER, `sysenter`); RIP past it
SYSENTER = "sysenter"
EXIT_INVALID = "invalid"        # invalid opcode (ud2, vmcall...): RIP on it
EXIT_UNMAPPED = "unmapped"      # access to a physical address with nothing behind it
EXIT_HOOK_ERROR = "hook_error"  # a bug in one of our hooks (cause in Exit.detail)
EXIT_ENGINE_ERROR = "engine_error"  # the engine refused to go on (UcError)
EXIT_STOPPED = "stopped"        # someone asked us to stop (kick)
EXIT_IO_DENIED = "io_denied"    # in/out the guest may not do: address = the instruction


@dataclass
class Exit:
    kind: str
    vector: int = -1
    address: int = 0
    detail: str = ""


@dataclass
class _Pending:
    exit: Exit | None = None


class _LiveCpuState:
    """Direct access to two fields of the engine's live CPU state (see module doc)."""

    def __init__(self, uc: Uc) -> None:
        env = self._find_env(uc)
        self.old_exception = ctypes.c_int32.from_address(env + _ENV_OLD_EXCEPTION)
        self.hflags = ctypes.c_uint32.from_address(env + _ENV_HFLAGS)
        self._calibrate(uc)

    @staticmethod
    def _find_env(uc: Uc) -> int:
        """Locate the engine's CPUX86State by a register signature.

        RAX, RCX, RDX, RBX are the first four words of the structure. We write four
        unlikely values there, scan our own writable mappings through /proc/self/mem
        (safe: unreadable pages give an error, not a fault) and keep the one hit that
        follows a further register write. The scan takes ~0.5 s, so where it found the
        state is remembered as a path from the engine handle (a pointer field of the
        uc_struct and a distance from it), and tried first next time, in any process;
        the same signature check decides whether the remembered path still holds.
        """
        regs = (X.UC_X86_REG_RAX, X.UC_X86_REG_RCX, X.UC_X86_REG_RDX, X.UC_X86_REG_RBX)
        magic = [0x48A1C3E5F7092B4D ^ (i * 0x1111111111111111) for i in range(4)]
        for reg, value in zip(regs, magic):
            uc.reg_write(reg, value)
        pattern = struct.pack("<4Q", *magic)
        try:
            hinted = _env_by_hint(uc)
            if hinted is not None and _is_live_env(uc, hinted, pattern, magic[0]):
                return hinted
            live = [addr for addr in _scan_own_memory(pattern)
                    if _is_live_env(uc, addr, pattern, magic[0])]
            if len(live) != 1:
                raise EngineError(f"cannot locate the engine's CPU state ({len(live)} candidates)")
            _remember_hint(uc, live[0])
            return live[0]
        finally:
            for reg in regs:
                uc.reg_write(reg, 0)

    def _calibrate(self, uc: Uc) -> None:
        """Check the field offsets against a saved context before trusting them."""
        ctx = uc.context_save()
        base = ctypes.cast(ctx.context, ctypes.c_void_p).value + _CTX_ENV_START
        saved_hflags = ctypes.c_uint32.from_address(base + _ENV_HFLAGS).value
        saved_old_exc = ctypes.c_int32.from_address(base + _ENV_OLD_EXCEPTION).value
        cs_rpl = uc.reg_read(X.UC_X86_REG_CS) & 3
        pe = (saved_hflags >> 7) & 1   # HF_PE_MASK: UC_MODE_64 starts in protected mode
        if saved_hflags != self.hflags.value or pe != 1 or (saved_hflags & 3) != cs_rpl:
            raise EngineError("unsupported unicorn build: CPU state layout differs")
        if saved_old_exc != -1 or self.old_exception.value != -1:
            raise EngineError("unsupported unicorn build: exception state layout differs")

    @property
    def cpl(self) -> int:
        return self.hflags.value & HF_CPL_MASK


_HINT_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "native", "build",
                          "cpu-state-hint.json")
_UC_STRUCT_SPAN = 1 << 16        # how much of the uc_struct to search for the pointer
_ENV_MAX_DISTANCE = 1 << 18      # the state lies this close after what the pointer names


def _read_own(addr: int, length: int) -> bytes | None:
    try:
        fd = os.open("/proc/self/mem", os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.pread(fd, length, addr)
    except OSError:
        return None
    finally:
        os.close(fd)


def _is_live_env(uc: Uc, addr: int, pattern: bytes, rax: int) -> bool:
    """The signature is there, and a register write shows up there at once."""
    if _read_own(addr, len(pattern)) != pattern:
        return False
    uc.reg_write(X.UC_X86_REG_RAX, 0x5A5A)
    live = ctypes.c_uint64.from_address(addr).value == 0x5A5A
    uc.reg_write(X.UC_X86_REG_RAX, rax)
    return live


def _handle(uc: Uc) -> int:
    return ctypes.cast(uc._uch, ctypes.c_void_p).value


def _env_by_hint(uc: Uc) -> int | None:
    import json
    try:
        with open(_HINT_FILE) as f:
            hint = json.load(f)
        field_offset, distance = int(hint["field"]), int(hint["distance"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    word = _read_own(_handle(uc) + field_offset, 8)
    return None if word is None or len(word) != 8 else struct.unpack("<Q", word)[0] + distance


def _remember_hint(uc: Uc, env: int) -> None:
    """Find a pointer in the uc_struct that leads to `env` and save it (best effort)."""
    import json
    data = _read_own(_handle(uc), _UC_STRUCT_SPAN) or b""
    for field_offset in range(0, len(data) - 7, 8):
        pointer = struct.unpack_from("<Q", data, field_offset)[0]
        if 0 <= env - pointer < _ENV_MAX_DISTANCE:
            try:
                os.makedirs(os.path.dirname(_HINT_FILE), exist_ok=True)
                tmp = f"{_HINT_FILE}.{os.getpid()}"
                with open(tmp, "w") as f:
                    json.dump({"field": field_offset, "distance": env - pointer}, f)
                os.replace(tmp, _HINT_FILE)
            except OSError:
                pass
            return


def _scan_own_memory(pattern: bytes) -> list[int]:
    hits: list[int] = []
    fd = os.open("/proc/self/mem", os.O_RDONLY)
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                fields = line.split()
                lo, hi = (int(x, 16) for x in fields[0].split("-"))
                # Skip big regions: the engine's translation cache and guest RAM.
                if not fields[1].startswith("rw") or hi - lo > (256 << 20):
                    continue
                try:
                    data = os.pread(fd, hi - lo, lo)
                except OSError:
                    continue
                at = data.find(pattern)
                while at >= 0:
                    hits.append(lo + at)
                    at = data.find(pattern, at + 1)
    finally:
        os.close(fd)
    return hits


class _ExitRecord(ctypes.Structure):
    """struct hv_exit (hvcore/native/exits.c): what the C exit hooks saw in this run."""
    _fields_ = [("kind", ctypes.c_int32), ("vector", ctypes.c_int32), ("cr2", ctypes.c_uint64),
                ("old_exception", ctypes.c_void_p), ("stop", ctypes.c_void_p),
                ("reg_read", ctypes.c_void_p), ("cr2_id", ctypes.c_int32)]


TCG_BUFFER_BYTES = 32 << 20     # the engine's translated-code buffer, per vCPU
_C_EXIT_TRAP, _C_EXIT_SYSCALL, _C_EXIT_PYTHON = 1, 2, 3   # 3: a Python hook's exit came first


class Engine:
    """One x86 CPU (a vCPU) in long mode, with its own view of physical memory."""

    def __init__(self) -> None:
        self.uc = Uc(UC_ARCH_X86, UC_MODE_64)
        # Before anything else touches the engine (it sizes its code buffer on first
        # use): translated code is bump-allocated and only reclaimed when the buffer is
        # full, so the default 1 GiB lets a long-lived vCPU's RSS grow by MBs a second
        # (each re-entry drops and retranslates a block). Full, it starts over.
        self.uc.ctl_set_tcg_buffer_size(TCG_BUFFER_BYTES)
        self.cpu = _LiveCpuState(self.uc)
        self._pending = _Pending()
        self.hook_error: str | None = None
        # given a physical address nothing maps: map something there and retry (True),
        # or let the run end as EXIT_UNMAPPED (HVM's open bus: hvcore/hvm/open_bus.py)
        self.on_unmapped: Callable[[int], bool] | None = None
        self.stop_address = 0      # an address that is mapped and never executed
        # where the ring-0 entry stub and its frame live (set by the domain builder)
        self.iret_stub = 0
        self.iret_frame_virt = 0
        self.iret_frame_paddr = 0
        self._inline_hooks: list = []
        self._insn_stop_hook = 0           # only while a watchpoint exists
        # the instruction counter of a deterministic run (hvcore/replay/clock.py)
        self.icount = None
        self._uch_raw = self.uc._uch
        self._reg_buf = ctypes.c_uint64()
        self._reg_ref = ctypes.byref(self._reg_buf)
        self._install_hooks()
        self._install_preemption()

    # ---- memory -------------------------------------------------------------------
    def map_host_memory(self, paddr: int, size: int, host_addr: int,
                        writable: bool = True) -> None:
        """Map `size` bytes of host memory (e.g. a memfd mapping) at guest-physical paddr
        (not `writable`: a store raises UC_HOOK_MEM_WRITE_PROT hooks, see hvm/mmio.py)."""
        prot = UC_PROT_ALL if writable else UC_PROT_READ | UC_PROT_EXEC
        self.uc.mem_map_ptr(paddr, size, prot, host_addr)

    def flush_tlb(self) -> None:
        self.uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)

    # ---- registers ----------------------------------------------------------------
    # Integer registers go straight to the C API with one reused buffer: the binding's
    # reg_read costs ~4.7 us a call, and a hypercall reads half a dozen registers.
    def reg(self, name: int) -> int:
        value = self._reg_buf
        value.value = 0          # 16-bit registers (selectors) fill only the low bytes
        _uc_reg_read(self._uch_raw, name, self._reg_ref)
        return value.value

    def regs(self, batch: RegisterBatch) -> list[int]:
        """The registers of `batch` (64-bit general registers only: each is written
        whole), in its order."""
        status = _uc_reg_read_batch(self._uch_raw, batch.ids, batch.ptrs, batch.count)
        if status:
            raise UcError(status)
        return batch.values[:]

    def set_reg(self, name: int, value: int) -> None:
        self._reg_buf.value = value & 0xFFFF_FFFF_FFFF_FFFF
        status = _uc_reg_write(self._uch_raw, name, self._reg_ref)
        if status:
            raise UcError(status)

    def reg_bytes(self, name: int, size: int) -> bytes:
        """A wide register as the engine stores it, little-endian (x87 ST: 10 bytes,
        XMM: 16); the binding's reg_read drops an ST register's exponent."""
        buf = ctypes.create_string_buffer(64)
        status = _uc_reg_read(self._uch_raw, name, buf)
        if status:
            raise UcError(status)
        return buf.raw[:size]

    def set_reg_bytes(self, name: int, data: bytes) -> None:
        buf = ctypes.create_string_buffer(bytes(data).ljust(64, b"\0"), 64)
        status = _uc_reg_write(self._uch_raw, name, buf)
        if status:
            raise UcError(status)

    def iret_to(self, rip: int, cs: int, rflags: int, rsp: int, ss: int) -> None:
        """Enter guest code the way Xen does: a real `iretq` run by a ring-0 stub.

        The engine loads CS and SS from their descriptors, so the CPL, the code size
        (64-bit or compat) and the segment caches are all what the hardware would have.
        `reg_write(CS)` cannot do this in 64-bit mode: it sets the selector only.
        We put the vCPU in ring 0 with 64-bit code to run the stub, and stop exactly at
        the guest's first instruction (`until` = target; its cached block is dropped so
        that the stop is honoured).
        """
        if not self.iret_stub:
            raise EngineError("no iret stub mapped")
        hflags = self.cpu.hflags
        hflags.value = (hflags.value & ~HF_CPL_MASK) | HF_CS64_MASK | HF_CS32_MASK | HF_SS32_MASK
        self.uc.mem_write(self.iret_frame_paddr, struct.pack("<5Q", rip, cs, rflags, rsp, ss))
        self.uc.reg_write(X.UC_X86_REG_RSP, self.iret_frame_virt)
        self.cpu.old_exception.value = -1
        self.uc.ctl_remove_cache(rip, rip + 1)
        cr2 = self.uc.reg_read(X.UC_X86_REG_CR2)
        # A kick (slice end) would stop the stub before its iretq: set it aside, and
        # give it back once we have landed so the slice still ends on time.
        kicked = self._preempt[0]
        for _attempt in range(4):
            self._preempt[0] = 0
            self._clear_exit()
            # A stop before the iretq may leave the engine's probe #PF "in flight" with
            # no hook called (hooks are skipped once a stop is pending): clear it, or the
            # landing's probe fault becomes a #DF.
            self.cpu.old_exception.value = -1
            try:
                self.uc.emu_start(self.iret_stub, rip)
            except UcError as err:
                raise EngineError(f"guest entry by iret to {cs:#x}:{rip:#x} failed: {err}")
            if self.uc.reg_read(X.UC_X86_REG_RIP) != self.iret_stub:
                break
            kicked = 1                      # stopped before the iretq ran: again
        if kicked:
            self._preempt[0] = 1
        self.cpu.old_exception.value = -1
        landed = self.uc.reg_read(X.UC_X86_REG_RIP) == rip
        exit = self._take_exit()
        # Stopping at `until` makes the engine probe the byte before it; where that is
        # unmapped it reports a #PF there although no guest instruction has run.
        # (The fault address is that byte, or its page when the probe wraps below 0.)
        probe = (rip - 1) & ((1 << 64) - 1)
        if landed and exit is not None and exit.kind == EXIT_TRAP and exit.vector == 14 \
                and self.uc.reg_read(X.UC_X86_REG_CR2) in (probe, probe & ~0xFFF):
            self.uc.reg_write(X.UC_X86_REG_CR2, cr2)
            self._clear_exit()
            exit = None
        if exit is not None or not landed:
            raise EngineError(f"guest entry by iret to {cs:#x}:{rip:#x} faulted ({exit})")

    @property
    def cpl(self) -> int:
        return self.cpu.cpl

    # ---- running ------------------------------------------------------------------
    def run(self, rip: int) -> Exit:
        """Run from `rip` until a trap or a kick (the slice timer's, or anyone's)."""
        self._clear_exit()
        self.cpu.old_exception.value = -1
        # straight to the C API: our hooks never raise into the binding (see _guarded)
        status = _uc_emu_start(self._uch_raw, rip, self.stop_address, 0, 0)
        exit = self._take_exit()
        if status != UC_ERR_OK and exit is None:
            return Exit(EXIT_ENGINE_ERROR, detail=str(UcError(status)),
                        address=self.uc.reg_read(X.UC_X86_REG_RIP))
        self.cpu.old_exception.value = -1
        return exit or Exit(EXIT_TIMEOUT)

    @contextlib.contextmanager
    def time_slice(self, slice_us: int):
        """Kick this engine `slice_us` from now, however many runs the slice takes."""
        token = _SLICE_TIMER.arm(self, slice_us)
        try:
            yield
        finally:
            _SLICE_TIMER.disarm(token)

    def watch_doorbell(self, address: int) -> None:
        """Stop at the next block boundary whenever the 32-bit word at `address` (the
        domain's inbox doorbell, in shared memory) is non-zero."""
        from hvcore.native import preempt_library
        preempt_library().hv_preempt_set_doorbell(self._uch, address)

    def kick(self) -> None:
        """Stop the running guest at its next block boundary (from any thread).

        Never `emu_stop()` from another thread: the engine may then resume a block from
        its start and repeat instructions already done (unicorn issue #1105; we saw
        memory adds applied twice). The C block hook stops cleanly instead."""
        self._preempt[0] = 1

    def _install_preemption(self) -> None:
        from unicorn import UC_HOOK_BLOCK
        from hvcore.native import preempt_library
        lib = preempt_library()
        uch = ctypes.cast(self.uc._uch, ctypes.c_void_p)
        self._preempt = lib.hv_preempt_register(uch)
        if not self._preempt:
            raise EngineError("too many engines in one process for the preemption hook")
        hook_type = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint32,
                                     ctypes.c_void_p)
        self._block_hook = hook_type(("hv_block_hook", lib))
        self.uc._Uc__do_hook_add(UC_HOOK_BLOCK, self._block_hook, 1, 0)
        self._uch = uch

    def close(self) -> None:
        from hvcore.native import preempt_library
        preempt_library().hv_preempt_unregister(self._uch)

    # ---- debugger support (hooks exist only while a breakpoint/watchpoint does) ----
    def step(self, rip: int) -> Exit:
        """Run exactly one guest instruction (gdb's stepi). `count` makes the engine add
        a per-instruction hook of its own, for this call only (the next `run` drops it)."""
        self._preempt[0] = 0
        self._clear_exit()
        self.cpu.old_exception.value = -1
        try:
            self.uc.emu_start(rip, self.stop_address, count=1)
        except UcError as err:
            if self._take_exit() is None:
                return Exit(EXIT_ENGINE_ERROR, detail=str(err),
                            address=self.uc.reg_read(X.UC_X86_REG_RIP))
        self.cpu.old_exception.value = -1
        if self._insn_stop_hook:
            self._stop_next[0] = 0          # a watched access in this step: stopped anyway
        return self._take_exit() or Exit(EXIT_TIMEOUT)

    def add_code_hook(self, begin: int, end: int, fn) -> int:
        """`fn(address) -> bool` before each instruction in [begin, end]; True stops the
        vCPU on that instruction, not executed. Blocks translated before the hook
        existed do not call it: they are dropped here."""
        def on_code(address: int, _size: int) -> None:
            if fn(address):
                if self.icount is not None:
                    self.icount.uncount()    # counted first, yet it will not run now
                self.uc.emu_stop()
        handle = self.uc.hook_add(UC_HOOK_CODE, self._guarded(on_code), None, begin, end)
        self.drop_code_cache(begin, end + 1)
        return handle

    def add_access_hook(self, kinds: int, begin: int, end: int, fn) -> int:
        """`fn(access, address, size) -> bool` on guest accesses (virtual addresses) in
        [begin, end]; True stops the vCPU right after the accessing instruction."""
        if not self._insn_stop_hook:
            self._install_insn_stop()

        def on_access(access: int, address: int, size: int, _value: int) -> bool:
            if fn(access, address, size):
                self._stop_next[0] = 1
            return True
        handle = self.uc.hook_add(kinds, self._guarded(on_access, result=True), None, begin, end)
        self.flush_tlb()        # cached translations take the fast path, past the hooks
        return handle

    def remove_hook(self, handle: int, begin: int = 0, end: int = 0) -> None:
        self.uc.hook_del(handle)
        if end > begin:
            self.drop_code_cache(begin, end)

    def add_native_hook(self, kind: int, fn, user_data: int, begin: int, end: int) -> int:
        """A C callback `fn` (a ctypes function) with our own `user_data` pointer, for
        [begin, end] (tracing: hvcore/trace/native.py). Translated code is dropped so
        that every block calls it from now on."""
        from unicorn.unicorn_py3.unicorn import uc_hook_h, uclib
        handle = uc_hook_h()
        status = uclib.uc_hook_add(self.uc._uch, ctypes.byref(handle), kind, fn,
                                   ctypes.c_void_p(user_data), ctypes.c_uint64(begin),
                                   ctypes.c_uint64(end))
        if status != UC_ERR_OK:
            raise UcError(status)
        self.uc._callbacks[handle.value] = fn      # kept alive; hook_del forgets it
        self.uc.ctl_flush_tb()
        return handle.value

    def remove_native_hook(self, handle: int) -> None:
        self.uc.hook_del(handle)
        self.uc.ctl_flush_tb()

    def drop_insn_stop(self) -> None:
        """The last access hook is gone: drop the per-instruction stop hook too."""
        if self._insn_stop_hook:
            self.uc.hook_del(self._insn_stop_hook)
            self._insn_stop_hook = 0
            self.uc.ctl_flush_tb()

    def drop_code_cache(self, begin: int, end: int) -> None:
        """Forget translated code in [begin, end) (code patched, hooks changed)."""
        self.uc.ctl_remove_cache(begin, end)

    def _install_insn_stop(self) -> None:
        from hvcore.native import preempt_library
        lib = preempt_library()
        self._stop_next = lib.hv_stop_next_flag(self._uch)
        hook_type = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint32,
                                     ctypes.c_void_p)
        self._insn_hook_fn = hook_type(("hv_insn_hook", lib))
        self._insn_stop_hook = self.uc._Uc__do_hook_add(UC_HOOK_CODE, self._insn_hook_fn, 1, 0)
        self.uc.ctl_flush_tb()

    # ---- hooks: record, stop, never raise --------------------------------------------
    def _install_hooks(self) -> None:
        uc = self.uc
        self._install_exit_hooks()
        uc.hook_add(UC_HOOK_INSN_INVALID, self._guarded(self._on_invalid, result=True))
        uc.hook_add(UC_HOOK_MEM_READ_UNMAPPED | UC_HOOK_MEM_WRITE_UNMAPPED
                    | UC_HOOK_MEM_FETCH_UNMAPPED, self._guarded(self._on_unmapped, result=False))

    def add_inline_insn_hook(self, insn: int, fn) -> None:
        """Run `fn()` in place of instruction `insn` (cpuid, rdtsc, rdtscp), inline.

        No stop/restart: `fn` writes the result registers and the guest goes on. The
        Python binding only accepts CPUID here, so the same callback type is registered
        for the others through its registration function (the C side supports them).
        """
        from unicorn.unicorn_py3.arch import intel
        guarded = self._guarded(lambda: fn() or True, result=True)

        @intel.uccallback(self.uc, intel.HOOK_INSN_CPUID_CFUNC)
        def callback(uc, _key):
            return 1 if guarded(uc, None) else 0

        self._inline_hooks.append(callback)   # keep the C callback alive
        self.uc._Uc__do_hook_add(UC_HOOK_INSN, callback, 1, 0, insn)

    def set_io_handlers(self, io_in, io_out) -> None:
        """Port I/O: the engine never faults `in`/`out` (it skips the permission check),
        so every access comes here. `io_in(port, size) -> value | None` and
        `io_out(port, size, value) -> bool`; None/False means refused: the vCPU stops on
        the instruction and the run loop raises #GP, as the CPU would have."""
        sizes = {1: X.UC_X86_REG_AL, 2: X.UC_X86_REG_AX, 4: X.UC_X86_REG_EAX}

        def on_in(port: int, size: int) -> int:
            value = io_in(port, size)
            if value is None:
                self._deny_io()
                return self.uc.reg_read(sizes.get(size, X.UC_X86_REG_EAX))
            return value

        def on_out(port: int, size: int, value: int) -> None:
            if not io_out(port, size, value):
                self._deny_io()

        self.uc.hook_add(UC_HOOK_INSN, self._guarded(on_in, result=0), None, 1, 0,
                         X.UC_X86_INS_IN)
        self.uc.hook_add(UC_HOOK_INSN, self._guarded(on_out), None, 1, 0, X.UC_X86_INS_OUT)

    def _deny_io(self) -> None:
        self._record(Exit(EXIT_IO_DENIED, address=self.uc.reg_read(X.UC_X86_REG_RIP)))

    def _guarded(self, fn, result=None):
        """Unicorn swallows exceptions from hooks: catch, record, stop the vCPU."""
        def hook(uc, *args):
            try:
                return fn(*args[:-1])
            except BaseException as err:   # noqa: BLE001 - must never escape into the engine
                from hvcore.crash import describe_bug
                self.hook_error = describe_bug(err)
                self._pending.exit = Exit(EXIT_HOOK_ERROR, detail=self.hook_error)
                uc.emu_stop()
                return result
        return hook

    def _record(self, exit: Exit) -> None:
        """The first exit of a run stands, whichever hook (C or Python) saw it."""
        pending = self._pending.exit
        if not self._exit_record.kind and (pending is None or pending.kind == EXIT_STOPPED):
            self._pending.exit = exit
            if exit.kind != EXIT_STOPPED:
                self._exit_record.kind = _C_EXIT_PYTHON      # the C hooks keep off
        self.cpu.old_exception.value = -1
        self.uc.emu_stop()

    def _install_exit_hooks(self) -> None:
        """Traps and `syscall` exits are recorded by C hooks (hvcore/native/exits.c):
        no Python runs inside the engine on a hypercall or a trap. They read CR2 for a
        #PF at once (the engine may overwrite it while it stops) and clear the
        exception in flight, as `_record` does."""
        from hvcore.native import exits_library
        lib = exits_library()
        rec = self._exit_record = _ExitRecord()
        rec.old_exception = ctypes.addressof(self.cpu.old_exception)
        rec.stop = ctypes.cast(_uclib.uc_emu_stop, ctypes.c_void_p).value
        rec.reg_read = ctypes.cast(_uclib.uc_reg_read, ctypes.c_void_p).value
        rec.cr2_id = X.UC_X86_REG_CR2
        intr_type = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p)
        insn_type = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
        self._c_hooks = (intr_type(("hv_intr_exit", lib)), insn_type(("hv_syscall_exit", lib)),
                         insn_type(("hv_sysenter_exit", lib)))
        user = ctypes.addressof(rec)
        self._add_c_hook(UC_HOOK_INTR, self._c_hooks[0], user)
        self._add_c_hook(UC_HOOK_INSN, self._c_hooks[1], user, X.UC_X86_INS_SYSCALL)

    def exit_on_sysenter(self) -> None:
        """`sysenter` ends the run as a syscall exit too (detail SYSENTER). The engine never
        carries it out (nor `syscall`): an HVM guest's is emulated
        (hvcore/arch/x86/hvm/fast_syscall.py)."""
        self._add_c_hook(UC_HOOK_INSN, self._c_hooks[2], ctypes.addressof(self._exit_record),
                         X.UC_X86_INS_SYSENTER)

    def _add_c_hook(self, kind: int, fn, user_data: int, *extra: int) -> None:
        from unicorn.unicorn_py3.unicorn import uc_hook_h
        handle = uc_hook_h()
        args = [ctypes.c_int(x) for x in extra]
        status = _uclib.uc_hook_add(self.uc._uch, ctypes.byref(handle), kind, fn,
                                    ctypes.c_void_p(user_data), ctypes.c_uint64(1),
                                    ctypes.c_uint64(0), *args)
        if status != UC_ERR_OK:
            raise UcError(status)

    def _clear_exit(self) -> None:
        self._pending.exit = None
        self._exit_record.kind = 0

    def _take_exit(self) -> Exit | None:
        """The exit this run ended with: a hook bug first, then what the C hooks saw,
        then what the Python hooks recorded."""
        rec, pending = self._exit_record, self._pending.exit
        if pending is not None and pending.kind == EXIT_HOOK_ERROR:
            return pending
        if rec.kind == _C_EXIT_TRAP:
            return Exit(EXIT_TRAP, vector=rec.vector, address=rec.cr2)
        if rec.kind == _C_EXIT_SYSCALL:       # exits.c: vector 1 for sysenter
            return Exit(EXIT_SYSCALL, detail=SYSENTER if rec.vector == 1 else "")
        return pending

    def _on_invalid(self) -> bool:
        self._record(Exit(EXIT_INVALID, vector=6))
        return True

    def _on_unmapped(self, access: int, address: int, size: int, value: int) -> bool:
        if self.on_unmapped is not None and self.on_unmapped(address):
            return True
        self._record(Exit(EXIT_UNMAPPED, address=address, detail=f"access={access} size={size}"))
        return False


class _SliceTimer:
    """One thread per process that ends time slices by setting the engines' preempt
    flags (the C block hook then stops them cleanly); it never touches an engine."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._deadlines: dict[int, tuple[float, Engine]] = {}
        self._next = 0
        self._waiting_until: float | None = None    # when the thread wakes next (None: never)
        self._thread: threading.Thread | None = None

    def arm(self, engine: "Engine", timeout_us: int) -> int:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="hv-slices", daemon=True)
                self._thread.start()
            self._next += 1
            deadline = time.monotonic() + timeout_us / 1e6
            self._deadlines[self._next] = (deadline, engine)
            if self._waiting_until is None or deadline < self._waiting_until:
                self._lock.notify()     # else it wakes in time anyway: no thread switch
            return self._next

    def disarm(self, token: int) -> None:
        with self._lock:
            self._deadlines.pop(token, None)

    def _loop(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                for token, (deadline, engine) in list(self._deadlines.items()):
                    if deadline <= now:
                        engine.kick()
                        del self._deadlines[token]
                soonest = min((d for d, _ in self._deadlines.values()), default=None)
                self._waiting_until = soonest
                self._lock.wait(None if soonest is None else max(0.0, soonest - now))


_SLICE_TIMER = _SliceTimer()
