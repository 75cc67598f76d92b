"""xen_version: what the guest may learn about the hypervisor (public/version.h)."""
import struct

from hvcore.arch.x86.pv.cpuid import XEN_VERSION
from hvcore.hypercalls import hypercall
from hvcore.public import errno as E
from hvcore.public import version as V
from hvcore.public import xen as XEN
from hvcore.arch.x86.pv import layout as L

EXTRAVERSION = b".0-hvcore"
CHANGESET = b"hvcore"
BUILD_ID = b"hvcore-build-0001"


def _fixed(text: bytes, size: int) -> bytes:
    return text[:size - 1].ljust(size, b"\0")


def _features(v, arg) -> int:
    index = struct.unpack("<I", v.read_virt(arg, 4))[0]
    # writable_page_tables 0, writable_descriptor_tables 1, auto_translated 2,
    # supervisor_mode_kernel 3, pae_pgdir_above_4gb 4 ...
    bits = 0
    if index == 0:
        bits |= 1 << 4                       # pae_pgdir_above_4gb
        if v.domain.vm_assist >> 2 & 1:      # VMASST_TYPE_writable_pagetables on
            bits |= 1 << 0                   # writable_page_tables
    v.write_virt(arg + 4, struct.pack("<I", bits))
    return 0


@hypercall(XEN.HYPERVISOR_xen_version)
def xen_version(v, cmd, arg, *_):
    """long xen_version(int cmd, void *arg)"""
    cmd &= 0xFFFFFFFF
    if cmd == V.XENVER_version:
        return (XEN_VERSION[0] << 16) | XEN_VERSION[1]
    if cmd == V.XENVER_extraversion:
        v.write_virt(arg, _fixed(EXTRAVERSION, 16))
    elif cmd == V.XENVER_compile_info:
        # compiler[64], compile_by[16], compile_domain[32], compile_date[32]
        v.write_virt(arg, _fixed(b"python", 64) + _fixed(b"hvcore", 16)
                     + _fixed(b"localdomain", 32) + _fixed(b"2026-11-21", 32))
    elif cmd == V.XENVER_capabilities:
        caps = b"xen-3.0-x86_64 xen-3.0-x86_32p"
        v.write_virt(arg, _fixed(caps, 1024))
    elif cmd == V.XENVER_changeset:
        v.write_virt(arg, _fixed(CHANGESET, 64))
    elif cmd == V.XENVER_platform_parameters:
        start = L.RO_MPT_VIRT_START if v.is_64bit else L.COMPAT_M2P_VIRT_START
        v.write_virt(arg, struct.pack("<Q" if v.is_64bit else "<I", start))
    elif cmd == V.XENVER_get_features:
        return _features(v, arg)
    elif cmd == V.XENVER_pagesize:
        return 4096
    elif cmd == V.XENVER_guest_handle:
        v.write_virt(arg, bytes(16))          # xen_domain_handle_t: the domain's UUID
    elif cmd == V.XENVER_commandline:
        v.write_virt(arg, _fixed(b"", 1024))  # the hypervisor's command line
    elif cmd == V.XENVER_build_id:
        # struct xen_build_id { uint32_t len; unsigned char buf[]; } : len is buffer size in
        length = struct.unpack("<I", v.read_virt(arg, 4))[0]
        if length < len(BUILD_ID):
            return -E.ENOBUFS
        v.write_virt(arg + 4, BUILD_ID)
        return len(BUILD_ID)
    else:
        return -E.ENOSYS
    return 0
