"""The shared-ring back end against ring.h's rules, with the front end's side done by
hand on a real page; and the ring size against gcc's __CONST_RING_SIZE."""
import mmap
import subprocess

import pytest

from hvcore.backends.blkback import PROTOCOLS
from hvcore.backends.ring import BackRing, RingOverflow
from hvcore.public.io.protocols import XEN_IO_PROTO_ABI_X86_32, XEN_IO_PROTO_ABI_X86_64
from hvcore.shared_word import load_u32, store_u32

LAYOUTS = [PROTOCOLS[XEN_IO_PROTO_ABI_X86_64].ring, PROTOCOLS[XEN_IO_PROTO_ABI_X86_32].ring]


def _front_init(page, lay):        # SHARED_RING_INIT
    store_u32(page, lay.req_prod, 0)
    store_u32(page, lay.rsp_prod, 0)
    store_u32(page, lay.req_event, 1)
    store_u32(page, lay.rsp_event, 1)


def _produce(page, lay, index: int, tag: int) -> None:
    at = lay.entries + (index % lay.size) * lay.entry_size
    page[at:at + 4] = tag.to_bytes(4, "little")


@pytest.mark.parametrize("lay", LAYOUTS, ids=["x86_64", "x86_32"])
def test_requests_responses_and_events(lay):
    page = mmap.mmap(-1, 4096)
    _front_init(page, lay)
    back = BackRing(memoryview(page), lay)
    assert back.unconsumed_requests() == 0
    assert not back.final_check_for_requests()
    assert load_u32(page, lay.req_event) == 1              # wake me at the next one
    for i in range(3):
        _produce(page, lay, i, 100 + i)
    store_u32(page, lay.req_prod, 3)
    assert back.unconsumed_requests() == 3
    taken = [int.from_bytes(back.take_request()[:4], "little") for _ in range(3)]
    assert taken == [100, 101, 102]
    back.put_response(b"\x01" * lay.response_size)
    assert load_u32(page, lay.rsp_prod) == 0                # not visible before the push
    assert back.push_responses_and_check_notify()           # rsp_event 1 is crossed
    assert load_u32(page, lay.rsp_prod) == 1
    store_u32(page, lay.rsp_event, 10)                      # front wants the 10th only
    back.put_response(b"\x02" * lay.response_size)
    assert not back.push_responses_and_check_notify()
    assert not back.final_check_for_requests()
    assert load_u32(page, lay.req_event) == 4


@pytest.mark.parametrize("lay", LAYOUTS, ids=["x86_64", "x86_32"])
def test_no_more_requests_than_free_responses_and_overflow(lay):
    page = mmap.mmap(-1, 4096)
    _front_init(page, lay)
    back = BackRing(memoryview(page), lay, start=0xFFFFFFF0)    # indexes wrap
    store_u32(page, lay.req_prod, (0xFFFFFFF0 + lay.size) & 0xFFFFFFFF)
    assert back.unconsumed_requests() == lay.size
    store_u32(page, lay.req_prod, (0xFFFFFFF0 + lay.size + 1) & 0xFFFFFFFF)
    with pytest.raises(RingOverflow):
        back.unconsumed_requests()


def test_ring_size_matches_the_header(tmp_path):
    src = tmp_path / "size.c"
    src.write_text('#include <stddef.h>\n#include <stdint.h>\n#include <stdio.h>\n'
                   '#include <xen/io/blkif.h>\nint main(void) { printf("%lu\\n", '
                   '(unsigned long)__CONST_RING_SIZE(blkif, 4096)); return 0; }\n')
    for flag, lay in (("-m64", LAYOUTS[0]), ("-m32", LAYOUTS[1])):
        exe = tmp_path / f"size{flag}"
        subprocess.run(["gcc", flag, "-o", str(exe), str(src)], check=True)
        assert int(subprocess.run([str(exe)], capture_output=True, text=True).stdout) == lay.size
        assert lay.size == 32
