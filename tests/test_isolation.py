"""Isolation between domains, from a hostile guest kernel (guests/kernels/isolation.c)
attacking a victim through a real host: grants not granted or granted to somebody
else, forged entries, foreign MMU hypercalls, another domain's event channels,
exhausted ports, xenstore outside its permissions, floods up to every quota,
malformed and oversized messages. Each attempt gets Xen's answer; the victim then
checks its memory, grant entries, port and xenstore node unchanged, xenstored still
serves it and a new domain, and the host is still up."""
import re

import pytest

from conftest import kernel
from reliability import record
from test_toolstack_cli import _domains, _ready, _wait_gone, host  # noqa: F401 (fixture)

ATTACKS = [
    ("map a ref granted to somebody else", -1),
    ("map a ref granted to somebody else, read-only", -1),
    ("map a read-only ref writable", -1),
    ("map a ref never granted (ref 100)", -1),
    ("map a reserved ref (ref 0)", -1),
    ("map a ref past the table", -3),
    ("map from a domain that does not exist", -2),
    ("map the read-only ref read-only (allowed)", 0),
    ("write through it: #PF error code", 3),
    ("unmap it", 0),
    ("copy from a victim frame without a grant", -8),
    ("copy into a victim frame without a grant", -8),
    ("copy into the read-only ref", -1),
    ("copy into a ref granted to somebody else", -1),
    ("forged entry: a frame beyond our memory", -9),
    ("forged entry: a transfer entry mapped", -1),
    ("forged entry: in-use flags, another domid", -1),
    ("forged entry: the victim's frame number + 4 GiB", -9),
    ("forged entry: our own L1 table, mapped writable", -1),
    ("forged entry: a data page of ours, writable (allowed)", 0),
    ("pin it as an L1 table while grant-mapped writable", -22),
    ("pin it once unmapped (allowed)", 0),
    ("mmu_update with foreigndom = the victim", -1),
    ("mmu_update with foreigndom = ourselves by number", -3),
    ("mmuext_op with foreigndom = the victim", -1),
    ("update_va_mapping_otherdomain on the victim", -1),
    ("mmu_update with foreigndom = DOMID_SELF (allowed)", 0),
    ("bind the victim's port offered to somebody else", -22),
    ("bind the victim's xenstore port (bound to dom0)", -22),
    ("bind each of the victim's ports 0-63: refused", 64),
    ("bind a victim port past the limit", -22),
    ("alloc_unbound in the victim's name", -1),
    ("status of the victim's port", -1),
    ("status of a port of a domain that does not exist", -3),
    ("the victim's current reservation", -1),
    ("the reservation of a domain that does not exist", -3),
    ("send on a port never allocated", -22),
    ("close a port never allocated", -22),
    ("unmask a port past the limit", -22),
    ("send on a port past the limit", -22),
    ("send on our unbound port (dropped)", 0),
    ("close it", 0),
    ("send on the closed port", -22),
    ("close it again", -22),
    ("allocate ports until none are left", -28),
    ("bind an IPI with no port left", -28),
    ("xenstore: read the victim's private node", -13),
    ("xenstore: overwrite it", -13),
    ("xenstore: remove it", -13),
    ("xenstore: take it over with SET_PERMS", -13),
    ("xenstore: plant a node in the victim's home", -13),
    ("xenstore: list the victim's home", -13),
    ("xenstore: remove the victim's home", -13),
    ("xenstore: write at the root", -13),
    ("xenstore: RELEASE the victim", -13),
    ("xenstore: watches until the quota (ENOSPC)", -28),
    ("xenstore: transactions until the quota (ENOSPC)", -28),
    ("xenstore: nodes until the quota (ENOSPC)", -28),
    ("xenstore: a 3000-byte value (node size quota)", -28),
    ("xenstore: unknown message type", -38),
    ("xenstore: READ without its NUL", -22),
    ("xenstore: READ in a transaction never started", -2),
    ("xenstore: WATCH with one argument", -22),
    ("xenstore: TRANSACTION_END with X", -22),
    ("xenstore: still answers after all that", 0),
    ("xenstore: oversized message: the ring's error field", 3),      # XENSTORE_ERROR_PROTO
]


def _cfg(tmp, name, abi, extra):
    path = tmp / f"{name}.cfg"
    path.write_text(f'name = "{name}"\nkernel = "{kernel(abi, "isolation")}"\n'
                    f'memory = 32\nextra = "{extra}"\non_crash = "destroy"\n')
    return path


@pytest.mark.parametrize("victim_abi, attacker_abi", [("pv64", "pv32"), ("pv32", "pv64")])
def test_hostile_guest_cannot_reach_its_victim(host, victim_abi, attacker_abi):
    hv, tmp = host
    state = tmp / "state"
    assert hv("create", _cfg(tmp, "victim", victim_abi, "role=1 peer=2")).code == 0
    _ready(hv, tmp, 1, "victim ready")
    assert hv("create", _cfg(tmp, "attacker", attacker_abi, "role=2 peer=1")).code == 0
    _wait_gone(hv, "attacker", limit=300)      # ~6 s idle; minutes at load 15
    out = (state / "d2.log").read_text()
    for what, rc in ATTACKS:
        assert f"isolation: {what:<52} -> {rc} OK" in out, (what, out[-3000:])
    assert "isolation: PASS" in out, out[-3000:]
    ports = int(re.search(r"took (\d+) ports", out)[1])
    watches = int(re.search(r"xenstore took (\d+) watches", out)[1])
    transactions = int(re.search(r"xenstore took (\d+) transactions", out)[1])
    assert (watches, transactions) == (128, 10)            # C xenstored's default quotas
    assert ports == (4096 if attacker_abi == "pv64" else 1024) - 3   # 0, console, store
    made = int(re.search(r"(\d+) attacks made", out)[1])
    # the attacker's connection is gone; xenstored serves the victim and the tools
    assert hv("xenstore", "write", "/local/domain/1/data/go", "1").code == 0
    _wait_gone(hv, "victim", limit=60)
    victim_log = (state / "d1.log").read_text()
    assert "victim memory (6 pages), grant entries, port and xenstore unchanged" in victim_log
    assert "isolation: PASS" in victim_log, victim_log
    # and a new domain gets a working store
    cfg = tmp / "after.cfg"
    cfg.write_text(f'name = "after"\nkernel = "{kernel("pv64", "xenstore")}"\nmemory = 32\n')
    assert hv("create", cfg).code == 0
    _wait_gone(hv, "after", limit=60)
    assert "xenstore: PASS" in (state / "d3.log").read_text()
    dmesg = hv("dmesg").stdout
    assert "d2 (attacker) poweroff" in dmesg and "d1 (victim) poweroff" in dmesg
    assert "Traceback" not in dmesg and "hypervisor bug" not in dmesg
    record("isolation", f"{victim_abi}-victim/{attacker_abi}-attacker",
           attacks=made, kinds=len(ATTACKS), ports_exhausted=ports,
           watch_quota=watches, transaction_quota=transactions)
