"""Tests for loaders.elf / loaders.xen_notes on real kernels built with gcc/as/ld."""

from __future__ import annotations

import random
import shutil
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from loaders.elf import KernelImage, LoaderError, XenNotes, find_xen_notes, load_kernel
from loaders.xen_notes import iter_notes, parse_features, xen_notes_from_areas, NoteError

VB64 = 0xFFFFFFFF80000000  # Linux-style x86-64 virt base
VB32 = 0xC0000000  # Linux-style i386 virt base
PAGE = 0x1000

ARCHES = {
    "x86_64": dict(as_flags=["--64"], ld_emul="elf_x86_64", fmt="elf64-x86-64",
                   cc_flags=["-m64", "-mcmodel=kernel"]),
    "x32": dict(as_flags=["--x32"], ld_emul="elf32_x86_64", fmt="elf32-x86-64", cc_flags=None),
    "i386": dict(as_flags=["--32"], ld_emul="elf_i386", fmt="elf32-i386", cc_flags=["-m32"]),
}

XEN_NOTES_ALLOC = '.note.Xen,"a",@note'  # loaded notes, go into the PT_NOTE segment
XEN_NOTES_UNLOADED = '.xen_notes,"",@note'  # SHT_NOTE section only, no segment
OTHER_NOTES = '.note.other,"a",@note'

ASM_BODY = """
    .text
    .globl _start, xen_start
_start:                         # e_entry; Xen kernels are entered via the ENTRY note instead
    hlt
xen_start:
    {call}
    hlt
    .balign 4096
    .globl hypercall_page
hypercall_page:
    .fill 4096, 1, 0xc3
    .data
    .globl message
message:
    .asciz "hvcore-elf-test"
    .bss
    .globl stack
stack:
    .skip 0x3000
"""

C_SOURCE = """
int counter = 42;
int kmain(void) { return counter + 1; }
"""

LD_SCRIPT = """
OUTPUT_FORMAT("{fmt}")
ENTRY(_start)
PHDRS {{ text PT_LOAD FLAGS(5); data PT_LOAD FLAGS(6); {note_phdr} }}
SECTIONS {{
  . = {vaddr:#x};
  .text : AT(ADDR(.text) - {delta:#x}) {{ *(.text) *(.text.*) }} :text
  .note : AT(ADDR(.note) - {delta:#x}) {{ *(.note.Xen) *(.note.other) }} :text {note_seg}
  . = ALIGN(0x1000);
  .data : AT(ADDR(.data) - {delta:#x}) {{ *(.data) *(.data.*) *(.rodata*) }} :data
  .bss : AT(ADDR(.bss) - {delta:#x}) {{ *(.bss) *(COMMON) }} :data
  _end = .;
  .xen_notes 0 : {{ *(.xen_notes) }}
  /DISCARD/ : {{ *(.note.gnu.property) *(.note.GNU-stack) *(.comment) *(.eh_frame) }}
}}
"""


@dataclass
class Spec:
    """How to build one test kernel: notes are (owner, type, assembler payload)."""

    arch: str = "x86_64"
    vaddr: int = VB64 + 0x1000000  # link (virtual) address of .text
    delta: int = VB64  # p_vaddr - p_paddr
    notes: list[tuple[str, int, str]] = field(default_factory=list)
    note_section: str = XEN_NOTES_ALLOC
    note_phdr: bool = True
    with_c: bool = True


def _run(*cmd: str, cwd: Path) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True)


def _note_asm(owner: str, ntype: int, payload: str, section: str) -> str:
    return (f"    .pushsection {section}\n    .balign 4\n"
            f"    .long 2f - 1f\n    .long 4f - 3f\n    .long {ntype}\n"
            f'1:  .asciz "{owner}"\n2:  .balign 4\n3:  {payload}\n4:  .balign 4\n'
            f"    .popsection\n")


def build_kernel(outdir: Path, name: str, spec: Spec) -> Path:
    """Assemble/compile and link one kernel, return the ELF path."""
    arch = ARCHES[spec.arch]
    work = outdir / name
    work.mkdir()
    objs = ["head.o"]
    with_c = spec.with_c and arch["cc_flags"] is not None
    notes = "".join(_note_asm(owner, t, payload, spec.note_section if owner == "Xen" else OTHER_NOTES)
                    for owner, t, payload in spec.notes)
    (work / "head.S").write_text(ASM_BODY.format(call="call kmain" if with_c else "nop") + notes)
    _run("as", *arch["as_flags"], "head.S", "-o", "head.o", cwd=work)
    if with_c:
        (work / "kmain.c").write_text(C_SOURCE)
        _run("gcc", *arch["cc_flags"], "-O2", "-ffreestanding", "-fno-pic", "-fno-stack-protector",
             "-fno-asynchronous-unwind-tables", "-c", "kmain.c", "-o", "kmain.o", cwd=work)
        objs.append("kmain.o")
    (work / "kernel.ld").write_text(LD_SCRIPT.format(
        fmt=arch["fmt"], vaddr=spec.vaddr, delta=spec.delta,
        note_phdr="note PT_NOTE FLAGS(4);" if spec.note_phdr else "",
        note_seg=":note" if spec.note_phdr else ""))
    _run("ld", "-m", arch["ld_emul"], "-T", "kernel.ld", *objs, "-o", "kernel", cwd=work)
    return work / "kernel"


def str_note(ntype: int, text: str) -> tuple[str, int, str]:
    return ("Xen", ntype, f'.asciz "{text}"')


def linux_style_notes(entry: str = ".quad xen_start") -> list[tuple[str, int, str]]:
    return [
        str_note(6, "linux"), str_note(7, "2.6"), str_note(5, "xen-3.0"), str_note(8, "generic"),
        ("Xen", 3, f".quad {VB64:#x}"),  # VIRT_BASE
        ("Xen", 4, ".quad 0"),  # PADDR_OFFSET
        ("Xen", 1, entry),  # ENTRY
        ("Xen", 2, ".quad hypercall_page"),
        str_note(10, "!writable_page_tables|pae_pgdir_above_4gb|some_future_thing"),
        str_note(9, "yes"),  # PAE_MODE
        ("Xen", 17, ".long (1 << 11) | (1 << 8)"),  # SUPPORTED_FEATURES: dom0, hvm_callback_vector
        ("Xen", 14, ".long 1"),  # SUSPEND_CANCEL
        ("Xen", 16, ".long 1"),  # MOD_START_PFN
        ("Xen", 15, ".quad 0xffffffc000000000"),  # INIT_P2M, outside the image
        ("Xen", 0x100, ".long 7"),  # unknown type: raw only
        ("GNU", 3, ".long 0x11223344"),  # someone else's note: ignored
    ]


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("kernels")
    specs = {
        "k64": Spec(notes=linux_style_notes()),
        # Xen notes only in an unloaded SHT_NOTE section; the PT_NOTE holds a GNU note only,
        # so the loader has to fall back to the sections.
        "sections_only": Spec(vaddr=0x400000, delta=0, note_section=XEN_NOTES_UNLOADED, notes=[
            str_note(6, "hvcore-mini"), str_note(8, "generic"), str_note(5, "xen-3.0"),
            ("Xen", 2, ".quad hypercall_page"), ("GNU", 1, ".long 0, 2, 6, 0")]),
        # 64-bit kernel in an ELF32 container: 32-bit link addresses, 64-bit virtual ones
        # built from the notes (the high half is spelled out since x32 relocations are 32-bit).
        "x32": Spec(arch="x32", vaddr=0x100000, delta=0, notes=[
            str_note(6, "linux"), str_note(5, "xen-3.0"),
            ("Xen", 3, f".quad {VB64:#x}"), ("Xen", 4, ".quad 0"),
            ("Xen", 1, ".long xen_start + 0x80000000, 0xffffffff"),
            ("Xen", 2, ".long hypercall_page + 0x80000000, 0xffffffff")]),
        # i386: no PADDR_OFFSET note, so it defaults to 0 (notes present) and p_paddr is
        # shifted up by VIRT_BASE.
        "i386": Spec(arch="i386", vaddr=VB32 + 0x100000, delta=VB32, notes=[
            str_note(6, "linux"), str_note(5, "xen-3.0"), str_note(8, "generic"),
            ("Xen", 3, f".long {VB32:#x}"), ("Xen", 1, ".long xen_start"),
            ("Xen", 2, ".long hypercall_page"), str_note(9, "yes"),
            ("Xen", 12, ".long 0xf5800000"),  # HV_START_LOW
            str_note(10, "writable_descriptor_tables|!pae_pgdir_above_4gb")]),
        "nonotes": Spec(vaddr=0x200000, delta=0, notes=[]),
        "nonotes_high": Spec(notes=[]),  # linked like k64: p_vaddr far from p_paddr
        "paddr_only": Spec(notes=[("Xen", 4, ".quad 0")]),
        "entry_outside": Spec(notes=linux_style_notes(entry=".quad 0x1234")),
        "hcall_outside": Spec(notes=[("Xen", 3, f".quad {VB64:#x}"), ("Xen", 2, ".quad 0x5000")]),
        "unknown_required": Spec(notes=[str_note(10, "!frobnicate")]),
        "bad_numeric": Spec(notes=[("Xen", 3, ".byte 1, 2, 3")]),
    }
    return {name: build_kernel(out, name, spec) for name, spec in specs.items()}


def symbol(img: KernelImage, name: str) -> int:
    return img.symbols[name]


def segment_bytes(img: KernelImage, vaddr: int, size: int) -> bytes:
    """Guest memory contents at vaddr as the loader would lay them out."""
    for seg in img.segments:
        if seg.vaddr <= vaddr and vaddr + size <= seg.vaddr + seg.memsz:
            image = seg.data + bytes(seg.memsz - len(seg.data))
            return image[vaddr - seg.vaddr:vaddr - seg.vaddr + size]
    raise AssertionError(f"{vaddr:#x} not loaded")


def patched(tmp_path: Path, src: Path, edits: list[tuple[int, bytes]]) -> Path:
    data = bytearray(src.read_bytes())
    for offset, new in edits:
        data[offset:offset + len(new)] = new
    dst = tmp_path / f"patched-{src.parent.name}"
    dst.write_bytes(bytes(data))
    return dst


def phdr_offsets(path: Path, p_type: str) -> list[tuple[int, dict]]:
    """File offsets of the program headers of one type, with their parsed contents."""
    with open(path, "rb") as f:
        elf = ELFFile(f)
        base, size = elf.header["e_phoff"], elf.header["e_phentsize"]
        return [(base + i * size, seg.header) for i, seg in enumerate(elf.iter_segments())
                if seg.header["p_type"] == p_type]


# --- good kernels -------------------------------------------------------------------------

def test_x86_64_kernel_with_pt_note(kernels: dict[str, Path]) -> None:
    img = load_kernel(str(kernels["k64"]))
    assert img.is_64bit and img.has_xen_notes
    assert img.path == str(kernels["k64"])
    assert img.virt_base == VB64
    assert img.virt_offset == VB64
    assert img.entry == symbol(img, "xen_start") != symbol(img, "_start")
    assert img.hypercall_page == symbol(img, "hypercall_page") == VB64 + 0x1000000 + PAGE
    assert img.virt_kstart == VB64 + 0x1000000
    assert img.virt_kend == symbol(img, "_end")
    assert img.pae_mode == "yes"
    assert img.features_required == {"writable_page_tables"}
    assert img.features_supported == {"writable_page_tables", "pae_pgdir_above_4gb",
                                      "some_future_thing", "dom0", "hvm_callback_vector"}
    assert img.features == img.features_supported


def test_x86_64_segments_land_at_paddr_plus_offset(kernels: dict[str, Path]) -> None:
    img = load_kernel(str(kernels["k64"]))
    text, data = img.segments
    assert text.vaddr == VB64 + 0x1000000
    assert data.vaddr == symbol(img, "message") and data.vaddr % PAGE == 0
    assert segment_bytes(img, img.hypercall_page, PAGE) == b"\xc3" * PAGE
    assert segment_bytes(img, symbol(img, "message"), 16) == b"hvcore-elf-test\0"
    assert segment_bytes(img, symbol(img, "counter"), 4) == (42).to_bytes(4, "little")
    assert segment_bytes(img, symbol(img, "_start"), 1) == b"\xf4"  # hlt
    # .bss: part of memsz, not of the file contents, and reads as zeros
    assert data.memsz > len(data.data)
    assert data.vaddr + data.memsz == img.virt_kend
    assert segment_bytes(img, symbol(img, "stack"), 0x3000) == bytes(0x3000)


def test_x86_64_note_values(kernels: dict[str, Path]) -> None:
    notes = load_kernel(str(kernels["k64"])).notes
    assert (notes.guest_os, notes.guest_version, notes.xen_version, notes.loader) == \
        ("linux", "2.6", "xen-3.0", "generic")
    assert notes.virt_base == VB64 and notes.paddr_offset == 0
    assert notes.features == "!writable_page_tables|pae_pgdir_above_4gb|some_future_thing"
    assert notes.supported_features == (1 << 11) | (1 << 8)
    assert (notes.suspend_cancel, notes.mod_start_pfn) == (1, 1)
    assert notes.init_p2m == 0xFFFFFFC000000000
    assert notes.hv_start_low is None and notes.phys32_entry is None
    assert notes.raw[0x100] == (7).to_bytes(4, "little")
    assert notes.raw[3] == VB64.to_bytes(8, "little")
    assert notes.raw[6] == b"linux\0"
    assert 0x11223344.to_bytes(4, "little") not in notes.raw.values()  # the GNU note


def test_find_xen_notes_on_open_elffile(kernels: dict[str, Path]) -> None:
    with open(kernels["k64"], "rb") as f:
        notes = find_xen_notes(ELFFile(f))
    assert isinstance(notes, XenNotes)
    assert notes.entry is not None and notes.hypercall_page is not None


def test_notes_only_in_section(kernels: dict[str, Path]) -> None:
    path = kernels["sections_only"]
    note_segments = phdr_offsets(path, "PT_NOTE")
    assert note_segments, "the PT_NOTE should exist but hold only a GNU note"
    img = load_kernel(str(path))
    assert img.has_xen_notes and img.notes.guest_os == "hvcore-mini"
    assert img.notes.virt_base is None and img.virt_base == 0
    assert img.entry == symbol(img, "_start")  # no ENTRY note: e_entry
    assert img.hypercall_page == symbol(img, "hypercall_page")
    assert img.segments[0].vaddr == img.virt_kstart == 0x400000
    assert img.pae_mode is None and img.features_required == set() == img.features_supported


def test_x86_64_kernel_in_elf32_container(kernels: dict[str, Path]) -> None:
    path = kernels["x32"]
    with open(path, "rb") as f:
        elf = ELFFile(f)
        assert elf.elfclass == 32 and elf.header["e_machine"] == "EM_X86_64"
    img = load_kernel(str(path))
    assert img.is_64bit
    assert img.virt_base == VB64
    assert img.virt_kstart == VB64 + 0x100000
    assert img.entry == VB64 + symbol(img, "xen_start")
    assert img.hypercall_page == VB64 + symbol(img, "hypercall_page")
    assert segment_bytes(img, img.hypercall_page, 8) == b"\xc3" * 8
    assert segment_bytes(img, VB64 + symbol(img, "message"), 6) == b"hvcore"


def test_i386_kernel(kernels: dict[str, Path]) -> None:
    img = load_kernel(str(kernels["i386"]))
    assert not img.is_64bit
    assert img.notes.paddr_offset is None  # defaulted to 0 because the kernel has notes
    assert img.virt_base == VB32 and img.virt_kstart == VB32 + 0x100000
    assert img.entry == symbol(img, "xen_start")
    assert img.hypercall_page == symbol(img, "hypercall_page")
    assert img.notes.hv_start_low == 0xF5800000
    assert img.features_required == {"pae_pgdir_above_4gb"}
    assert img.features_supported == {"pae_pgdir_above_4gb", "writable_descriptor_tables"}
    assert segment_bytes(img, symbol(img, "counter"), 4) == (42).to_bytes(4, "little")
    assert img.virt_kend == symbol(img, "_end") < 1 << 32


def test_no_notes_allowed_when_not_required(kernels: dict[str, Path]) -> None:
    img = load_kernel(str(kernels["nonotes"]), require_xen=False)
    assert not img.has_xen_notes and img.notes.raw == {}
    assert img.virt_base == 0 and img.virt_kstart == 0x200000
    assert img.entry == symbol(img, "_start")  # e_entry
    assert img.hypercall_page is None and img.pae_mode is None


def test_no_notes_places_segments_by_paddr(kernels: dict[str, Path]) -> None:
    # Without notes virt_base is 0 and PADDR_OFFSET defaults to virt_base, so segments land
    # at p_paddr (0x1000000), not p_vaddr: the high e_entry then lies outside, as in libelf.
    expect_error(kernels["nonotes_high"], "entry point 0xffffffff81000000 is outside the image "
                 "0x1000000-", require_xen=False)


# --- bad kernels --------------------------------------------------------------------------

def expect_error(path: Path | str, *fragments: str, require_xen: bool = True) -> str:
    with pytest.raises(LoaderError) as info:
        load_kernel(str(path), require_xen=require_xen)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg
    for fragment in fragments:
        assert fragment in msg
    return msg


def test_no_notes_rejected(kernels: dict[str, Path]) -> None:
    expect_error(kernels["nonotes"], "is not a Xen PV kernel: no Xen ELF notes (XEN_ELFNOTE_*)")


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    expect_error(tmp_path / "nope", "cannot read kernel", "No such file")
    expect_error(tmp_path, "cannot read kernel")


def test_text_and_empty_files(tmp_path: Path) -> None:
    text = tmp_path / "readme.txt"
    text.write_text("this is not a kernel\n")
    expect_error(text, "not an ELF file")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    expect_error(empty, "not an ELF file")


@pytest.mark.parametrize("keep", [10, 40, 100, 300, "half"])
def test_truncated_elf(kernels: dict[str, Path], tmp_path: Path, keep: int | str) -> None:
    data = kernels["k64"].read_bytes()
    cut = tmp_path / "cut"
    cut.write_bytes(data[:len(data) // 2 if keep == "half" else keep])
    expect_error(cut, "truncated")


def test_arm_machine_rejected(kernels: dict[str, Path], tmp_path: Path) -> None:
    arm = patched(tmp_path, kernels["k64"], [(18, struct.pack("<H", 40))])  # EM_ARM
    expect_error(arm, "unsupported machine EM_ARM")


def test_big_endian_rejected(kernels: dict[str, Path], tmp_path: Path) -> None:
    expect_error(patched(tmp_path, kernels["i386"], [(5, b"\x02")]), "little-endian")


def test_relocatable_object_has_no_load_segments(kernels: dict[str, Path]) -> None:
    expect_error(kernels["k64"].parent / "head.o", "no loadable PT_LOAD segments")


def test_overlapping_segments(kernels: dict[str, Path], tmp_path: Path) -> None:
    (_, first), (second_off, _) = phdr_offsets(kernels["k64"], "PT_LOAD")
    paddr_field = second_off + 24  # Elf64_Phdr.p_paddr
    bad = patched(tmp_path, kernels["k64"], [(paddr_field, struct.pack("<Q", first["p_paddr"]))])
    expect_error(bad, "segments overlap")


def test_huge_memsz(kernels: dict[str, Path], tmp_path: Path) -> None:
    (data_off, _), = phdr_offsets(kernels["k64"], "PT_LOAD")[1:]
    memsz_field = data_off + 40  # Elf64_Phdr.p_memsz
    bad = patched(tmp_path, kernels["k64"], [(memsz_field, struct.pack("<Q", 2 << 30))])
    expect_error(bad, "1024 MiB")


def test_segment_overflowing_address_space(kernels: dict[str, Path], tmp_path: Path) -> None:
    # i386: a segment whose paddr + virt offset goes past 4 GiB
    (off, _), _ = phdr_offsets(kernels["i386"], "PT_LOAD")
    bad = patched(tmp_path, kernels["i386"], [(off + 12, struct.pack("<I", 0x3FFFF000))])
    expect_error(bad, "overflows the 32-bit address space")


def test_paddr_offset_without_virt_base(kernels: dict[str, Path]) -> None:
    expect_error(kernels["paddr_only"], "PADDR_OFFSET is set but VIRT_BASE is not")


def test_entry_outside_image(kernels: dict[str, Path]) -> None:
    expect_error(kernels["entry_outside"], "entry point 0x1234 is outside the image")


def test_hypercall_page_outside_image(kernels: dict[str, Path]) -> None:
    expect_error(kernels["hcall_outside"], "HYPERCALL_PAGE 0x5000 is outside the image")


def test_unknown_required_feature(kernels: dict[str, Path]) -> None:
    expect_error(kernels["unknown_required"], "frobnicate")


def test_bad_numeric_note_size(kernels: dict[str, Path]) -> None:
    expect_error(kernels["bad_numeric"], "bad ELF note", "3 bytes")


def test_note_running_past_the_end_of_the_file(kernels: dict[str, Path], tmp_path: Path) -> None:
    """A numeric note whose descriptor would run past the end of the file (the note area
    moved to the file's last bytes) is a broken ELF."""
    (entry, _note), = phdr_offsets(kernels["k64"], "PT_NOTE")
    data = kernels["k64"].read_bytes()
    numeric = struct.pack("<III", 4, 8, 1) + b"Xen\0"          # ENTRY, 8 bytes, cut to 0
    moved = bytearray(data + numeric)
    struct.pack_into("<QQQ", moved, entry + 8, len(data), 0, 0)           # p_offset, vaddr, paddr
    struct.pack_into("<QQ", moved, entry + 32, len(numeric), len(numeric))  # filesz, memsz
    bad = tmp_path / "cut.elf"
    bad.write_bytes(bytes(moved))
    expect_error(bad, "bad ELF note", "runs past")


def test_garbage_only_ever_raises_loader_error(kernels: dict[str, Path], tmp_path: Path) -> None:
    """Cut and scrambled kernels either load or fail with LoaderError, never anything else."""
    rng = random.Random(1234)
    for name in ("k64", "x32", "i386"):
        data = kernels[name].read_bytes()
        for trial in range(150):
            blob = bytearray(data[:rng.randrange(len(data) + 1)] if trial % 3 == 0 else data)
            for _ in range(rng.randrange(1, 12)):
                pos = rng.randrange(min(len(blob), 0x200)) if blob and trial % 2 else None
                if pos is not None:
                    blob[pos] = rng.randrange(256)
            victim = tmp_path / "garbage"
            victim.write_bytes(bytes(blob))
            try:
                load_kernel(str(victim), require_xen=bool(trial % 2))
            except LoaderError as exc:
                assert "\n" not in str(exc) and str(victim) in str(exc)


# --- note parsing helpers -----------------------------------------------------------------

def test_iter_notes_and_features_helpers() -> None:
    blob = struct.pack("<III", 4, 3, 6) + b"Xen\0" + b"abc\0"
    assert list(iter_notes(blob)) == [(b"Xen", 6, b"abc")]
    assert list(iter_notes(blob + b"\0" * 8)) == [(b"Xen", 6, b"abc")]  # padding tail
    with pytest.raises(NoteError):      # the name itself is cut off
        list(iter_notes(struct.pack("<III", 8, 0, 6) + b"Xen\0"))
    # A descriptor cut short by the end of the file still yields what is there (libelf
    # reads string notes up to their NUL), marked so numeric use refuses it.
    (owner, ntype, desc), = iter_notes(struct.pack("<III", 4, 12, 9) + b"Xen\0yes\0")
    assert (owner, ntype, desc) == (b"Xen", 9, b"yes\0")


def test_notes_as_grub_lays_them_out() -> None:
    """GRUB's PV images: notes padded to 4 in an area aligned to 8 (x86_64), and a last
    note (PAE_MODE "yes") whose descsz runs past the end of the file (i386)."""
    def note(ntype: int, desc: bytes, descsz: int | None = None) -> bytes:
        size = len(desc) if descsz is None else descsz
        return struct.pack("<III", 4, size, ntype) + b"Xen\0" + desc + b"\0" * (-len(desc) % 4)
    area = (note(6, b"GRUB\0") + note(8, b"generic\0") + note(5, b"xen-3.0\0")
            + note(1, bytes(4)) + note(3, bytes(4)) + note(9, b"yes\0", descsz=12))
    notes = xen_notes_from_areas([(area, 4)])
    assert notes.pae_mode == "yes" and notes.guest_os == "GRUB"
    with pytest.raises(NoteError, match="runs past"):    # a cut number is not a number
        xen_notes_from_areas([(note(1, bytes(4), descsz=8), 4)])
    assert parse_features("!dom0| writable_page_tables |") == (
        {"dom0"}, {"dom0", "writable_page_tables"})
    assert parse_features(None) == (set(), set())


def test_toolchain_present() -> None:
    # The kernels above need these; fail loudly rather than skip.
    for tool in ("gcc", "as", "ld"):
        assert shutil.which(tool), f"{tool} is needed to build the test kernels"
