"""PV console ring page: public/io/console.h."""

from ctypes import c_char, c_uint32

from .. import struct_pair


# Ring indices run freely and are masked by the (power-of-two) ring size on use.
def MASK_XENCONS_IDX(idx: int, ring_size: int) -> int:
    return idx & (ring_size - 1)


xencons_interface_64, xencons_interface_32 = struct_pair("xencons_interface", lambda abi: [
    ("in", c_char * 1024),
    ("out", c_char * 2048),
    ("in_cons", c_uint32),
    ("in_prod", c_uint32),
    ("out_cons", c_uint32),
    ("out_prod", c_uint32),
])
