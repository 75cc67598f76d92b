"""populate_domain: the entries and permissions xl gives a new domain."""
from __future__ import annotations

import pytest

from hvcore.xenstore import DOM0, Caller, Store, XsError, perms_of, populate_domain


def perms(store: Store, path: str) -> list[str]:
    return [str(p) for p in store.get_perms(DOM0, path)]


@pytest.fixture
def store() -> Store:
    store = Store()
    populate_domain(store, 3, "guest", memory_kb=262144, vcpus=2, uuid="1234abcd-0000-0000-"
                    "0000-000000000003", store_port=1, store_ring_ref=0x1234, console_port=2,
                    console_ring_ref=0x1235)
    return store


def test_values(store):
    home = "/local/domain/3"
    expect = {
        "name": b"guest", "domid": b"3", "vm": b"/vm/1234abcd-0000-0000-0000-000000000003",
        "memory/target": b"262144", "memory/static-max": b"262144",
        "cpu/0/availability": b"online", "cpu/1/availability": b"online",
        "store/port": b"1", "store/ring-ref": str(0x1234).encode(),
        "console/port": b"2", "console/ring-ref": str(0x1235).encode(),
        "console/type": b"xenconsoled", "console/backend-id": b"0",
        "control/shutdown": b"", "device": b"",
        "control/platform-feature-xs_reset_watches": b"1",
    }
    for key, value in expect.items():
        assert store.read(DOM0, f"{home}/{key}") == value, key
    vm = "/vm/1234abcd-0000-0000-0000-000000000003"
    assert store.read(DOM0, f"{vm}/name") == b"guest"
    assert store.read(DOM0, f"{vm}/uuid") == b"1234abcd-0000-0000-0000-000000000003"


def test_permissions(store):
    home = "/local/domain/3"
    assert perms(store, home) == ["n0", "r3"]
    assert perms(store, f"{home}/name") == ["n0", "r3"]
    assert perms(store, f"{home}/device") == ["n0", "r3"]
    assert perms(store, f"{home}/control") == ["n0", "r3"]
    assert perms(store, f"{home}/control/shutdown") == ["n3"]
    assert perms(store, f"{home}/data") == ["n3"]
    assert perms(store, f"{home}/console") == ["n3", "r0"]
    assert perms(store, f"{home}/console/ring-ref") == ["n0", "r3"]
    assert perms(store, "/vm/1234abcd-0000-0000-0000-000000000003") == ["n0", "r3"]


def test_what_the_guest_may_do(store):
    guest, other = Caller(3), Caller(4)
    assert store.read(guest, "name") == b"guest"
    assert store.read(guest, "memory/target") == b"262144"
    store.write(guest, "control/feature-poweroff", b"1")
    store.write(guest, "data/anything", b"x")
    with pytest.raises(XsError):                      # device/ is dom0's: the toolstack
        store.write(guest, "device/vbd/768/state", b"1")  # makes each frontend dir ...
    store.write(DOM0, "/local/domain/3/device/vbd/768", b"")
    store.set_perms(DOM0, "/local/domain/3/device/vbd/768", perms_of("n3", "r0"))
    store.write(guest, "device/vbd/768/state", b"1")  # ... which the guest then owns
    for path, value in (("name", b"x"), ("memory/target", b"1"), ("newkey", b"x")):
        with pytest.raises(XsError) as err:
            store.write(guest, path, value)
        assert err.value.name == "EACCES", path
    with pytest.raises(XsError) as err:
        store.read(other, "/local/domain/3/name")
    assert err.value.name == "EACCES"


def test_repopulating_replaces_stale_entries(store):
    store.write(DOM0, "/local/domain/3/stale", b"x")
    populate_domain(store, 3, "renamed", memory_kb=1024,
                    uuid="1234abcd-0000-0000-0000-000000000003")
    assert not store.exists(DOM0, "/local/domain/3/stale")
    assert store.read(DOM0, "/local/domain/3/name") == b"renamed"
    assert not store.exists(DOM0, "/local/domain/3/store/port")


def test_default_uuid_is_stable_and_hvm_gets_hvmloader():
    a, b = Store(), Store()
    la = populate_domain(a, 5, "x", memory_kb=1, hvm=True)
    lb = populate_domain(b, 5, "x", memory_kb=1)
    assert la.uuid == lb.uuid and la.vm_path == f"/vm/{la.uuid}"
    assert a.exists(DOM0, "/local/domain/5/hvmloader")
    assert not b.exists(DOM0, "/local/domain/5/hvmloader")
    assert perms(a, "/local/domain/5/hvmloader") == ["n5"]


def test_entries_appear_atomically_for_watchers():
    store = Store()
    seen = []
    store.listeners.append(lambda change: seen.append(
        (change.path, store.exists(DOM0, "/local/domain/6/name"))))
    populate_domain(store, 6, "w", memory_kb=1)
    assert seen and all(name_exists for _, name_exists in seen)
