"""Breakpoints and watchpoints as engine hooks that exist only while gdb has them set.

A breakpoint (Z0 software, Z1 hardware: the same here) is a code hook on its one
address in every vCPU's engine (code hooks see virtual addresses: linear, CS base +
EIP, for an HVM vCPU): the vCPU stops before the instruction, and guest
memory is never patched, so the guest's own int3 still goes to the guest. A
watchpoint (Z2 write, Z3 read, Z4 access) is a memory hook on its range; the vCPU
stops right after the accessing instruction, as x86 debug registers report it. The
engine checks memory hooks against physical addresses, so a watchpoint watches the
frames its range was mapped to when it was set.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from unicorn import UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE

from hvcore.gdb import guest_memory

if TYPE_CHECKING:
    from hvcore.domain import Domain
    from hvcore.gdb.target import Target
    from hvcore.vcpu import VCPU

SOFTWARE, HARDWARE, WATCH_WRITE, WATCH_READ, WATCH_ACCESS = range(5)
MAX_HARDWARE = 4                 # DR0-DR3
_HOOK_KINDS = {WATCH_WRITE: UC_HOOK_MEM_WRITE, WATCH_READ: UC_HOOK_MEM_READ,
               WATCH_ACCESS: UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE}
STOP_WORDS = {SOFTWARE: "swbreak", HARDWARE: "hwbreak", WATCH_WRITE: "watch",
              WATCH_READ: "rwatch", WATCH_ACCESS: "awatch"}


@dataclass
class Hit:
    vcpu: int
    kind: int
    address: int


@dataclass
class Point:
    kind: int
    address: int
    length: int
    hooks: list[tuple[object, int, int, int]] = field(default_factory=list)  # engine, handle, range


class Breakpoints:
    def __init__(self, dom: "Domain", target: "Target") -> None:
        self.dom = dom
        self.target = target             # linear/virtual -> physical for watchpoints
        self.points: dict[tuple[int, int, int], Point] = {}
        self.hit: Hit | None = None
        self._skip: dict[int, int] = {}      # vCPU -> breakpoint address to pass once

    def insert(self, kind: int, address: int, length: int) -> bool:
        key = (kind, address, length if kind >= WATCH_WRITE else 0)
        if key in self.points:
            return True
        if kind == HARDWARE and sum(p.kind == HARDWARE for p in self.points.values()) >= MAX_HARDWARE:
            return False
        point = Point(kind, address, max(length, 1))
        try:
            for v in self.dom.vcpus:
                self._hook(v, point)
        except guest_memory.Unmapped:
            self._unhook(point)
            return False
        self.points[key] = point
        return True

    def remove(self, kind: int, address: int, length: int) -> bool:
        point = self.points.pop((kind, address, length if kind >= WATCH_WRITE else 0), None)
        if point is None:
            return False
        self._unhook(point)
        return True

    def _unhook(self, point: Point) -> None:
        for engine, handle, begin, end in point.hooks:
            engine.remove_hook(handle, begin, end + 1)
        point.hooks.clear()
        if point.kind >= WATCH_WRITE and not any(p.kind >= WATCH_WRITE for p in self.points.values()):
            for v in self.dom.vcpus:
                v.engine.drop_insn_stop()

    def clear(self) -> None:
        for kind, address, length in list(self.points):
            self.remove(kind, address, length)

    def is_code_point(self, address: int) -> bool:
        return any(p.kind < WATCH_WRITE and p.address == address for p in self.points.values())

    def pass_once(self, vcpu: int, address: int) -> None:
        """Let vCPU `vcpu` run the instruction at `address` once without stopping
        (resuming from a breakpoint it is stopped on)."""
        self._skip[vcpu] = address

    def end_pass(self, vcpu: int) -> None:
        self._skip.pop(vcpu, None)

    def _hook(self, v: "VCPU", point: Point) -> None:
        engine, vcpu = v.engine, v.id
        if point.kind < WATCH_WRITE:
            handle = engine.add_code_hook(point.address, point.address,
                                          lambda addr: self._on_code(vcpu, point.kind, addr))
            point.hooks.append((engine, handle, point.address, point.address))
            return
        for va, size in guest_memory.pieces(point.address, point.length):
            begin = self.target.paddr(v, va)
            handle = engine.add_access_hook(_HOOK_KINDS[point.kind], begin, begin + size - 1,
                                            lambda _a, _addr, _s: self._on_access(vcpu, point))
            point.hooks.append((engine, handle, begin, begin + size - 1))

    def _on_code(self, vcpu: int, kind: int, address: int) -> bool:
        if self._skip.get(vcpu) == address:
            del self._skip[vcpu]
            return False
        if self.hit is None:
            self.hit = Hit(vcpu, kind, address)
        return True

    def _on_access(self, vcpu: int, point: Point) -> bool:
        if self.hit is None:
            self.hit = Hit(vcpu, point.kind, point.address)
        return True
