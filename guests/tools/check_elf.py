#!/usr/bin/env python3
"""Check the Xen ELF notes of the test kernels (stdlib only).

For every kernel: the notes sit in a PT_NOTE segment, the required ones are
there with sane values, ENTRY is the ELF entry, the hypercall page is
page-aligned inside an executable PT_LOAD segment, PAE_MODE is "yes" exactly
for 32-bit images.
"""
import struct
import sys

ENTRY, HYPERCALL_PAGE, VIRT_BASE, PADDR_OFFSET, XEN_VERSION, GUEST_OS = 1, 2, 3, 4, 5, 6
LOADER, PAE_MODE, FEATURES = 8, 9, 10
STRINGS = {5, 6, 7, 8, 9, 10, 11}


def parse(path):
    data = open(path, "rb").read()
    if data[:4] != b"\x7fELF":
        raise ValueError("not an ELF file")
    is64 = data[4] == 2
    if is64:
        e_entry, e_phoff = struct.unpack_from("<QQ", data, 24)
        e_phentsize, e_phnum = struct.unpack_from("<HH", data, 54)
    else:
        e_entry, e_phoff = struct.unpack_from("<II", data, 24)
        e_phentsize, e_phnum = struct.unpack_from("<HH", data, 42)
    phdrs = []
    for i in range(e_phnum):
        off = e_phoff + i * e_phentsize
        if is64:
            p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz = \
                struct.unpack_from("<IIQQQQQ", data, off)
        else:
            p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags = \
                struct.unpack_from("<IIIIIII", data, off)
        phdrs.append(dict(type=p_type, flags=p_flags, offset=p_offset,
                          vaddr=p_vaddr, paddr=p_paddr, filesz=p_filesz,
                          memsz=p_memsz))
    notes = {}
    for ph in phdrs:
        if ph["type"] != 4:  # PT_NOTE
            continue
        pos, end = ph["offset"], ph["offset"] + ph["filesz"]
        while pos + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", data, pos)
            pos += 12
            name = data[pos:pos + namesz].rstrip(b"\0")
            pos += (namesz + 3) & ~3
            desc = data[pos:pos + descsz]
            pos += (descsz + 3) & ~3
            if name != b"Xen":
                continue
            if ntype in STRINGS:
                notes[ntype] = desc.rstrip(b"\0").decode()
            else:
                notes[ntype] = int.from_bytes(desc, "little")
    return is64, e_entry, phdrs, notes


def check(path):
    errors = []
    is64, entry, phdrs, notes = parse(path)
    for t, name in ((ENTRY, "ENTRY"), (HYPERCALL_PAGE, "HYPERCALL_PAGE"),
                    (VIRT_BASE, "VIRT_BASE"), (PADDR_OFFSET, "PADDR_OFFSET"),
                    (XEN_VERSION, "XEN_VERSION"), (GUEST_OS, "GUEST_OS"),
                    (LOADER, "LOADER"), (FEATURES, "FEATURES")):
        if t not in notes:
            errors.append("missing note " + name)
    if errors:
        return errors
    if notes[XEN_VERSION] != "xen-3.0":
        errors.append("XEN_VERSION %r" % notes[XEN_VERSION])
    if notes[LOADER] != "generic":
        errors.append("LOADER %r" % notes[LOADER])
    if notes[ENTRY] != entry:
        errors.append("ENTRY %#x != e_entry %#x" % (notes[ENTRY], entry))
    want_base = 0xffffffff80000000 if is64 else 0xC0000000
    if notes[VIRT_BASE] != want_base:
        errors.append("VIRT_BASE %#x" % notes[VIRT_BASE])
    hp = notes[HYPERCALL_PAGE]
    if hp & 0xfff:
        errors.append("hypercall page %#x not page aligned" % hp)
    if not any(ph["type"] == 1 and ph["flags"] & 1 and
               ph["vaddr"] <= hp and hp + 4096 <= ph["vaddr"] + ph["filesz"]
               for ph in phdrs):
        errors.append("hypercall page %#x not inside an executable PT_LOAD" % hp)
    for ph in phdrs:
        if ph["type"] == 1 and ph["vaddr"] - ph["paddr"] != \
                notes[VIRT_BASE] - notes[PADDR_OFFSET]:
            errors.append("PT_LOAD vaddr %#x paddr %#x disagree with VIRT_BASE"
                          % (ph["vaddr"], ph["paddr"]))
    if is64:
        if PAE_MODE in notes:
            errors.append("PAE_MODE note on a 64-bit image")
    elif notes.get(PAE_MODE) != "yes":
        errors.append("PAE_MODE %r (want 'yes')" % notes.get(PAE_MODE))
    return errors


def main(paths):
    bad = 0
    for p in paths:
        errs = check(p)
        for e in errs:
            print("%s: %s" % (p, e))
        bad += bool(errs)
    if not bad:
        print("check_elf: %d kernels OK" % len(paths))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
