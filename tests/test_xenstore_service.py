"""dom0's xenstored serving a domain's ring from another process: requests written into
the guest's real xenstore page (through our mapping of its memfd) are answered there."""
import pytest

from conftest import kernel
from hvcore.host.domain_process import spawn_domain
from hvcore.public.io import xs_wire as w
from hvcore.xenstore import ClientRing, Message, XenStore


@pytest.fixture
def served(guests):
    # a guest that computes for a long time; we speak on its ring in its place
    dp = spawn_domain(kernel("pv64", "loop"), domid=5, name="svc",
                      cmdline="iters=1000000000000")
    server = XenStore()
    dp.attach_xenstore(server)
    page = memoryview(dp.ram)[dp.info["store_pfn"] * 4096:][:4096]
    client = ClientRing(page)
    yield dp, server, client
    client.page.release()
    page.release()
    dp.close()


def _ask(dp, client, type_, *parts: bytes, req_id=1) -> Message:
    client.send(Message(type_, req_id, 0, b"".join(parts)).pack())
    dp.service_xenstore()
    replies = [Message.unpack(r) for r in client.read_responses()]
    assert len(replies) == 1
    assert replies[0].req_id == req_id
    return replies[0]


def test_layout_and_read_write_over_the_ring(served):
    dp, server, client = served
    reply = _ask(dp, client, w.XS_READ, b"domid\0")
    assert reply.type == w.XS_READ and reply.payload == b"5"
    assert _ask(dp, client, w.XS_READ, b"name\0").payload == b"svc"
    assert _ask(dp, client, w.XS_WRITE, b"data/greeting\0", b"hello", req_id=2).type == w.XS_WRITE
    assert _ask(dp, client, w.XS_READ, b"data/greeting\0", req_id=3).payload == b"hello"
    # dom0 sees the guest's write in the same store
    from hvcore.xenstore import DOM0
    assert server.store.read(DOM0, "/local/domain/5/data/greeting") == b"hello"


def test_guest_cannot_read_dom0_private_nodes(served):
    dp, server, client = served
    reply = _ask(dp, client, w.XS_READ, b"/local/domain/0/name\0")
    assert reply.type == w.XS_ERROR
    assert reply.payload.rstrip(b"\0") in (b"EACCES", b"ENOENT")
