"""A domain: its memory, its vCPUs, and what it has told the hypervisor.

Nothing here knows which OS process the domain runs in: the supervisor that creates
domains (the `hv` tools) drives `Domain.run()` wherever it lives.
"""
from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from hvcore.memory import FrameAllocator, MemoryRegion, PhysicalMemory, PAGE_SHIFT, PAGE_SIZE
from hvcore.time import DomainTime

if TYPE_CHECKING:
    from hvcore.gdb.server import GdbServer
    from hvcore.grant_table import GrantFrames, Maptrack
    from hvcore.host.peers import HostLink
    from hvcore.inbox import Inbox
    from hvcore.replay.record import Session as ReplaySession
    from hvcore.trace.tracer import Tracer
    from hvcore.vcpu import VCPU

# Why a domain stopped running (xl's words).
SHUTDOWN_POWEROFF = "poweroff"
SHUTDOWN_REBOOT = "reboot"
SHUTDOWN_SUSPEND = "suspend"
SHUTDOWN_CRASH = "crash"
SHUTDOWN_WATCHDOG = "watchdog"
SHUTDOWN_SOFT_RESET = "soft_reset"
SHUTDOWN_REASONS = [SHUTDOWN_POWEROFF, SHUTDOWN_REBOOT, SHUTDOWN_SUSPEND, SHUTDOWN_CRASH,
                    SHUTDOWN_WATCHDOG, SHUTDOWN_SOFT_RESET]


@dataclass
class HypercallRecord:
    vcpu: int
    nr: int
    name: str
    args: tuple[int, ...]
    result: int | None = None


@dataclass
class Domain:
    domid: int
    name: str
    is_64bit: bool
    mem: PhysicalMemory
    ram: MemoryRegion
    hv_region: MemoryRegion
    frames: FrameAllocator
    nr_pages: int
    max_pages: int
    console_write: Callable[[bytes], None]
    cmdline: str = ""
    vcpus: list["VCPU"] = field(default_factory=list)
    shared_info_paddr: int = 0
    start_info_paddr: int = 0
    console_pfn: int = 0
    store_pfn: int = 0
    console_evtchn: int = 0
    store_evtchn: int = 0
    vm_assist: int = 0
    shutdown_reason: str | None = None
    crash_report: str | None = None
    hypercall_log: collections.deque = field(default_factory=lambda: collections.deque(maxlen=16))
    created_at: float = field(default_factory=time.monotonic)
    symbols: dict[str, int] = field(default_factory=dict)
    time: DomainTime = field(default_factory=DomainTime)
    # hypervisor frames the builder sets up (machine addresses)
    m2p_paddr: int = 0
    compat_m2p_paddr: int = 0
    hv_l4_entries: dict[int, int] = field(default_factory=dict)
    gdt_l1_paddr: int = 0
    zero_page: int = 0
    xen_gdt_page: int = 0
    console_out_total: int = 0
    invalid_m2p_page: int = 0
    iret_frames: int = 0
    shutdown_code: int | None = None
    # set when another process (dom0) serves the console and xenstore rings: called
    # when the guest notifies one of those ports
    backend_notify: Callable[[int], None] | None = None
    # release builds of Xen refuse console_io writes from unprivileged domains (-EPERM)
    console_io_allowed: bool = True
    # requests from other processes (hvcore.inbox), applied by this process only
    inbox: "Inbox | None" = None
    # the link to the host (interdomain event channels), when the domain has its process
    host: "HostLink | None" = None
    # grant tables: our shared frames, and the handles of our mappings of others' grants
    grants: "GrantFrames | None" = None
    maptrack: "Maptrack" = field(default_factory=lambda: _new_maptrack())
    # a gdb stub serving this domain (hvcore.gdb.server), only when asked for
    debugger: "GdbServer | None" = None
    # execution/event tracing (hvcore.trace.tracer), only when `--trace` asks for it
    tracer: "Tracer | None" = None
    # deterministic execution, record/replay (hvcore.replay.record), only when asked for
    replay: "ReplaySession | None" = None
    # page types and type counts of our frames (hvcore/arch/x86/pv/page_types.py)
    page_types: object = None
    # frames given back to the hypervisor (ballooned out), free to be handed out again
    released: set[int] = field(default_factory=set)
    # an HVM guest's Xen side (hvcore/hvm/xen.py): HVM params, its physical map; None for PV
    hvm: object = None

    # ---- port I/O: a PV domain has no devices behind ports -------------------------
    def io_read(self, port: int, size: int) -> int:
        return (1 << (8 * size)) - 1

    def io_write(self, port: int, size: int, value: int) -> None:
        return None

    # ---- the PV console ring (xencons_interface in the console page) ---------------
    def kick_backend(self, port: int) -> None:
        """The guest notified its console or xenstore port: tell dom0, or (console only,
        when there is no dom0) serve the console ring here."""
        if self.backend_notify is not None:
            self.backend_notify(port)
        elif port == self.console_evtchn:
            self.drain_console()

    def drain_console(self) -> None:
        """Copy what the guest wrote to its console ring out, and free the ring
        (only when no other process serves the ring: one writer per index)."""
        if not self.console_pfn or self.backend_notify is not None:
            return
        from hvcore.console_ring import take_output
        data = take_output(self.ram.map, self.console_pfn * PAGE_SIZE)
        if data:
            self.console_write(data)
            self.console_out_total += len(data)

    @property
    def word_size(self) -> int:
        return 8 if self.is_64bit else 4

    def is_ram_pfn(self, pfn: int) -> bool:
        return 0 <= pfn < self.nr_pages and pfn not in self.released

    @property
    def tot_pages(self) -> int:
        """Frames the domain has now (Xen's tot_pages): all but those ballooned out."""
        return self.nr_pages - len(self.released)

    def owns_mfn(self, mfn: int) -> bool:
        """Machine frames are guest-physical frames here (MFN == PFN for RAM); the
        shared_info page and the grant frames set up are the guest's to map too."""
        return (self.is_ram_pfn(mfn) or mfn == self.shared_info_paddr >> PAGE_SHIFT
                or self.grants is not None and self.grants.is_shared_mfn(mfn))

    def holds_foreign_mapping(self, maddr: int) -> bool:
        """A grant mapping of another domain's page lives at this machine address."""
        from hvcore.arch.x86.pv.foreign import FOREIGN_PHYS_BASE
        mapping = self.maptrack.get((maddr - FOREIGN_PHYS_BASE) >> PAGE_SHIFT) \
            if maddr >= FOREIGN_PHYS_BASE else None
        return getattr(mapping, "maddr", None) == maddr

    def errno_naming(self, domid: int) -> int:
        """Xen's answer to an unprivileged domain that names another domain in a query
        (EVTCHNOP_status, XENMEM_*_reservation): the domain is looked up first (-ESRCH
        when there is none), then XSM refuses (-EPERM). Only the host knows which exist."""
        from hvcore.public import errno as E
        exists = self.host is not None and self.host.ask({"event": "exists", "dom": domid})
        return -E.EPERM if exists and exists.get("exists") else -E.ESRCH

    def shutdown(self, reason: str) -> None:
        if self.shutdown_reason is None:
            self.shutdown_reason = reason

    def crash(self, report: str) -> None:
        """Crash the domain (Xen's domain_crash) with a report for the user."""
        if self.shutdown_reason is None:
            self.crash_report = report
        self.shutdown(SHUTDOWN_CRASH)

    @property
    def running(self) -> bool:
        return self.shutdown_reason is None

    def destroy(self) -> None:
        for v in self.vcpus:               # its preemption slot (a process has 64)
            v.engine.close()
        if self.inbox is not None:
            self.inbox.close()
        self.mem.close()


def _new_maptrack():
    from hvcore.grant_table import Maptrack
    return Maptrack()
