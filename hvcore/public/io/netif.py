"""Network split driver: public/io/netif.h (tx and rx rings, extra info, control ring).

Every member is at most 32 bits wide, so the two ABIs lay netif out the same way:
tx request 12 bytes, tx response 4, rx request 8, rx response 8, extra info 8; both
data rings hold 256 entries in one page. Both flavours exist anyway, as for every
structure here, and the layout probe checks each against gcc -m64 and -m32.
"""
from ctypes import c_int16, c_uint8, c_uint16, c_uint32

from .. import struct_pair, union_pair
from .ring import sring_fields

XEN_NETIF_NR_SLOTS_MIN = 18
XEN_NETIF_MAX_TX_SIZE = 0xFFFF

# Control ring: hash types and algorithms, request types, statuses, gref flags.
XEN_NETIF_CTRL_HASH_TYPE_IPV4_bit = 0
XEN_NETIF_CTRL_HASH_TYPE_IPV4 = 1 << XEN_NETIF_CTRL_HASH_TYPE_IPV4_bit
XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP_bit = 1
XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP = 1 << XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP_bit
XEN_NETIF_CTRL_HASH_TYPE_IPV6_bit = 2
XEN_NETIF_CTRL_HASH_TYPE_IPV6 = 1 << XEN_NETIF_CTRL_HASH_TYPE_IPV6_bit
XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP_bit = 3
XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP = 1 << XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP_bit
XEN_NETIF_CTRL_HASH_ALGORITHM_NONE = 0
XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ = 1

XEN_NETIF_CTRL_TYPE_INVALID = 0
XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS = 1
XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS = 2
XEN_NETIF_CTRL_TYPE_SET_HASH_KEY = 3
XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE = 4
XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE = 5
XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING = 6
XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM = 7
XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE = 8
XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING = 9
XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING = 10

XEN_NETIF_CTRL_STATUS_SUCCESS = 0
XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED = 1
XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER = 2
XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW = 3

XEN_NETIF_CTRLF_GREF_readonly_bit = 0
XEN_NETIF_CTRLF_GREF_readonly = 1 << XEN_NETIF_CTRLF_GREF_readonly_bit

# netif_tx_request.flags
NETTXF_csum_blank_bit = 0
NETTXF_csum_blank = 1 << NETTXF_csum_blank_bit
NETTXF_data_validated_bit = 1
NETTXF_data_validated = 1 << NETTXF_data_validated_bit
NETTXF_more_data_bit = 2
NETTXF_more_data = 1 << NETTXF_more_data_bit
NETTXF_extra_info_bit = 3
NETTXF_extra_info = 1 << NETTXF_extra_info_bit

# netif_extra_info
XEN_NETIF_EXTRA_TYPE_NONE = 0
XEN_NETIF_EXTRA_TYPE_GSO = 1
XEN_NETIF_EXTRA_TYPE_MCAST_ADD = 2
XEN_NETIF_EXTRA_TYPE_MCAST_DEL = 3
XEN_NETIF_EXTRA_TYPE_HASH = 4
XEN_NETIF_EXTRA_TYPE_MAX = 5
XEN_NETIF_EXTRA_FLAG_MORE_bit = 0
XEN_NETIF_EXTRA_FLAG_MORE = 1 << XEN_NETIF_EXTRA_FLAG_MORE_bit
XEN_NETIF_GSO_TYPE_NONE = 0
XEN_NETIF_GSO_TYPE_TCPV4 = 1
XEN_NETIF_GSO_TYPE_TCPV6 = 2

# netif_rx_response.flags
NETRXF_data_validated_bit = 0
NETRXF_data_validated = 1 << NETRXF_data_validated_bit
NETRXF_csum_blank_bit = 1
NETRXF_csum_blank = 1 << NETRXF_csum_blank_bit
NETRXF_more_data_bit = 2
NETRXF_more_data = 1 << NETRXF_more_data_bit
NETRXF_extra_info_bit = 3
NETRXF_extra_info = 1 << NETRXF_extra_info_bit
NETRXF_gso_prefix_bit = 4
NETRXF_gso_prefix = 1 << NETRXF_gso_prefix_bit

NETIF_RSP_DROPPED = -2
NETIF_RSP_ERROR = -1
NETIF_RSP_OKAY = 0
NETIF_RSP_NULL = 1          # padding responses for extra-info slots

# ---- control ring -------------------------------------------------------------------
xen_netif_ctrl_request_64, xen_netif_ctrl_request_32 = struct_pair(
    "xen_netif_ctrl_request",
    lambda abi: [("id", c_uint16), ("type", c_uint16), ("data", c_uint32 * 3)])

xen_netif_ctrl_response_64, xen_netif_ctrl_response_32 = struct_pair(
    "xen_netif_ctrl_response",
    lambda abi: [("id", c_uint16), ("type", c_uint16), ("status", c_uint32),
                 ("data", c_uint32)])

xen_netif_gref_64, xen_netif_gref_32 = struct_pair(
    "xen_netif_gref",
    lambda abi: [("ref", c_uint32), ("flags", c_uint16), ("status", c_uint16)])

# ---- data rings ---------------------------------------------------------------------
netif_tx_request_64, netif_tx_request_32 = struct_pair(
    "netif_tx_request",
    lambda abi: [("gref", c_uint32), ("offset", c_uint16), ("flags", c_uint16),
                 ("id", c_uint16), ("size", c_uint16)])


def _extra_info(abi):
    gso = abi.struct("netif_extra_info_gso", [
        ("size", c_uint16), ("type", c_uint8), ("pad", c_uint8), ("features", c_uint16)])
    mcast = abi.struct("netif_extra_info_mcast", [("addr", c_uint8 * 6)])
    hash_ = abi.struct("netif_extra_info_hash", [
        ("type", c_uint8), ("algorithm", c_uint8), ("value", c_uint8 * 4)])
    u = abi.union("netif_extra_info_u", [
        ("gso", gso), ("mcast", mcast), ("hash", hash_), ("pad", c_uint16 * 3)])
    return [("type", c_uint8), ("flags", c_uint8), ("u", u)]


netif_extra_info_64, netif_extra_info_32 = struct_pair("netif_extra_info", _extra_info)

netif_tx_response_64, netif_tx_response_32 = struct_pair(
    "netif_tx_response", lambda abi: [("id", c_uint16), ("status", c_int16)])

netif_rx_request_64, netif_rx_request_32 = struct_pair(
    "netif_rx_request", lambda abi: [("id", c_uint16), ("pad", c_uint16), ("gref", c_uint32)])

netif_rx_response_64, netif_rx_response_32 = struct_pair(
    "netif_rx_response",
    lambda abi: [("id", c_uint16), ("offset", c_uint16), ("flags", c_uint16),
                 ("status", c_int16)])


def _ring_pair(name: str, request_pair, response_pair):
    """DEFINE_RING_TYPES(name, request, response): the entry union and the sring."""
    entry = union_pair(f"{name}_sring_entry", lambda abi: [
        ("req", abi.pick(*request_pair)), ("rsp", abi.pick(*response_pair))])
    sring = struct_pair(f"{name}_sring", lambda abi: sring_fields(abi, abi.pick(*entry)))
    return entry, sring


(netif_tx_sring_entry_64, netif_tx_sring_entry_32), (netif_tx_sring_64, netif_tx_sring_32) = \
    _ring_pair("netif_tx", (netif_tx_request_64, netif_tx_request_32),
               (netif_tx_response_64, netif_tx_response_32))
(netif_rx_sring_entry_64, netif_rx_sring_entry_32), (netif_rx_sring_64, netif_rx_sring_32) = \
    _ring_pair("netif_rx", (netif_rx_request_64, netif_rx_request_32),
               (netif_rx_response_64, netif_rx_response_32))
(xen_netif_ctrl_sring_entry_64, xen_netif_ctrl_sring_entry_32), \
    (xen_netif_ctrl_sring_64, xen_netif_ctrl_sring_32) = \
    _ring_pair("xen_netif_ctrl", (xen_netif_ctrl_request_64, xen_netif_ctrl_request_32),
               (xen_netif_ctrl_response_64, xen_netif_ctrl_response_32))
