"""Xen ELF notes: the byte format of ELF note areas and the meaning of notes owned by "Xen".

Pure data parsing: this module knows nothing about ELF files; loaders.elf finds the note
areas (PT_NOTE segments, SHT_NOTE sections) and hands their bytes here.

Note numbers and types follow Xen's public/elfnote.h; which notes are numbers and which are
strings, and how FEATURES is parsed, follow Xen's libelf (libelf-dominfo.c).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

# Note types from xen/include/public/elfnote.h.
XEN_ELFNOTE_INFO = 0
XEN_ELFNOTE_ENTRY = 1
XEN_ELFNOTE_HYPERCALL_PAGE = 2
XEN_ELFNOTE_VIRT_BASE = 3
XEN_ELFNOTE_PADDR_OFFSET = 4
XEN_ELFNOTE_XEN_VERSION = 5
XEN_ELFNOTE_GUEST_OS = 6
XEN_ELFNOTE_GUEST_VERSION = 7
XEN_ELFNOTE_LOADER = 8
XEN_ELFNOTE_PAE_MODE = 9
XEN_ELFNOTE_FEATURES = 10
XEN_ELFNOTE_BSD_SYMTAB = 11
XEN_ELFNOTE_HV_START_LOW = 12
XEN_ELFNOTE_L1_MFN_VALID = 13
XEN_ELFNOTE_SUSPEND_CANCEL = 14
XEN_ELFNOTE_INIT_P2M = 15
XEN_ELFNOTE_MOD_START_PFN = 16
XEN_ELFNOTE_SUPPORTED_FEATURES = 17
XEN_ELFNOTE_PHYS32_ENTRY = 18

XEN_NOTE_OWNER = b"Xen"

# XENFEAT_* bit numbers from xen/include/public/features.h, used to name the bits of the
# SUPPORTED_FEATURES bitmap note.
XENFEAT_NAMES: dict[int, str] = {
    0: "writable_page_tables",
    1: "writable_descriptor_tables",
    2: "auto_translated_physmap",
    3: "supervisor_mode_kernel",
    4: "pae_pgdir_above_4gb",
    5: "mmu_pt_update_preserve_ad",
    6: "highmem_assist",
    7: "gnttab_map_avail_bits",
    8: "hvm_callback_vector",
    9: "hvm_safe_pvclock",
    10: "hvm_pirqs",
    11: "dom0",
    12: "grant_map_identity",
    13: "memory_op_vnode_supported",
    14: "ARM_SMCCC_supported",
    15: "linux_rsdp_unrestricted",
    16: "not_direct_mapped",
    17: "direct_mapped",
}

# The only feature names libelf understands in a FEATURES string. libelf refuses a kernel
# that *requires* ('!name') anything else, since it cannot promise a feature it does not
# know; unknown optional names are harmless and only informational.
LIBELF_FEATURE_NAMES = frozenset({
    "writable_page_tables", "writable_descriptor_tables", "auto_translated_physmap",
    "supervisor_mode_kernel", "pae_pgdir_above_4gb", "hvm_callback_vector", "dom0",
})

# Which XenNotes attribute each note fills, and whether its descriptor is a number or a string.
_NUM, _STR = "num", "str"
_NOTE_FIELDS: dict[int, tuple[str, str]] = {
    XEN_ELFNOTE_ENTRY: ("entry", _NUM),
    XEN_ELFNOTE_HYPERCALL_PAGE: ("hypercall_page", _NUM),
    XEN_ELFNOTE_VIRT_BASE: ("virt_base", _NUM),
    XEN_ELFNOTE_PADDR_OFFSET: ("paddr_offset", _NUM),
    XEN_ELFNOTE_XEN_VERSION: ("xen_version", _STR),
    XEN_ELFNOTE_GUEST_OS: ("guest_os", _STR),
    XEN_ELFNOTE_GUEST_VERSION: ("guest_version", _STR),
    XEN_ELFNOTE_LOADER: ("loader", _STR),
    XEN_ELFNOTE_PAE_MODE: ("pae_mode", _STR),
    XEN_ELFNOTE_FEATURES: ("features", _STR),
    XEN_ELFNOTE_HV_START_LOW: ("hv_start_low", _NUM),
    XEN_ELFNOTE_SUSPEND_CANCEL: ("suspend_cancel", _NUM),
    XEN_ELFNOTE_INIT_P2M: ("init_p2m", _NUM),
    XEN_ELFNOTE_MOD_START_PFN: ("mod_start_pfn", _NUM),
    XEN_ELFNOTE_PHYS32_ENTRY: ("phys32_entry", _NUM),
}

_NOTE_HEADER = struct.Struct("<III")  # namesz, descsz, type: 32-bit words in ELF32 and ELF64


class NoteError(ValueError):
    """A note area or a Xen note is malformed; the caller adds which file it came from."""


@dataclass
class XenNotes:
    """Values of the Xen notes of one kernel; None where the kernel has no such note."""

    entry: int | None = None
    hypercall_page: int | None = None
    virt_base: int | None = None
    paddr_offset: int | None = None
    xen_version: str | None = None
    guest_os: str | None = None
    guest_version: str | None = None
    loader: str | None = None
    pae_mode: str | None = None
    features: str | None = None
    hv_start_low: int | None = None
    phys32_entry: int | None = None
    init_p2m: int | None = None
    suspend_cancel: int | None = None
    mod_start_pfn: int | None = None
    supported_features: int | None = None
    raw: dict[int, bytes] = field(default_factory=dict)  # every Xen note's descriptor by type


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) & -alignment


def iter_notes(blob: bytes, alignment: int = 4,
               limit: int | None = None) -> Iterator[tuple[bytes, int, bytes]]:
    """Yield (owner name without NULs, type, descriptor) for each note in a note area.

    Notes start within the first `limit` bytes of `blob` (all of it by default); a note's
    descriptor may run into the bytes after them, as libelf bounds it by the file, not
    by the area (GRUB's 32-bit image has a last note longer than its area).
    """
    pos = 0
    limit = len(blob) if limit is None else limit
    # A tail shorter than a note header is padding between aligned areas, not a note.
    while limit - pos >= _NOTE_HEADER.size:
        namesz, descsz, ntype = _NOTE_HEADER.unpack_from(blob, pos)
        name_at = pos + _NOTE_HEADER.size
        desc_at = name_at + _align(namesz, alignment)
        end = desc_at + _align(descsz, alignment)
        if name_at + namesz > len(blob):
            raise NoteError(f"note at offset {pos:#x} of a note area runs past its end "
                            f"(namesz {namesz:#x}, descsz {descsz:#x}, area {limit:#x} bytes)")
        desc = blob[desc_at:desc_at + descsz]
        if len(desc) < descsz:           # usable only as a NUL-terminated string
            desc = TruncatedDesc(desc, f"note at offset {pos:#x} of a note area runs past "
                                       f"its end (descsz {descsz:#x}, area {limit:#x} bytes)")
        yield blob[name_at:name_at + namesz].rstrip(b"\0"), ntype, desc
        pos = end


class TruncatedDesc(bytes):
    """A descriptor cut short by the end of the file. libelf still reads a string note
    up to its NUL from it (GRUB's 32-bit PV image needs that); anything else is broken."""

    def __new__(cls, data: bytes, problem: str) -> "TruncatedDesc":
        obj = super().__new__(cls, data)
        obj.problem = problem
        return obj


def _numeric(ntype: int, desc: bytes) -> int:
    if isinstance(desc, TruncatedDesc):
        raise NoteError(desc.problem)
    # libelf reads numeric notes as little-endian 1/2/4/8-byte integers; other sizes are
    # meaningless (and would silently read as 0 there), so say so.
    if len(desc) not in (1, 2, 4, 8):
        raise NoteError(f"Xen note type {ntype} should be a 1/2/4/8-byte number, "
                        f"has {len(desc)} bytes")
    return int.from_bytes(desc, "little")


def _string(desc: bytes) -> str:
    if isinstance(desc, TruncatedDesc) and b"\0" not in desc:
        raise NoteError(desc.problem)
    # Strings are NUL-terminated; tolerate a missing NUL and non-ASCII bytes rather than
    # rejecting a kernel over a cosmetic field.
    return desc.split(b"\0", 1)[0].decode("ascii", errors="replace")


def _apply_note(notes: XenNotes, ntype: int, desc: bytes) -> None:
    notes.raw[ntype] = desc
    if ntype == XEN_ELFNOTE_SUPPORTED_FEATURES:
        # A bitmap of XENFEAT_* bits, any length; repeated notes add up like in libelf.
        notes.supported_features = (notes.supported_features or 0) | int.from_bytes(desc, "little")
        return
    if ntype not in _NOTE_FIELDS:
        return  # INFO, BSD_SYMTAB, L1_MFN_VALID, unknown: kept in raw only
    attr, kind = _NOTE_FIELDS[ntype]
    value: int | str = _numeric(ntype, desc) if kind == _NUM else _string(desc)
    if ntype == XEN_ELFNOTE_FEATURES and notes.features:
        value = f"{notes.features}|{value}"  # libelf accumulates features over repeated notes
    setattr(notes, attr, value)  # other repeated notes: the last one wins, as in libelf


def xen_notes_from_areas(areas: Iterable[tuple]) -> XenNotes:
    """Collect the notes owned by "Xen" from note areas given as (bytes, alignment) or
    (bytes, alignment, end of the area within bytes)."""
    notes = XenNotes()
    for blob, alignment, *end in areas:
        for owner, ntype, desc in iter_notes(blob, alignment, *end):
            if owner == XEN_NOTE_OWNER:
                _apply_note(notes, ntype, desc)
    return notes


def parse_features(features: str | None) -> tuple[set[str], set[str]]:
    """Split a FEATURES string into (required, supported) name sets.

    '!name' means required; every named feature, required or not, is supported (libelf sets
    the supported bit for required features too). Raises NoteError for a required feature
    libelf does not know, as libelf refuses such kernels.
    """
    required: set[str] = set()
    supported: set[str] = set()
    for item in (features or "").split("|"):
        item = item.strip()
        if not item:
            continue
        name = item.lstrip("!")
        if item.startswith("!"):
            if name not in LIBELF_FEATURE_NAMES:
                raise NoteError(f"kernel requires unknown Xen feature {name!r}")
            required.add(name)
        supported.add(name)
    return required, supported


def supported_feature_names(bitmap: int | None) -> set[str]:
    """Names of the XENFEAT_* bits set in a SUPPORTED_FEATURES bitmap (unknown bits: feat<N>)."""
    bitmap = bitmap or 0
    return {XENFEAT_NAMES.get(bit, f"feat{bit}")
            for bit in range(bitmap.bit_length()) if bitmap >> bit & 1}
