"""Grant tables (v1), common to every architecture: Xen's common/grant_table.c.

A domain's shared grant frames live in their own memfd, `GrantFrames`, which the
domain's process maps into its engine at GRANT_PHYS_BASE (the guest maps them with the
frame numbers GNTTABOP_setup_table returns) and hands to the host (dom0). Every
mapping of a grant is made by the host process, `HostGrantTable`: backends in dom0 call
it directly, and a guest's GNTTABOP_map_grant_ref asks the host through its link. So the
pin counts that decide when GTF_reading/GTF_writing clear have one writer, and the only
other writer of an entry is the granting guest itself, which Xen's protocol already
races against with cmpxchg (we use a real locked cmpxchg, hvcore/native/atomic.c).

Layout of the memfd: MAX_GRANT_FRAMES shared frames, then one private status page
(nr_frames and version, written by the domain's process only, never guest-mappable),
then two arrays indexed by the domain's frame number that keep Xen's rule "a page table
is never mapped writable" across the two processes, each with one writer: a byte per
frame, 1 while it is a page table (written by the domain's process, from its page
types), and a u32 per frame counting other domains' writable grant mappings of it
(written by the host). Each side sets its own word, fences, then reads the other's, so
of a racing table validation and writable map at least one sees the other and refuses.
"""
from __future__ import annotations

import ctypes
import mmap
import os
from dataclasses import dataclass, field

from hvcore.memory import PAGE_SIZE, MemoryRegion
from hvcore.public import grant_table as G
from hvcore.shared_word import load_u32, store_u32

GRANT_PHYS_BASE = 0xF000_0000         # machine address of grant frame 0 in every domain
MAX_GRANT_FRAMES = 64                 # Xen's default max_grant_frames
ENTRIES_PER_FRAME = PAGE_SIZE // 8    # grant_entry_v1 is 8 bytes
INITIAL_FRAMES = 4                    # what a domain has before it asks for more
MAX_MAPTRACK = 4096                   # live mappings one domain may hold (handles)
STATUS_PAGE = MAX_GRANT_FRAMES * PAGE_SIZE
_NR_FRAMES, _VERSION = STATUS_PAGE, STATUS_PAGE + 4
_TABLE_BYTES = STATUS_PAGE + PAGE_SIZE              # where the per-frame arrays start


def region_bytes(nr_pages: int) -> int:
    arrays = nr_pages * 5                                # a byte and a u32 per frame
    return _TABLE_BYTES + (arrays + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE


def _is_table_at(frame: int) -> int:
    return _TABLE_BYTES + frame


def _writable_maps_at(nr_pages: int, frame: int) -> int:
    return _TABLE_BYTES + (nr_pages + 3) // 4 * 4 + frame * 4


class GrantError(Exception):
    """A refused grant operation; `status` is the GNTST_* code the caller gets."""

    def __init__(self, status: int, what: str = "") -> None:
        self.status = status
        message = G.GNTTABOP_error_msgs[-status] if -status < len(G.GNTTABOP_error_msgs) else "?"
        super().__init__(f"{what}: {message}" if what else message)


# ---- the granting domain's side (its own process) ------------------------------------
class GrantFrames:
    """A domain's grant frames: the memfd its guest maps and dom0 reads."""

    def __init__(self, domid: int, nr_pages: int) -> None:
        self.nr_pages = nr_pages
        self.region = MemoryRegion(f"hv-d{domid}-grant", GRANT_PHYS_BASE,
                                   region_bytes(nr_pages))
        self.nr_frames = INITIAL_FRAMES
        self.version = 1
        from hvcore.native import atomic_library
        self._fence = atomic_library().hv_mb

    def become_table(self, frame: int) -> bool:
        """Mark `frame` a page table unless another domain holds it mapped writable
        through a grant (then Xen refuses the type: False, and it stays unmarked)."""
        self.region.map[_is_table_at(frame)] = 1
        self._fence()
        if load_u32(self.region.map, _writable_maps_at(self.nr_pages, frame)):
            self.region.map[_is_table_at(frame)] = 0
            return False
        return True

    def stop_being_table(self, frame: int) -> None:
        self.region.map[_is_table_at(frame)] = 0

    @property
    def nr_frames(self) -> int:
        return load_u32(self.region.map, _NR_FRAMES)

    @nr_frames.setter
    def nr_frames(self, value: int) -> None:
        store_u32(self.region.map, _NR_FRAMES, value)

    @property
    def version(self) -> int:
        return load_u32(self.region.map, _VERSION)

    @version.setter
    def version(self, value: int) -> None:
        store_u32(self.region.map, _VERSION, value)

    def frame_mfn(self, index: int) -> int:
        return (GRANT_PHYS_BASE >> 12) + index

    def is_shared_mfn(self, mfn: int) -> bool:
        """A frame the guest may map: one of the frames it has set up."""
        return 0 <= mfn - (GRANT_PHYS_BASE >> 12) < self.nr_frames

    def live_entries(self):
        """(ref, flags, domid, frame) of every entry in use, for dump_table."""
        view = self.region.map
        for ref in range(self.nr_frames * ENTRIES_PER_FRAME):
            word = load_u32(view, ref * 8)
            if word & G.GTF_type_mask:
                yield ref, word & 0xFFFF, word >> 16, load_u32(view, ref * 8 + 4)

    def grow(self, nr_frames: int) -> bool:
        """setup_table: the table only grows, up to MAX_GRANT_FRAMES."""
        if nr_frames > MAX_GRANT_FRAMES:
            return False
        if nr_frames > self.nr_frames:
            self.nr_frames = nr_frames
        return True


# ---- dom0's side: every mapping of a domain's grants is made here --------------------
@dataclass
class _Pins:
    writable: int = 0
    readonly: int = 0
    frame: int = -1


@dataclass
class GrantMapping:
    """One live mapping of a granted page. `view` is the granting guest's page itself."""
    table: "HostGrantTable"
    ref: int
    frame: int
    mapper: int
    readonly: bool
    view: memoryview | None = None
    live: bool = True

    def unmap(self) -> None:
        """Revoke the mapping: the view is released and the pin dropped."""
        if not self.live:
            return
        self.live = False
        if self.view is not None:
            self.view.release()
            self.view = None
        self.table.unpin(self.ref, self.readonly)
        self.table.mappings.discard(self)

    def __hash__(self) -> int:
        return id(self)


class HostGrantTable:
    """The hypervisor's view of one domain's grant table, in the host process."""

    def __init__(self, domid: int, ram: mmap.mmap, nr_pages: int, grant_fd: int) -> None:
        self.domid = domid
        self.ram = ram
        self.nr_pages = nr_pages
        self.shared = mmap.mmap(grant_fd, os.fstat(grant_fd).st_size)
        self._anchor = ctypes.c_char.from_buffer(self.shared)
        self._base = ctypes.addressof(self._anchor)
        self.pins: dict[int, _Pins] = {}
        self.mappings: set[GrantMapping] = set()
        from hvcore.native import atomic_library
        self._atomic = atomic_library()
        self._atomic.hv_mb.restype = None

    @property
    def nr_entries(self) -> int:
        return min(load_u32(self.shared, _NR_FRAMES), MAX_GRANT_FRAMES) * ENTRIES_PER_FRAME

    def entry(self, ref: int) -> tuple[int, int, int]:
        """(flags, domid, frame) of entry `ref`, as the guest left it."""
        word = load_u32(self.shared, ref * 8)
        return word & 0xFFFF, word >> 16, load_u32(self.shared, ref * 8 + 4)

    # ---- pinning: Xen's _set_status_v1 and its unmap counterpart ----------------------
    def pin(self, ref: int, mapper: int, readonly: bool) -> int:
        """Check the entry grants `mapper` this access, mark it in use, and return the
        granted frame. Raises GrantError with Xen's status code."""
        if not 0 <= ref < self.nr_entries:
            raise GrantError(G.GNTST_bad_gntref, f"d{self.domid} ref {ref}")
        mask = G.GTF_type_mask | G.GTF_sub_page | (0 if readonly else G.GTF_readonly)
        word = load_u32(self.shared, ref * 8)
        for _ in range(5):
            flags, domid = word & 0xFFFF, word >> 16
            if flags & mask != G.GTF_permit_access or domid != mapper:
                what = "read-only grant" if flags & mask == G.GTF_permit_access | G.GTF_readonly \
                    and domid == mapper else "not granted to this domain"
                raise GrantError(G.GNTST_general_error, f"d{self.domid} ref {ref}: {what}")
            new = word | G.GTF_reading | (0 if readonly else G.GTF_writing)
            seen = self._atomic.hv_cmpxchg32(self._base + ref * 8, word, new)
            if seen == word:
                break
            word = seen
        else:
            raise GrantError(G.GNTST_general_error, f"d{self.domid} ref {ref}: entry unstable")
        pins = self.pins.get(ref)
        if pins is None:           # the first pin fixes the frame, as Xen's active entry
            pins = self.pins[ref] = _Pins(frame=load_u32(self.shared, ref * 8 + 4))
        if readonly:
            pins.readonly += 1
        else:
            pins.writable += 1
        frame = pins.frame
        if not 0 <= frame < self.nr_pages:
            self.unpin(ref, readonly)
            raise GrantError(G.GNTST_bad_page, f"d{self.domid} ref {ref}: bad frame {frame:#x}")
        if not readonly and not self._hold_writable(frame):
            self.unpin(ref, readonly)
            raise GrantError(G.GNTST_general_error,
                             f"d{self.domid} ref {ref}: frame {frame:#x} is a page table")
        return frame

    def _hold_writable(self, frame: int) -> bool:
        """Count a writable mapping of `frame` unless it is a page table now."""
        at = _writable_maps_at(self.nr_pages, frame)
        store_u32(self.shared, at, load_u32(self.shared, at) + 1)
        self._atomic.hv_mb()
        return not self.shared[_is_table_at(frame)]      # the caller's unpin uncounts

    def unpin(self, ref: int, readonly: bool) -> None:
        pins = self.pins.get(ref)
        if pins is None:
            return
        if readonly:
            pins.readonly = max(0, pins.readonly - 1)
        elif pins.writable:
            pins.writable -= 1
            if 0 <= pins.frame < self.nr_pages:
                at = _writable_maps_at(self.nr_pages, pins.frame)
                store_u32(self.shared, at, max(0, load_u32(self.shared, at) - 1))
        clear = 0 if pins.writable else G.GTF_writing
        if not pins.writable and not pins.readonly:
            clear |= G.GTF_reading
            del self.pins[ref]
        if clear:
            self._atomic.hv_clear_bits16(self._base + ref * 8, clear)

    # ---- what backends use --------------------------------------------------------
    def map(self, ref: int, mapper: int = 0, readonly: bool = False) -> GrantMapping:
        """Map `ref` for `mapper` (dom0's backends: 0): the guest's own page, no copy."""
        frame = self.pin(ref, mapper, readonly)
        page = memoryview(self.ram)[frame * PAGE_SIZE:(frame + 1) * PAGE_SIZE]
        if readonly:
            page = page.toreadonly()
        mapping = GrantMapping(self, ref, frame, mapper, readonly, page)
        self.mappings.add(mapping)
        return mapping

    def close(self) -> None:
        for mapping in list(self.mappings):
            mapping.unmap()
        del self._anchor
        self.shared.close()


@dataclass
class Maptrack:
    """A mapping domain's handles (Xen's maptrack table), in that domain's process."""
    limit: int = MAX_MAPTRACK
    entries: dict[int, object] = field(default_factory=dict)
    next_handle: int = 0

    def add(self, mapping: object) -> int:
        if len(self.entries) >= self.limit:
            raise GrantError(G.GNTST_no_device_space, "maptrack full")
        while self.next_handle in self.entries:
            self.next_handle = (self.next_handle + 1) % self.limit
        handle = self.next_handle
        self.entries[handle] = mapping
        self.next_handle = (handle + 1) % self.limit
        return handle

    def get(self, handle: int) -> object | None:
        return self.entries.get(handle)

    def remove(self, handle: int) -> None:
        self.entries.pop(handle, None)
