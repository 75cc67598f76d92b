"""Xen's rule across processes: a page table is never mapped writable through a grant,
and a frame another domain maps writable through a grant cannot become a page table.
The granting domain is a real booted PV domain; the host's side of its grant table is
built from its memfds, as the host builds it."""
import struct

import pytest

from conftest import kernel
from hvcore import hypercalls
from hvcore.grant_table import GrantError, HostGrantTable
from hvcore.hypercalls.mm import page_types
from hvcore.public import grant_table as G
from loaders.elf import load_kernel
from loaders.pv_builder import build_pv_domain

MAPPER = 5


@pytest.fixture(params=["pv64", "pv32"])
def granter(request, guests):
    hypercalls.load_families()
    dom = build_pv_domain(load_kernel(str(kernel(request.param, "hello"))), 16, "", 1, "g",
                          lambda data: None)
    host = HostGrantTable(dom.domid, dom.ram.map, dom.nr_pages, dom.grants.region.fd)
    yield dom, host
    host.close()
    dom.destroy()


def _grant(dom, ref: int, frame: int) -> None:
    """What the guest's gnttab_grant_access writes (frame and domid, then the flags)."""
    dom.grants.region.map[ref * 8:ref * 8 + 8] = struct.pack(
        "<HHI", G.GTF_permit_access, MAPPER, frame)


def test_a_page_table_is_never_mapped_writable(granter):
    dom, host = granter
    types = page_types(dom)
    table = next(mfn for mfn, info in types.pages.items() if info.count and info.type == 1)
    _grant(dom, 8, table)
    with pytest.raises(GrantError) as refused:
        host.map(8, mapper=MAPPER, readonly=False)
    assert refused.value.status == G.GNTST_general_error
    flags = struct.unpack_from("<H", dom.grants.region.map, 8 * 8)[0]
    assert not flags & (G.GTF_reading | G.GTF_writing)         # refused: left as it was
    mapping = host.map(8, mapper=MAPPER, readonly=True)         # reading it is fine
    mapping.unmap()


def test_a_frame_mapped_writable_elsewhere_cannot_become_a_table(granter):
    dom, host = granter
    types = page_types(dom)
    free = dom.nr_pages - 1                                     # nothing maps it
    dom.mem.zero(free << 12, 4096)                              # an empty, valid L1
    _grant(dom, 9, free)
    mapping = host.map(9, mapper=MAPPER, readonly=False)
    assert not types.pin(free, 1)                               # -EINVAL in the guest
    mapping.unmap()
    assert types.pin(free, 1)                                   # free of it: allowed
    assert types.unpin(free)
