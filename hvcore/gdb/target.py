"""What the stub asks of a domain's vCPUs, for the two kinds of domain.

A PV vCPU is shown as Xen shows it (registers.py, guest_memory.py: the guest's view of
a de-privileged kernel); an HVM or PVH vCPU is the PC's CPU as it is, in whatever mode
it has climbed to (hvm.py). The server, the packets and the breakpoints are the same
for both; they go through a `Target` for everything that differs.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from hvcore.gdb import guest_memory, monitor, registers

if TYPE_CHECKING:
    from hvcore.domain import Domain
    from hvcore.gdb.breakpoints import Breakpoints
    from hvcore.replay.checkpoints import Reverser


class Target(Protocol):
    def layout(self, v) -> registers.Layout: ...
    def read_register(self, v, r: registers.Reg) -> bytes: ...
    def write_register(self, v, r: registers.Reg, data: bytes) -> bool: ...
    def read_memory(self, v, addr: int, length: int) -> bytes: ...
    def write_memory(self, v, addr: int, data: bytes) -> None: ...
    def paddr(self, v, addr: int) -> int: ...
    def pc(self, v) -> int: ...
    def step(self, v, points: "Breakpoints") -> None: ...
    def thread_info(self, v) -> str: ...
    def monitor(self, line: str) -> str: ...
    def reverser(self) -> "Reverser | None": ...


class PvTarget:
    """A PV domain (hvcore/domain.py)."""

    def __init__(self, dom: "Domain") -> None:
        self.dom = dom

    def layout(self, v) -> registers.Layout:
        return registers.layout_for(v)

    def read_register(self, v, r: registers.Reg) -> bytes:
        return registers.read(v, r)

    def write_register(self, v, r: registers.Reg, data: bytes) -> bool:
        return registers.write(v, r, data)

    def read_memory(self, v, addr: int, length: int) -> bytes:
        return guest_memory.read(v, addr, length)

    def write_memory(self, v, addr: int, data: bytes) -> None:
        guest_memory.write(v, addr, data)

    def paddr(self, v, addr: int) -> int:
        return guest_memory.paddr(v, addr)

    def pc(self, v) -> int:
        return v.rip

    def step(self, v, points: "Breakpoints") -> None:
        from hvcore import engine as eng
        from hvcore.arch.x86.pv import traps
        from hvcore.scheduler import apply_requests
        if not v.runnable():
            return
        apply_requests(self.dom)      # as before any run: nothing pending stops the step
        points.pass_once(v.id, v.rip)
        exit = v.engine.step(v.rip)
        points.end_pass(v.id)
        if exit.kind not in (eng.EXIT_TIMEOUT, eng.EXIT_STOPPED):
            v.traps_taken += 1
            traps.handle_exit(v, exit)

    def thread_info(self, v) -> str:
        mode = "kernel" if v.in_kernel() else "user"
        return f"vcpu{v.id} ({mode}{', blocked' if v.state.blocked else ''})"

    def monitor(self, line: str) -> str:
        return monitor.run(self.dom, line)

    def reverser(self) -> "Reverser | None":
        return self.dom.replay.reverser if self.dom.replay is not None else None


def target_for(dom) -> Target:
    from hvcore.hvm.domain import HvmDomain
    if isinstance(dom, HvmDomain):
        from hvcore.gdb.hvm import HvmTarget
        return HvmTarget(dom)
    return PvTarget(dom)
