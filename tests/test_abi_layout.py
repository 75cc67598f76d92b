"""hvcore.public against gcc's reading of /usr/include/xen, for both guest ABIs.

One generated C program prints sizeof/_Alignof/offsetof of every structure and
field defined in hvcore.public, plus the value of every constant, and is
compiled with gcc -m64 and gcc -m32.  Layouts are probed the way a guest
includes the headers (latest interface version, no __XEN_TOOLS__); constants
are probed with __XEN_TOOLS__ as well so the toolstack-only XENMEM sub-ops
are visible.
"""

import ctypes
import functools
import importlib
import pkgutil
import re
import subprocess
from pathlib import Path

import pytest

import hvcore.public
from hvcore.public import X86_32, X86_64, layout

XEN_INCLUDE = Path("/usr/include/xen")

MODULES = {
    info.name.removeprefix("hvcore.public."): importlib.import_module(info.name)
    for info in pkgutil.walk_packages(hvcore.public.__path__, "hvcore.public.")
}

# Facts taken from Xen's sources rather than its public headers, so the
# probe program declares them itself (for structures) or cannot check them.
NOT_IN_PUBLIC_HEADERS = {
    "arch_x86": {"HYPERCALL_PAGE_ENTRY_SIZE", "HYPERCALL_VECTOR"},
    "memory": {"E820_RAM", "E820_RESERVED", "E820_ACPI", "E820_NVS", "E820_UNUSABLE"},
    "hvm": {"HVM_PARAM_CALLBACK_TYPE_SHIFT"},     # params.h says "val[63:56]" in a comment
}
PRIVATE_STRUCTS = """
/* Xen's asm/e820.h: the records XENMEM_memory_map copies out. */
struct e820entry { uint64_t addr; uint64_t size; uint32_t type; } __attribute__((packed));
#ifdef __i386__
/* The frame Xen's compat_iret() reads from a 32-bit guest's stack. */
struct iret_context { uint32_t eax, eip, cs, eflags, esp, ss; };
#endif
"""

HEADERS = ["xen.h", "sched.h", "version.h", "vcpu.h", "callback.h", "memory.h", "physdev.h",
           "event_channel.h", "grant_table.h", "io/console.h", "io/xs_wire.h", "io/ring.h",
           "io/blkif.h", "io/netif.h", "io/xenbus.h", "hvm/hvm_op.h", "hvm/params.h",
           "arch-x86/hvm/start_info.h"]

ABI_OF_FLAG = {"-m64": X86_64, "-m32": X86_32}


def _structs():
    seen = {}
    for module in MODULES.values():
        for obj in vars(module).values():
            if isinstance(obj, type) and getattr(obj, "_c_type_", None):
                seen[obj.__name__] = obj
    return dict(sorted(seen.items()))


STRUCTS = _structs()


def _constants():
    """(module name, python name) -> value for every int constant outside errno."""
    found = {}
    for modname, module in MODULES.items():
        if modname == "errno":
            continue
        for name, value in vars(module).items():
            if not name.startswith("_") and type(value) is int:
                found[(modname, name)] = value
    return found


CONSTANTS = _constants()


def c_name(modname: str, name: str, abi) -> str | None:
    """The header's macro for a Python constant under `abi`, or None if it has none there."""
    for a in (X86_64, X86_32):
        if name.endswith(a.suffix):
            if a is not abi:
                return None
            name = name.removesuffix(a.suffix)
    if name.endswith("_bit"):
        return "_" + name.removesuffix("_bit")
    if modname == "xen" and name.startswith("HYPERVISOR_"):
        return "__" + name
    return name


def _c_source() -> str:
    out = ["#include <stddef.h>", "#include <stdint.h>", "#include <stdio.h>"]
    out += [f"#include <xen/{h}>" for h in HEADERS]
    out.append(PRIVATE_STRUCTS)
    out.append("""
#define FIELD(tag, type, member) printf("F %s %s %zu %zu\\n", tag, #member, \\
    offsetof(type, member), sizeof(((type *)0)->member))
#define FLEX(tag, type, member) printf("F %s %s %zu 0\\n", tag, #member, offsetof(type, member))
#define CONST(name) printf("C %s %lld %llu\\n", #name, (long long)(name), (unsigned long long)(name))

static void print_errno(void)
{
#define __XEN__ /* EINTR and ERESTART are listed only for the hypervisor itself */
#define XEN_ERRNO(name, value) printf("E %s %d\\n", #name, value);
#include <xen/errno.h>
#undef __XEN__
}

int main(void)
{
#ifdef PROBE_LAYOUT""")
    for abi, guard in ((X86_64, "#if defined(__x86_64__)"), (X86_32, "#elif defined(__i386__)")):
        out.append(guard)
        for tag, cls in STRUCTS.items():
            if cls._abi_ is not abi:
                continue
            ctype = cls._c_type_
            out.append(f'    printf("S {tag} %zu %zu\\n", sizeof({ctype}), _Alignof({ctype}));')
            for path, (_, size) in layout(cls).items():
                macro = "FLEX" if size == 0 else "FIELD"
                out.append(f'    {macro}("{tag}", {ctype}, {path});')
    out.append("#endif")
    out.append("#else /* PROBE_CONSTANTS */")
    out.append("    print_errno();")
    for abi, guard in ((X86_64, "#if defined(__x86_64__)"), (X86_32, "#elif defined(__i386__)")):
        out.append(guard)
        for (modname, name) in CONSTANTS:
            cname = c_name(modname, name, abi)
            if cname is None or name in NOT_IN_PUBLIC_HEADERS.get(modname, ()):
                continue
            # Each per-ABI arch header defines only its own names; everywhere
            # else a missing macro must break the build.
            if modname == "arch_x86":
                out += [f"#ifdef {cname}", f"    CONST({cname});", "#endif"]
            else:
                out.append(f"    CONST({cname});")
        for typedef in ("xen_extraversion_t", "xen_capabilities_info_t", "xen_changeset_info_t",
                        "xen_commandline_t"):
            out.append(f'    printf("T {typedef} %zu\\n", sizeof({typedef}));')
    out.append("#endif")
    out.append("#endif")
    out.append("    return 0;\n}")
    return "\n".join(out) + "\n"


@pytest.fixture(scope="session")
def probe(tmp_path_factory):
    """probe(flag, what) -> output records of the probe built with gcc `flag`."""
    directory = tmp_path_factory.mktemp("abi-probe")
    source = directory / "probe.c"
    source.write_text(_c_source())

    @functools.cache
    def run(flag: str, what: str) -> list[list[str]]:
        exe = directory / f"probe{flag}-{what}"
        if what == "layout":
            view = "-D__XEN_INTERFACE_VERSION__=__XEN_LATEST_INTERFACE_VERSION__"
        else:
            view = "-D__XEN_TOOLS__"
        cmd = ["gcc", flag, view, "-std=gnu11", "-I/usr/include", f"-DPROBE_{what.upper()}",
               "-o", str(exe), str(source)]
        build = subprocess.run(cmd, capture_output=True, text=True)
        assert build.returncode == 0, f"{' '.join(cmd)}\n{build.stderr}"
        output = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
        return [line.split() for line in output.splitlines()]

    return run


def c_layout(probe, cls):
    flag = "-m64" if cls._abi_ is X86_64 else "-m32"
    size = align = None
    fields = {}
    for rec in probe(flag, "layout"):
        if rec[1] != cls.__name__:
            continue
        if rec[0] == "S":
            size, align = int(rec[2]), int(rec[3])
        else:
            fields[rec[2]] = (int(rec[3]), int(rec[4]))
    return size, align, fields


def c_constants(probe, flag: str) -> dict[str, tuple[int, int]]:
    """Macro name -> (value as signed, value as unsigned) long long."""
    return {rec[1]: (int(rec[2]), int(rec[3])) for rec in probe(flag, "constants") if rec[0] == "C"}


@pytest.mark.parametrize("name", list(STRUCTS))
def test_struct_layout(probe, name):
    cls = STRUCTS[name]
    size, align, fields = c_layout(probe, cls)
    assert size is not None, f"probe printed nothing for {name}"
    assert ctypes.sizeof(cls) == size, f"sizeof({cls._c_type_})"
    assert ctypes.alignment(cls) == align, f"_Alignof({cls._c_type_})"
    assert layout(cls) == fields


def test_every_struct_has_both_flavours():
    only_32 = {"xen_callback_32"}  # on 64-bit xen_callback_t is a plain address
    for name in STRUCTS:
        stem, suffix = name.rsplit("_", 1)
        other = stem + ("_32" if suffix == "64" else "_64")
        assert other in STRUCTS or name in only_32, f"{name} has no {other}"


@pytest.mark.parametrize("flag", ["-m64", "-m32"])
def test_constants_match_headers(probe, flag):
    abi = ABI_OF_FLAG[flag]
    values = c_constants(probe, flag)
    for (modname, name), value in CONSTANTS.items():
        cname = c_name(modname, name, abi)
        if cname is None or cname not in values:
            continue
        signed, unsigned = values[cname]
        assert value == (signed if value < 0 else unsigned), f"{modname}.{name} vs {cname}"


def test_every_constant_is_checked(probe):
    seen = {flag: c_constants(probe, flag) for flag in ABI_OF_FLAG}
    for (modname, name) in CONSTANTS:
        if name in NOT_IN_PUBLIC_HEADERS.get(modname, ()):
            continue
        checked_in = [flag for flag, abi in ABI_OF_FLAG.items()
                      if c_name(modname, name, abi) in seen[flag]]
        assert checked_in, f"{modname}.{name} has no header counterpart"
    for modname, names in NOT_IN_PUBLIC_HEADERS.items():
        for name in names:
            assert hasattr(MODULES[modname], name), f"stale exception {modname}.{name}"


@pytest.mark.parametrize("flag", ["-m64", "-m32"])
def test_string_buffer_sizes(probe, flag):
    version = MODULES["version"]
    for rec in probe(flag, "constants"):
        if rec[0] == "T":
            assert ctypes.sizeof(getattr(version, rec[1])) == int(rec[2]), rec[1]


def test_errno_matches_header(probe):
    errno = MODULES["errno"]
    header = {rec[1]: int(rec[2]) for rec in probe("-m64", "constants") if rec[0] == "E"}
    ours = {name: value for name, value in vars(errno).items()
            if name.startswith("E") and type(value) is int}
    assert ours == header
    assert errno.ALL == frozenset(header.values())


# Header macros (by prefix) that the Python modules must all mirror, so that
# "every hypercall / sub-op" claims cannot silently rot when headers grow.
COMPLETE_PREFIXES = {
    ("xen.h", "xen"): ["__HYPERVISOR_", "VIRQ_", "NR_VIRQS", "MMU_", "MMUEXT_", "UVMF_",
                       "CONSOLEIO_", "VMASST_CMD_", "VMASST_TYPE_", "DOMID_", "SIF_",
                       "XEN_PVCLOCK_", "XEN_VGATYPE_"],
    ("sched.h", "sched"): ["SCHEDOP_", "SHUTDOWN_"],
    ("version.h", "version"): ["XENVER_"],
    ("vcpu.h", "vcpu"): ["VCPUOP_", "RUNSTATE_", "VCPU_SSHOTTMR_", "_VCPU_SSHOTTMR_"],
    ("callback.h", "callback"): ["CALLBACKTYPE_", "CALLBACKOP_", "CALLBACKF_", "_CALLBACKF_"],
    ("memory.h", "memory"): ["XENMEM_", "XENMEMF_", "XENMAPSPACE_", "XENMAPIDX_"],
    ("physdev.h", "physdev"): ["PHYSDEVOP_", "XENIRQSTAT_", "_XENIRQSTAT_", "MAP_PIRQ_TYPE_"],
    ("event_channel.h", "event_channel"): ["EVTCHNOP_", "EVTCHNSTAT_", "EVTCHN_FIFO_"],
    ("grant_table.h", "grant_table"): ["GNTTABOP_", "GTF_", "_GTF_", "GNTMAP_", "_GNTMAP_",
                                       "GNTST_", "GNTCOPY_", "_GNTCOPY_", "GNTTAB_"],
    ("arch-x86/xen-x86_64.h", "arch_x86"): ["FLAT_", "SEGBASE_", "_VGCF_", "VGCF_"],
    ("arch-x86/xen-x86_32.h", "arch_x86"): ["FLAT_"],
    ("arch-x86/xen.h", "arch_x86"): ["VGCF_", "_VGCF_", "FIRST_RESERVED_GDT_"],
    ("io/xs_wire.h", "io.xs_wire"): ["XS_", "XENSTORE_"],
    ("io/blkif.h", "io.blkif"): ["BLKIF_", "VDISK_"],
    ("io/netif.h", "io.netif"): ["XEN_NETIF_", "_XEN_NETIF_", "NETTXF_", "_NETTXF_",
                                 "NETRXF_", "_NETRXF_", "NETIF_RSP_"],
}
# Aliases that exist only for old __XEN_INTERFACE_VERSION__s or inside Xen itself.
LEGACY_OR_INTERNAL = {
    "__HYPERVISOR_dom0_op", "EVTCHNOP_reset_cont", "MAX_VMASST_TYPE", "XENMEM_add_to_physmap_range",
    "PHYSDEVOP_IRQ_STATUS_QUERY", "PHYSDEVOP_SET_IOPL", "PHYSDEVOP_SET_IOBITMAP",
    "PHYSDEVOP_APIC_READ", "PHYSDEVOP_APIC_WRITE", "PHYSDEVOP_ASSIGN_VECTOR",
    "PHYSDEVOP_FREE_VECTOR", "PHYSDEVOP_IRQ_NEEDS_UNMASK_NOTIFY", "PHYSDEVOP_IRQ_SHARED",
}


def python_names(c: str) -> list[str]:
    if c.startswith("__"):
        base = c[2:]
    elif c.startswith("_"):
        base = c[1:] + "_bit"
    else:
        base = c
    return [base, base + "_64", base + "_32"]


@pytest.mark.parametrize("header,modname", list(COMPLETE_PREFIXES))
def test_header_macros_all_mirrored(header, modname):
    text = (XEN_INCLUDE / header).read_text()
    module = MODULES[modname]
    defined = re.findall(r"^\s*#\s*define\s+(\w+)\b(?!\()", text, re.M)
    enums = re.findall(r"^\s*(XS_\w+)\s*(?:=[^,]*)?,", text, re.M) if modname == "io.xs_wire" else []
    missing = []
    for c in {*defined, *enums}:
        if not any(c.startswith(p) for p in COMPLETE_PREFIXES[(header, modname)]):
            continue
        if c in LEGACY_OR_INTERNAL:
            continue
        if not any(hasattr(module, py) for py in python_names(c)):
            missing.append(c)
    assert not missing, f"{header} macros not mirrored in {modname}: {sorted(missing)}"
