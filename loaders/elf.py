"""ELF kernel loader for Xen-style PV guests.

Reads an x86 kernel ELF (ELF64, ELF32, or a 64-bit kernel in an ELF32 container), its Xen
ELF notes, and works out where it lands in the guest's virtual address space the way Xen's
libelf does (xen/common/libelf/libelf-dominfo.c):

* virt_base defaults to 0; PADDR_OFFSET defaults to 0 for kernels with Xen notes and to
  virt_base otherwise; PADDR_OFFSET without VIRT_BASE is an error;
* PT_LOAD segments land at p_paddr + (virt_base - paddr_offset), i.e. by physical address
  shifted into the virtual space, *not* at p_vaddr (they only coincide for sane kernels);
* the entry is the ENTRY note, else e_entry, and must lie inside the image.

Every problem with the file comes out as a one-line LoaderError naming the file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from loaders.xen_notes import (
    NoteError,
    XenNotes,
    parse_features,
    supported_feature_names,
    xen_notes_from_areas,
)

__all__ = ["LoaderError", "Segment", "XenNotes", "KernelImage", "load_kernel", "find_xen_notes"]

MAX_IMAGE_BYTES = 1 << 30  # a PV kernel image bigger than this is a broken or hostile file
_ADDR_MASK = (1 << 64) - 1  # libelf does its address arithmetic in uint64_t
_PF_RWX = 0x7  # libelf only loads PT_LOAD segments with at least one of R/W/X
_MACHINES = {"EM_X86_64": True, "EM_386": False}  # e_machine -> guest is 64-bit


class LoaderError(Exception):
    """One-line, user-facing message saying what is wrong and where (file path)."""


@dataclass
class Segment:
    vaddr: int  # guest-virtual load address (p_paddr + virt_offset)
    data: bytes  # file contents; bytes from len(data) up to memsz are zero
    memsz: int


@dataclass
class KernelImage:
    path: str
    is_64bit: bool  # guest word size, from e_machine (not from the ELF class)
    entry: int  # virtual entry point: ENTRY note, else e_entry
    virt_base: int
    virt_kstart: int  # lowest loaded virtual address
    virt_kend: int  # end of the highest loaded byte (exclusive, may be page-unaligned)
    hypercall_page: int | None  # virtual address from HYPERCALL_PAGE, if any
    pae_mode: str | None
    features_required: set[str]  # '!name' entries of FEATURES
    features_supported: set[str]  # all FEATURES names (required ones too) + SUPPORTED_FEATURES bits
    notes: XenNotes
    segments: list[Segment]
    symbols: dict[str, int]  # .symtab name -> st_value (link-time address), if present
    has_xen_notes: bool
    virt_offset: int = 0  # virt_base - paddr_offset (mod 2**64): paddr -> guest virtual

    @property
    def features(self) -> set[str]:
        """Every feature the kernel names (required ones included)."""
        return self.features_supported


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fail(path: str, what: str) -> LoaderError:
    return LoaderError(_one_line(f"{path}: {what}"))


def _stream_path(elffile: ELFFile) -> str:
    return str(getattr(elffile.stream, "name", "<ELF image>"))


def load_kernel(path: str, require_xen: bool = True) -> KernelImage:
    """Parse the kernel at path; raises LoaderError for anything that cannot be booted."""
    data = _read_file(path)
    _check_ident(path, data)
    try:
        elffile = ELFFile(_NamedBytesIO(data, path))
        return _build_image(path, data, elffile, require_xen)
    except LoaderError:
        raise
    except Exception as exc:  # pyelftools raises many exception types on garbage input
        raise _fail(path, f"malformed ELF file ({type(exc).__name__}: {exc})") from exc


class _NamedBytesIO(io.BytesIO):
    """In-memory file that remembers its path, so find_xen_notes can name it in errors."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self.name = name


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise _fail(path, f"cannot read kernel: {exc.strerror or exc}") from exc


def _check_ident(path: str, data: bytes) -> None:
    # Checked by hand first so the common mistakes get a plain message, not a parser trace.
    if data[:4] != b"\x7fELF":
        raise _fail(path, "not an ELF file (bad magic)")
    if len(data) < 16 or data[4] not in (1, 2):
        raise _fail(path, "truncated ELF header or unknown ELF class")
    if data[5] != 1:
        raise _fail(path, "not a little-endian ELF file, cannot be an x86 kernel")
    if len(data) < (52 if data[4] == 1 else 64):
        raise _fail(path, f"truncated ELF header ({len(data)} bytes)")


def _build_image(path: str, data: bytes, elffile: ELFFile, require_xen: bool) -> KernelImage:
    is_64bit = _guest_is_64bit(path, elffile)
    _check_tables(path, elffile, len(data))
    phdrs = _loadable_phdrs(path, elffile, len(data))
    notes = find_xen_notes(elffile)
    has_notes = bool(notes.raw)
    if require_xen and not has_notes:
        raise _fail(path, "is not a Xen PV kernel: no Xen ELF notes (XEN_ELFNOTE_*)")
    required, supported = _features(path, notes)  # libelf checks these while reading notes
    virt_base, virt_offset = _virt_layout(path, notes, has_notes)
    segments = [_segment(data, ph, virt_offset) for ph in phdrs]
    kstart, kend = _check_layout(path, segments, is_64bit)
    entry = notes.entry if notes.entry is not None else elffile.header["e_entry"]
    _check_bounds(path, notes, virt_base, entry, kstart, kend)
    return KernelImage(
        path=path, is_64bit=is_64bit, entry=entry, virt_base=virt_base,
        virt_kstart=kstart, virt_kend=kend, hypercall_page=notes.hypercall_page,
        pae_mode=notes.pae_mode, features_required=required, features_supported=supported,
        notes=notes, segments=segments, symbols=_symbols(elffile),
        has_xen_notes=has_notes, virt_offset=virt_offset,
    )


def _guest_is_64bit(path: str, elffile: ELFFile) -> bool:
    machine = elffile.header["e_machine"]
    if machine not in _MACHINES:
        raise _fail(path, f"unsupported machine {machine} (need EM_X86_64 or EM_386)")
    return _MACHINES[machine]


def _check_tables(path: str, elffile: ELFFile, size: int) -> None:
    """Header tables must lie inside the file: a cut-off download fails here, clearly."""
    hdr = elffile.header
    tables = [("program header", hdr["e_phoff"], hdr["e_phnum"], hdr["e_phentsize"])]
    if hdr["e_shoff"]:
        tables.append(("section header", hdr["e_shoff"], hdr["e_shnum"], hdr["e_shentsize"]))
    for name, offset, count, entsize in tables:
        if count and offset + count * entsize > size:
            raise _fail(path, f"truncated ELF: {name} table at {offset:#x} "
                              f"({count} x {entsize} bytes) runs past end of file ({size:#x} bytes)")


def _loadable_phdrs(path: str, elffile: ELFFile, size: int) -> list[dict]:
    phdrs = []
    for seg in elffile.iter_segments():
        ph = seg.header
        if ph["p_type"] != "PT_LOAD" or not ph["p_flags"] & _PF_RWX:
            continue
        if ph["p_offset"] + ph["p_filesz"] > size:
            raise _fail(path, f"truncated ELF: PT_LOAD at file offset {ph['p_offset']:#x} "
                              f"(+{ph['p_filesz']:#x}) runs past end of file ({size:#x} bytes)")
        if ph["p_filesz"] > ph["p_memsz"]:
            raise _fail(path, f"PT_LOAD at paddr {ph['p_paddr']:#x} has filesz "
                              f"{ph['p_filesz']:#x} > memsz {ph['p_memsz']:#x}")
        phdrs.append(ph)
    if not phdrs:
        raise _fail(path, "no loadable PT_LOAD segments")
    return phdrs


def find_xen_notes(elffile: ELFFile) -> XenNotes:
    """Xen notes from PT_NOTE segments, else (like libelf) from SHT_NOTE sections.

    Sections are the fallback because in a normal kernel they are the same bytes as the
    segment; some kernels, however, carry the notes only in a section.
    """
    path = _stream_path(elffile)
    try:
        notes = xen_notes_from_areas(_note_segments(elffile, path))
        if not notes.raw:
            notes = xen_notes_from_areas(_note_sections(elffile, path))
    except NoteError as exc:
        raise _fail(path, f"bad ELF note: {exc}") from exc
    return notes


def _note_alignment(align: int) -> int:
    # Xen's libelf pads every note's name and descriptor to 4 bytes, whatever the area's
    # alignment: GRUB's PV image has its Xen notes 4-padded in an area aligned to 8.
    return 4


def _note_segments(elffile: ELFFile, path: str) -> list[tuple[bytes, int]]:
    areas = []
    for seg in elffile.iter_segments():
        ph = seg.header
        # p_offset 0 is skipped like libelf does: old binutils wrote broken PT_NOTEs so.
        if ph["p_type"] == "PT_NOTE" and ph["p_offset"]:
            blob = _read_range(elffile, path, "PT_NOTE", ph["p_offset"], ph["p_filesz"])
            blob += _read_slack(elffile, ph["p_offset"] + ph["p_filesz"])
            areas.append((blob, _note_alignment(ph["p_align"]), ph["p_filesz"]))
    return areas


def _note_sections(elffile: ELFFile, path: str) -> list[tuple[bytes, int]]:
    areas = []
    for sec in elffile.iter_sections():
        sh = sec.header
        if sh["sh_type"] == "SHT_NOTE":
            blob = _read_range(elffile, path, f"section {sec.name}", sh["sh_offset"], sh["sh_size"])
            blob += _read_slack(elffile, sh["sh_offset"] + sh["sh_size"])
            areas.append((blob, _note_alignment(sh["sh_addralign"]), sh["sh_size"]))
    return areas


def _read_slack(elffile: ELFFile, offset: int, size: int = 256) -> bytes:
    """The file's bytes just after a note area, which a last note's descriptor may use."""
    elffile.stream.seek(offset)
    return elffile.stream.read(size)


def _read_range(elffile: ELFFile, path: str, what: str, offset: int, size: int) -> bytes:
    stream = elffile.stream
    file_size = stream.seek(0, io.SEEK_END)
    # Checked before seeking: absurd offsets would otherwise surface as OverflowError.
    if offset + size > file_size:
        raise _fail(path, f"truncated ELF: {what} at {offset:#x} (+{size:#x}) "
                          f"runs past end of file ({file_size:#x} bytes)")
    stream.seek(offset)
    return stream.read(size)


def _virt_layout(path: str, notes: XenNotes, has_notes: bool) -> tuple[int, int]:
    """(virt_base, virt_offset) with libelf's defaults."""
    if notes.paddr_offset is not None and notes.virt_base is None:
        raise _fail(path, "Xen note PADDR_OFFSET is set but VIRT_BASE is not")
    virt_base = notes.virt_base if notes.virt_base is not None else 0
    if notes.paddr_offset is not None:
        paddr_offset = notes.paddr_offset
    else:
        # Modern (notes) kernels have p_paddr relative to virt_base; legacy ones had
        # p_paddr == p_vaddr, which an offset of virt_base undoes.
        paddr_offset = 0 if has_notes else virt_base
    return virt_base, (virt_base - paddr_offset) & _ADDR_MASK


def _segment(data: bytes, ph: dict, virt_offset: int) -> Segment:
    start = ph["p_offset"]
    return Segment(vaddr=(ph["p_paddr"] + virt_offset) & _ADDR_MASK,
                   data=data[start:start + ph["p_filesz"]], memsz=ph["p_memsz"])


def _check_layout(path: str, segments: list[Segment], is_64bit: bool) -> tuple[int, int]:
    """Reject absurd layouts; return (virt_kstart, virt_kend)."""
    if sum(s.memsz for s in segments) > MAX_IMAGE_BYTES:
        raise _fail(path, f"segments total more than {MAX_IMAGE_BYTES >> 20} MiB of memory")
    limit = 1 << (64 if is_64bit else 32)
    ordered = sorted(segments, key=lambda s: s.vaddr)
    for seg in ordered:
        if seg.vaddr + seg.memsz > limit:
            raise _fail(path, f"segment at {seg.vaddr:#x} (+{seg.memsz:#x}) overflows "
                              f"the {64 if is_64bit else 32}-bit address space")
    for prev, nxt in zip(ordered, ordered[1:]):
        if prev.memsz and nxt.memsz and prev.vaddr + prev.memsz > nxt.vaddr:
            raise _fail(path, f"segments overlap: {prev.vaddr:#x} (+{prev.memsz:#x}) "
                              f"and {nxt.vaddr:#x}")
    kstart = ordered[0].vaddr
    kend = max(s.vaddr + s.memsz for s in segments)
    # The builder maps the whole [kstart, kend) span, so sparse segments count in full.
    if kend - kstart > MAX_IMAGE_BYTES:
        raise _fail(path, f"image spans {kstart:#x}-{kend:#x}, more than "
                          f"{MAX_IMAGE_BYTES >> 20} MiB")
    return kstart, kend


def _check_bounds(path: str, notes: XenNotes, virt_base: int, entry: int,
                  kstart: int, kend: int) -> None:
    """libelf's sanity checks on where things point, plus the hypercall page."""
    if virt_base > kstart:
        raise _fail(path, f"VIRT_BASE {virt_base:#x} is above the image start {kstart:#x}")
    if not kstart <= entry <= kend:  # libelf allows entry == kend
        raise _fail(path, f"entry point {entry:#x} is outside the image {kstart:#x}-{kend:#x}")
    hcall = notes.hypercall_page
    # Xen writes the hypercall stubs into the image, so the page must be part of it.
    if hcall is not None and not kstart <= hcall < kend:
        raise _fail(path, f"HYPERCALL_PAGE {hcall:#x} is outside the image {kstart:#x}-{kend:#x}")
    p2m = notes.init_p2m
    if p2m is not None and kstart <= p2m < kend:
        raise _fail(path, f"INIT_P2M {p2m:#x} lies inside the kernel image {kstart:#x}-{kend:#x}")


def _features(path: str, notes: XenNotes) -> tuple[set[str], set[str]]:
    try:
        required, supported = parse_features(notes.features)
    except NoteError as exc:
        raise _fail(path, f"bad FEATURES note: {exc}") from exc
    return required, supported | supported_feature_names(notes.supported_features)


def _symbols(elffile: ELFFile) -> dict[str, int]:
    """Defined, named symbols of .symtab; global ones win over same-named locals."""
    symtab = elffile.get_section_by_name(".symtab")
    if not isinstance(symtab, SymbolTableSection):
        return {}
    found: dict[str, int] = {}
    for sym in symtab.iter_symbols():
        info = sym["st_info"]
        # NOTYPE is kept: assembler labels and linker-script symbols (_end...) are NOTYPE.
        if (not sym.name or sym["st_shndx"] == "SHN_UNDEF"
                or info["type"] not in ("STT_FUNC", "STT_OBJECT", "STT_NOTYPE")):
            continue
        if sym.name not in found or info["bind"] != "STB_LOCAL":
            found[sym.name] = sym["st_value"]
    return found


def file_symbols(path: str) -> dict[str, int]:
    """The .symtab of any ELF file (an HVM guest's kernel, for traces); {} if unreadable."""
    try:
        with open(path, "rb") as f:
            return _symbols(ELFFile(f))
    except (OSError, ELFError):
        return {}
