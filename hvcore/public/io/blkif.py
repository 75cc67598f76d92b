"""Block split driver: public/io/blkif.h (requests and responses on a shared ring).

The request's uint64_t members make the two ABIs differ: gcc -m32 aligns them to 4,
so the x86_32-abi request is 108 bytes (id @4) where x86_64-abi's is 112 (id @8), and
the response 12 bytes instead of 16. Both rings hold 32 entries in one page.
"""
from ctypes import c_int16, c_uint8, c_uint16, c_uint32, c_uint64

from .. import struct_pair, union_pair
from .ring import sring_fields

BLKIF_OP_READ = 0
BLKIF_OP_WRITE = 1
BLKIF_OP_WRITE_BARRIER = 2
BLKIF_OP_FLUSH_DISKCACHE = 3
BLKIF_OP_RESERVED_1 = 4
BLKIF_OP_DISCARD = 5
BLKIF_OP_INDIRECT = 6

BLKIF_MAX_SEGMENTS_PER_REQUEST = 11
BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST = 8
BLKIF_DISCARD_SECURE = 1 << 0

BLKIF_RSP_EOPNOTSUPP = -2
BLKIF_RSP_ERROR = -1
BLKIF_RSP_OKAY = 0

VDISK_CDROM = 0x1
VDISK_REMOVABLE = 0x2
VDISK_READONLY = 0x4

blkif_request_segment_64, blkif_request_segment_32 = struct_pair(
    "blkif_request_segment",
    lambda abi: [("gref", c_uint32), ("first_sect", c_uint8), ("last_sect", c_uint8)])


def _blkif_request(abi):
    seg = abi.pick(blkif_request_segment_64, blkif_request_segment_32)
    return [("operation", c_uint8), ("nr_segments", c_uint8), ("handle", c_uint16),
            ("id", c_uint64), ("sector_number", c_uint64),
            ("seg", seg * BLKIF_MAX_SEGMENTS_PER_REQUEST)]


blkif_request_64, blkif_request_32 = struct_pair("blkif_request", _blkif_request)

blkif_request_discard_64, blkif_request_discard_32 = struct_pair(
    "blkif_request_discard", lambda abi: [
        ("operation", c_uint8), ("flag", c_uint8), ("handle", c_uint16),
        ("id", c_uint64), ("sector_number", c_uint64), ("nr_sectors", c_uint64)])


def _blkif_request_indirect(abi):
    fields = [("operation", c_uint8), ("indirect_op", c_uint8), ("nr_segments", c_uint16),
              ("id", c_uint64), ("sector_number", c_uint64), ("handle", c_uint16),
              ("indirect_grefs", c_uint32 * BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST)]
    return fields + abi.pick([], [("pad", c_uint64)])    # 64-byte aligned on i386


blkif_request_indirect_64, blkif_request_indirect_32 = struct_pair(
    "blkif_request_indirect", _blkif_request_indirect)

blkif_response_64, blkif_response_32 = struct_pair("blkif_response", lambda abi: [
    ("id", c_uint64), ("operation", c_uint8), ("status", c_int16)])

blkif_sring_entry_64, blkif_sring_entry_32 = union_pair("blkif_sring_entry", lambda abi: [
    ("req", abi.pick(blkif_request_64, blkif_request_32)),
    ("rsp", abi.pick(blkif_response_64, blkif_response_32))])

blkif_sring_64, blkif_sring_32 = struct_pair("blkif_sring", lambda abi: sring_fields(
    abi, abi.pick(blkif_sring_entry_64, blkif_sring_entry_32)))
