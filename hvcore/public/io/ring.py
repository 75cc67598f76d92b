"""Shared I/O rings: public/io/ring.h.

ring.h defines no structure of its own: DEFINE_RING_TYPES(name, req, rsp) makes
`union name_sring_entry` and `struct name_sring` for each protocol (see blkif.py).
Every such shared ring starts with the same 64-byte header, laid out identically in
both ABIs (four RING_IDX, then private and padding bytes); the entries follow it.
This module keeps what is common to all of them: the header's field names and
offsets come from `sring_fields`, the entry count from `const_ring_size`.
"""
from ctypes import c_uint8, c_uint32

XEN_PAGE_SHIFT = 12


def RD32(x: int) -> int:
    """__RD32: round a 32-bit unsigned value down to a power of two (0 stays 0)."""
    x &= 0xFFFFFFFF
    return 1 << (x.bit_length() - 1) if x else 0


def sring_fields(abi, entry_union) -> list:
    """The fields of `struct <name>_sring` for one ABI: header, then ring[1]."""
    pvt = abi.union("sring_pvt", [
        ("netif", abi.struct("sring_pvt_netif", [("smartpoll_active", c_uint8)])),
        ("tapif_user", abi.struct("sring_pvt_tapif_user", [("msg", c_uint8)])),
        ("pvt_pad", c_uint8 * 4),
    ])
    return [("req_prod", c_uint32), ("req_event", c_uint32),
            ("rsp_prod", c_uint32), ("rsp_event", c_uint32),
            ("pvt", pvt), ("__pad", c_uint8 * 44),
            ("ring", entry_union * 1)]


def const_ring_size(sring_cls, ring_bytes: int = 1 << XEN_PAGE_SHIFT) -> int:
    """__CONST_RING_SIZE: how many entries of `sring_cls` fit in `ring_bytes`."""
    entry = sring_cls.ring.size
    return RD32((ring_bytes - sring_cls.ring.offset) // entry)
