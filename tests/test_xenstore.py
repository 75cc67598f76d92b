"""xenstored library: the store, permissions, transactions, watches, quotas and the
wire protocol, driven through XenStore.handle exactly as a ring or socket would."""
from __future__ import annotations

import random
import struct

import pytest

from hvcore.public.io import xs_wire as w
from hvcore.xenstore import (DOM0, Caller, Connection, Message, Quota, Store, XenStore,
                             XsError, perms_of, populate_domain)


class Client:
    """One connection to a XenStore: sends requests, collects asynchronous messages."""

    def __init__(self, server: XenStore, domid: int) -> None:
        self.server = server
        self.pushed: list[Message] = []
        self.conn = Connection(domid, lambda raw: self.pushed.append(Message.unpack(raw)))
        self._req_id = 0

    def raw(self, data: bytes) -> list[Message]:
        return [Message.unpack(m) for m in self.server.handle(self.conn, data)]

    def send(self, type_: int, payload: bytes, tx: int = 0) -> list[Message]:
        """All messages for one request; exactly one of them is the reply."""
        self._req_id += 1
        messages = self.raw(Message(type_, self._req_id, tx, payload).pack())
        replies = [m for m in messages if m.type != w.XS_WATCH_EVENT]
        assert len(replies) == 1 and replies[0].req_id == self._req_id
        assert replies[0].tx_id == tx
        return messages

    def reply(self, type_: int, *args: str | bytes, tx: int = 0) -> Message:
        payload = b"".join((a.encode() if isinstance(a, str) else a) + b"\0" for a in args)
        return self.reply_raw(type_, payload, tx)

    def reply_raw(self, type_: int, payload: bytes, tx: int = 0) -> Message:
        messages = self.send(type_, payload, tx)
        self.pushed += [m for m in messages if m.type == w.XS_WATCH_EVENT]
        return next(m for m in messages if m.type != w.XS_WATCH_EVENT)

    def ok(self, type_: int, *args: str | bytes, tx: int = 0) -> bytes:
        msg = self.reply(type_, *args, tx=tx)
        assert msg.type == type_, f"{msg.payload!r}"
        return msg.payload

    def error(self, type_: int, *args: str | bytes, tx: int = 0) -> str:
        msg = self.reply(type_, *args, tx=tx)
        assert msg.type == w.XS_ERROR, f"expected an error, got {msg}"
        return msg.payload.rstrip(b"\0").decode()

    # shorthands
    def write(self, path: str, value: bytes | str, tx: int = 0) -> None:
        value = value.encode() if isinstance(value, str) else value
        assert self.ok_raw(w.XS_WRITE, path.encode() + b"\0" + value, tx) == b"OK\0"

    def ok_raw(self, type_: int, payload: bytes, tx: int = 0) -> bytes:
        msg = self.reply_raw(type_, payload, tx)
        assert msg.type == type_, f"{msg.payload!r}"
        return msg.payload

    def read(self, path: str, tx: int = 0) -> bytes:
        return self.ok(w.XS_READ, path, tx=tx)

    def directory(self, path: str, tx: int = 0) -> list[str]:
        payload = self.ok(w.XS_DIRECTORY, path, tx=tx)
        return payload.decode().split("\0")[:-1]

    def events(self) -> list[tuple[str, str]]:
        out = [tuple(m.payload.decode().split("\0")[:2]) for m in self.pushed]
        self.pushed.clear()
        return out

    def start(self) -> int:
        return int(self.ok(w.XS_TRANSACTION_START, "").rstrip(b"\0"))


@pytest.fixture
def server() -> XenStore:
    xs = XenStore()
    for domid, name in ((1, "one"), (2, "two")):
        populate_domain(xs.store, domid, name, memory_kb=65536)
    return xs


@pytest.fixture
def dom0(server) -> Client:
    return Client(server, 0)


@pytest.fixture
def g1(server) -> Client:
    return Client(server, 1)


@pytest.fixture
def g2(server) -> Client:
    return Client(server, 2)


# -- basic database operations ---------------------------------------------------------
def test_write_read_and_implicit_parents(dom0):
    dom0.write("/a/b/c", b"x\0y")           # values are bytes, NULs included
    assert dom0.read("/a/b/c") == b"x\0y"
    assert dom0.read("/a/b") == b""
    assert dom0.directory("/a") == ["b"]
    dom0.write("/a/b/c", "new")
    assert dom0.read("/a/b/c") == b"new"


def test_read_missing_is_enoent(dom0):
    assert dom0.error(w.XS_READ, "/nope") == "ENOENT"
    assert dom0.error(w.XS_READ, "/nope/deeper") == "ENOENT"


def test_directory_keeps_creation_order(dom0):
    for name in ("zeta", "alpha", "mid"):
        dom0.write(f"/d/{name}", "")
    assert dom0.directory("/d") == ["zeta", "alpha", "mid"]
    assert dom0.directory("/d/zeta") == []
    assert dom0.ok(w.XS_DIRECTORY, "/d/zeta") == b""


def test_mkdir_creates_and_keeps_existing(dom0):
    assert dom0.ok(w.XS_MKDIR, "/m/n/o") == b"OK\0"
    assert dom0.read("/m/n/o") == b""
    dom0.write("/m/n", "keep")
    dom0.ok(w.XS_MKDIR, "/m/n")
    assert dom0.read("/m/n") == b"keep"


def test_rm_removes_subtree(dom0):
    dom0.write("/r/a/b", "1")
    dom0.write("/r/a/c", "2")
    dom0.write("/r/keep", "3")
    dom0.ok(w.XS_RM, "/r/a")
    assert dom0.directory("/r") == ["keep"]
    assert dom0.error(w.XS_READ, "/r/a/b") == "ENOENT"
    assert "/r/a/b" not in dom0.server.store.tree


def test_rm_missing_node_needs_a_parent(dom0):
    dom0.write("/r", "")
    assert dom0.ok(w.XS_RM, "/r/absent") == b"OK\0"
    assert dom0.error(w.XS_RM, "/r/absent/deeper") == "ENOENT"
    assert dom0.error(w.XS_RM, "/") == "EINVAL"


def test_relative_paths_are_under_the_domain_home(g1, dom0):
    g1.write("data/x", "1")
    assert dom0.read("/local/domain/1/data/x") == b"1"
    assert g1.read("data/x") == b"1"
    assert g1.read("name") == b"one"
    assert dom0.error(w.XS_READ, "name") == "ENOENT"         # /local/domain/0/name


def test_get_domain_path(g1):
    assert g1.ok(w.XS_GET_DOMAIN_PATH, "7") == b"/local/domain/7\0"
    assert g1.error(w.XS_GET_DOMAIN_PATH, "seven") == "EINVAL"
    assert g1.error(w.XS_GET_DOMAIN_PATH, "70000") == "EINVAL"


@pytest.mark.parametrize("path", [
    "/a b", "/a//b", "/a/", "", "/a/\u00e9", "/a*", "@introduceDomain", "@foo", "/a\tb",
    "/" + "x" * w.XENSTORE_ABS_PATH_MAX,
])
def test_invalid_paths_are_einval(dom0, path):
    payload = path.encode("latin-1") + b"\0"
    assert dom0.reply_raw(w.XS_READ, payload).payload == b"EINVAL\0"
    assert dom0.reply_raw(w.XS_WRITE, payload + b"v").payload == b"EINVAL\0"


def test_path_length_limits(dom0, g1):
    longest = "/" + "x" * (w.XENSTORE_ABS_PATH_MAX - 1)
    assert dom0.error(w.XS_READ, longest) == "ENOENT"        # valid, just missing
    assert dom0.error(w.XS_READ, longest + "x") == "EINVAL"
    # guests: at most XENSTORE_REL_PATH_MAX after /local/domain/<id>/, or in all
    rel = "y" * (w.XENSTORE_REL_PATH_MAX - 5)
    assert g1.error(w.XS_READ, "data/" + rel) == "ENOENT"
    assert g1.error(w.XS_READ, "data/" + rel + "y") == "EINVAL"
    assert g1.error(w.XS_READ, "/" + "z" * (w.XENSTORE_REL_PATH_MAX - 1)) == "EACCES"
    assert g1.error(w.XS_READ, "/" + "z" * w.XENSTORE_REL_PATH_MAX) == "EINVAL"
    allowed = "/Az09-_@/x"
    dom0.write(allowed, "ok")
    assert dom0.read(allowed) == b"ok"


# -- permissions -----------------------------------------------------------------------
def test_guest_cannot_read_other_guest_or_dom0_nodes(dom0, g1, g2):
    dom0.write("/secret", "s")
    g2.write("data/mine", "m")
    assert g1.error(w.XS_READ, "/secret") == "EACCES"
    assert g1.error(w.XS_READ, "/local/domain/2/data/mine") == "EACCES"
    assert g1.error(w.XS_READ, "/local/domain/2/name") == "EACCES"
    assert g1.error(w.XS_DIRECTORY, "/local/domain") == "EACCES"
    assert dom0.read("/local/domain/2/data/mine") == b"m"     # dom0 may do anything


def test_missing_node_errors_do_not_leak(dom0, g1):
    # Under a node the guest can read and write: ENOENT. Under one it cannot: EACCES.
    assert g1.error(w.XS_READ, "data/none") == "ENOENT"
    assert g1.error(w.XS_READ, "/local/domain/2/data/none") == "EACCES"
    assert g1.error(w.XS_READ, "/nothing/here") == "EACCES"
    assert dom0.error(w.XS_READ, "/nothing/here") == "ENOENT"


def test_guest_write_needs_write_permission(dom0, g1):
    assert g1.error(w.XS_WRITE, "name", "evil") == "EACCES"          # read-only (n0,r1)
    assert g1.error(w.XS_WRITE, "newkey", "x") == "EACCES"           # home is read-only
    assert g1.error(w.XS_WRITE, "/local/domain/2/data/x", "x") == "EACCES"
    assert g1.error(w.XS_MKDIR, "name") == "EACCES"
    assert g1.error(w.XS_RM, "name") == "EACCES"
    g1.write("control/shutdown", "")                                  # guest-owned
    assert dom0.read("/local/domain/1/name") == b"one"


def test_new_nodes_inherit_with_creator_as_owner(dom0, g1):
    dom0.ok(w.XS_SET_PERMS, "/local/domain/1/data", "n1", "r2")
    g1.write("data/a/b", "v")
    assert g1.ok(w.XS_GET_PERMS, "data/a") == b"n1\0r2\0"
    assert g1.ok(w.XS_GET_PERMS, "data/a/b") == b"n1\0r2\0"
    # dom0 creating below a guest's node keeps the parent's permissions (C xenstored)
    dom0.write("/local/domain/1/data/by0", "")
    assert dom0.ok(w.XS_GET_PERMS, "/local/domain/1/data/by0") == b"n1\0r2\0"
    dom0.write("/top/x", "")
    assert dom0.ok(w.XS_GET_PERMS, "/top/x") == b"n0\0"


def test_set_perms_grants_read_to_another_guest(g1, g2):
    g1.write("data/shared", "hello")
    assert g2.error(w.XS_READ, "/local/domain/1/data/shared") == "EACCES"
    g1.ok(w.XS_SET_PERMS, "data/shared", "n1", "r2")
    assert g2.read("/local/domain/1/data/shared") == b"hello"
    assert g2.error(w.XS_WRITE, "/local/domain/1/data/shared", "x") == "EACCES"
    g1.ok(w.XS_SET_PERMS, "data/shared", "n1", "b2")
    g2.write("/local/domain/1/data/shared", "from two")
    assert g1.read("data/shared") == b"from two"
    # the first entry is also the default for domains not listed
    g1.ok(w.XS_SET_PERMS, "data/shared", "r1")
    assert g2.read("/local/domain/1/data/shared") == b"from two"


def test_set_perms_rules(dom0, g1, g2):
    g1.write("data/x", "")
    assert g1.error(w.XS_SET_PERMS, "data/x", "n2") == "EPERM"         # owner change
    assert g2.error(w.XS_SET_PERMS, "/local/domain/1/data/x", "n2") == "EACCES"
    assert g1.error(w.XS_SET_PERMS, "name", "n1") == "EACCES"           # not the owner
    assert g1.error(w.XS_SET_PERMS, "data/x", "x1") == "EINVAL"
    assert g1.error(w.XS_SET_PERMS, "data/x", "r") == "EINVAL"
    assert g1.error(w.XS_SET_PERMS, "data/x", "r70000") == "EINVAL"
    assert g1.error(w.XS_SET_PERMS, "data/x") == "EINVAL"
    dom0.ok(w.XS_SET_PERMS, "/local/domain/1/data/x", "b2", "n1")      # dom0 may re-own
    assert g2.ok(w.XS_GET_PERMS, "/local/domain/1/data/x") == b"b2\0n1\0"
    assert g1.error(w.XS_READ, "data/x") == "EACCES"


def test_set_target_acts_as_the_target(server, dom0, g1, g2):
    g1.write("data/t", "x")
    server.introduce(1, 100, 5)
    server.introduce(2, 101, 6)
    assert g1.error(w.XS_SET_TARGET, "2", "1") == "EACCES"
    assert dom0.error(w.XS_SET_TARGET, "2", "9") == "ENOENT"
    dom0.ok(w.XS_SET_TARGET, "2", "1")
    assert g2.read("/local/domain/1/data/t") == b"x"
    g2.write("/local/domain/1/data/t", "y")


def test_store_api_directly():
    store = Store()
    store.write(DOM0, "/x/y", b"1")
    assert store.read(DOM0, "/x/y") == b"1"
    assert store.directory(DOM0, "/x") == ["y"]
    assert store.exists(DOM0, "/x") and not store.exists(DOM0, "/z")
    with pytest.raises(XsError) as err:
        store.read(Caller(3), "/x/y")
    assert err.value.name == "EACCES"
    store.set_perms(DOM0, "/x/y", perms_of("n3"))
    assert store.read(Caller(3), "/x/y") == b"1"


# -- transactions ----------------------------------------------------------------------
def test_transaction_is_private_until_commit(dom0, g1):
    tx = g1.start()
    assert tx != 0
    g1.write("data/t", "inside", tx=tx)
    assert g1.read("data/t", tx=tx) == b"inside"
    assert g1.error(w.XS_READ, "data/t") == "ENOENT"
    assert g1.ok(w.XS_TRANSACTION_END, "T", tx=tx) == b"OK\0"
    assert g1.read("data/t") == b"inside"


def test_transaction_sees_a_snapshot(dom0):
    dom0.write("/s", "before")
    tx = dom0.start()
    dom0.write("/s", "after")
    assert dom0.read("/s", tx=tx) == b"before"
    assert dom0.error(w.XS_TRANSACTION_END, "T", tx=tx) == "EAGAIN"


def test_conflicting_transaction_gets_eagain(dom0, g1):
    g1.write("data/c", "0")
    tx = g1.start()
    assert g1.read("data/c", tx=tx) == b"0"
    g1.write("data/other", "x", tx=tx)
    dom0.write("/local/domain/1/data/c", "1")               # someone else changes it
    assert g1.error(w.XS_TRANSACTION_END, "T", tx=tx) == "EAGAIN"
    assert g1.error(w.XS_READ, "data/other") == "ENOENT"    # nothing was applied
    assert g1.error(w.XS_READ, "data/c", tx=tx) == "ENOENT"  # the id is gone


def test_conflict_on_a_node_read_as_missing(dom0, g1):
    tx = g1.start()
    assert g1.error(w.XS_READ, "data/later", tx=tx) == "ENOENT"
    g1.write("data/later", "now")
    assert g1.error(w.XS_TRANSACTION_END, "T", tx=tx) == "EAGAIN"


def test_unrelated_changes_do_not_conflict(dom0, g1):
    g1.write("data/mine", "0")
    dom0.write("/elsewhere", "")
    tx = g1.start()
    g1.write("data/mine", "1", tx=tx)
    dom0.write("/elsewhere", "changed")
    g1.ok(w.XS_TRANSACTION_END, "T", tx=tx)
    assert g1.read("data/mine") == b"1"


def test_two_transactions_writing_the_same_node(g1):
    g1.write("data/n", "0")
    first, second = g1.start(), g1.start()
    assert first != second
    g1.write("data/n", "1", tx=first)
    g1.write("data/n", "2", tx=second)
    g1.ok(w.XS_TRANSACTION_END, "T", tx=first)
    assert g1.error(w.XS_TRANSACTION_END, "T", tx=second) == "EAGAIN"
    assert g1.read("data/n") == b"1"


def test_transaction_abort_and_errors(g1):
    tx = g1.start()
    g1.write("data/gone", "x", tx=tx)
    g1.ok(w.XS_TRANSACTION_END, "F", tx=tx)
    assert g1.error(w.XS_READ, "data/gone") == "ENOENT"
    assert g1.error(w.XS_TRANSACTION_END, "T", tx=tx) == "ENOENT"
    assert g1.error(w.XS_TRANSACTION_END, "T") == "ENOENT"
    assert g1.error(w.XS_READ, "data", tx=12345) == "ENOENT"
    tx = g1.start()
    assert g1.error(w.XS_TRANSACTION_END, "X", tx=tx) == "EINVAL"
    assert g1.error(w.XS_TRANSACTION_START, "", tx=tx) == "EBUSY"
    g1.ok(w.XS_TRANSACTION_END, "F", tx=tx)


def test_transactions_belong_to_their_connection(server, g1):
    other = Client(server, 1)
    tx = g1.start()
    assert other.error(w.XS_READ, "name", tx=tx) == "ENOENT"


def test_rm_and_mkdir_inside_transaction(dom0):
    dom0.write("/t/a/b", "1")
    tx = dom0.start()
    dom0.ok(w.XS_RM, "/t/a", tx=tx)
    dom0.ok(w.XS_MKDIR, "/t/m", tx=tx)
    assert dom0.directory("/t", tx=tx) == ["m"]
    assert dom0.directory("/t") == ["a"]
    dom0.ok(w.XS_TRANSACTION_END, "T", tx=tx)
    assert dom0.directory("/t") == ["m"]
    assert "/t/a/b" not in dom0.server.store.tree


def test_watches_fire_on_commit_only(dom0, g1):
    dom0.ok(w.XS_WATCH, "/local/domain/1/data", "tok")
    dom0.events()
    tx = g1.start()
    g1.write("data/w", "1", tx=tx)
    assert dom0.events() == []
    g1.ok(w.XS_TRANSACTION_END, "T", tx=tx)
    assert dom0.events() == [("/local/domain/1/data/w", "tok")]
    tx = g1.start()
    g1.write("data/w", "2", tx=tx)
    g1.ok(w.XS_TRANSACTION_END, "F", tx=tx)
    assert dom0.events() == []


# -- watches ---------------------------------------------------------------------------
def test_watch_fires_at_once_then_on_changes_below(dom0):
    messages = dom0.send(w.XS_WATCH, b"/w\0tok\0")
    assert [m.type for m in messages] == [w.XS_WATCH, w.XS_WATCH_EVENT]   # reply first
    assert messages[1].payload == b"/w\0tok\0" and messages[1].req_id == 0
    dom0.write("/w", "1")
    dom0.write("/w/deep/er", "2")
    dom0.write("/wx", "sibling")                    # not below /w
    dom0.write("/", "root")                         # not below /w
    assert dom0.events() == [("/w", "tok"), ("/w/deep/er", "tok")]


def test_watch_event_precedes_write_reply_on_same_connection(dom0):
    dom0.ok(w.XS_WATCH, "/o", "t")
    messages = dom0.send(w.XS_WRITE, b"/o\0v")
    assert [m.type for m in messages] == [w.XS_WATCH_EVENT, w.XS_WRITE]


def test_watch_events_reach_other_connections_via_send(dom0, g1):
    dom0.ok(w.XS_WATCH, "/local/domain/1", "home")
    dom0.events()
    g1.write("data/k", "v")
    assert dom0.events() == [("/local/domain/1/data/k", "home")]
    assert g1.events() == []


def test_relative_watch_gets_relative_paths(g1, dom0):
    g1.ok(w.XS_WATCH, "data", "rel")
    assert g1.events() == [("data", "rel")]
    dom0.write("/local/domain/1/data/x", "1")
    assert g1.events() == [("data/x", "rel")]


def test_watch_on_root_sees_everything_readable(dom0, g1):
    dom0.ok(w.XS_WATCH, "/", "all")
    dom0.events()
    g1.write("data/q", "")
    assert dom0.events() == [("/local/domain/1/data/q", "all")]


def test_unwatch_and_duplicates(dom0):
    dom0.ok(w.XS_WATCH, "/u", "t")
    assert dom0.error(w.XS_WATCH, "/u", "t") == "EEXIST"
    dom0.ok(w.XS_WATCH, "/u", "t2")
    dom0.ok(w.XS_UNWATCH, "/u", "t")
    assert dom0.error(w.XS_UNWATCH, "/u", "t") == "ENOENT"
    dom0.events()
    dom0.write("/u", "")
    assert dom0.events() == [("/u", "t2")]
    assert dom0.error(w.XS_WATCH, "/bad//path", "t") == "EINVAL"
    assert dom0.error(w.XS_WATCH, "/u") == "EINVAL"
    assert dom0.error(w.XS_WATCH, "/u", "t", "extra") == "EINVAL"


def test_rm_fires_watches_above_and_below(dom0):
    dom0.write("/tree/a/b", "")
    dom0.ok(w.XS_WATCH, "/tree", "top")
    dom0.ok(w.XS_WATCH, "/tree/a/b", "leaf")
    dom0.events()
    dom0.ok(w.XS_RM, "/tree/a")
    events = dom0.events()
    assert ("/tree/a/b", "leaf") in events
    assert ("/tree/a", "top") in events
    assert ("/tree/a/b", "top") not in events


def test_watch_events_respect_permissions(dom0, g1, g2):
    g2.ok(w.XS_WATCH, "/local/domain/1", "spy")
    assert g2.events() == [("/local/domain/1", "spy")]     # the first event always comes
    g1.write("data/private", "x")
    assert g2.events() == []
    g1.ok(w.XS_SET_PERMS, "data/private", "n1", "r2")
    assert g2.events() == [("/local/domain/1/data/private", "spy")]
    g1.write("data/private", "y")
    assert g2.events() == [("/local/domain/1/data/private", "spy")]


def test_reset_watches_drops_watches_and_transactions(g1, dom0):
    g1.ok(w.XS_WATCH, "data", "t")
    tx = g1.start()
    g1.ok(w.XS_RESET_WATCHES, "")
    g1.events()
    dom0.write("/local/domain/1/data/z", "")
    assert g1.events() == []
    assert g1.error(w.XS_READ, "name", tx=tx) == "ENOENT"


def test_special_watches_fire_on_introduce_and_release(server, dom0, g1):
    calls = []
    server.on_introduce = lambda *args: calls.append(("introduce", args))
    server.on_release = lambda domid: calls.append(("release", domid))
    dom0.ok(w.XS_WATCH, "@introduceDomain", "in")
    dom0.ok(w.XS_WATCH, "@releaseDomain", "out")
    g1.ok(w.XS_WATCH, "@releaseDomain", "g")
    assert dom0.events() == [("@introduceDomain", "in"), ("@releaseDomain", "out")]
    assert g1.events() == [("@releaseDomain", "g")]
    dom0.ok(w.XS_INTRODUCE, "5", "1234", "7")
    assert dom0.events() == [("@introduceDomain", "in")]
    assert dom0.ok(w.XS_IS_DOMAIN_INTRODUCED, "5") == b"T\0"
    dom0.ok(w.XS_RELEASE, "5")
    assert dom0.events() == [("@releaseDomain", "out")]
    assert g1.events() == []                     # no permission on @releaseDomain
    assert dom0.ok(w.XS_IS_DOMAIN_INTRODUCED, "5") == b"F\0"
    assert calls == [("introduce", (5, 1234, 7)), ("release", 5)]
    dom0.ok(w.XS_SET_PERMS, "@releaseDomain", "n0", "r1")
    assert dom0.ok(w.XS_GET_PERMS, "@releaseDomain") == b"n0\0r1\0"
    dom0.ok(w.XS_INTRODUCE, "5", "1234", "7")
    dom0.ok(w.XS_RELEASE, "5")
    assert g1.events() == [("@releaseDomain", "g")]


def test_special_watch_names(dom0):
    dom0.ok(w.XS_WATCH, "@somethingElse", "t")       # accepted, never fires
    assert dom0.error(w.XS_WATCH, "@bad name", "t") == "EINVAL"
    assert dom0.error(w.XS_GET_PERMS, "@somethingElse") == "ENOENT"


def test_release_drops_the_domains_connections(server, dom0, g1):
    server.introduce(1, 77, 3)
    g1.ok(w.XS_WATCH, "data", "t")
    dom0.ok(w.XS_RELEASE, "1")
    assert g1.conn.watches == [] and g1.conn not in server.connections


def test_domain_requests_are_dom0_only(dom0, g1):
    for type_, args in ((w.XS_INTRODUCE, ("3", "1", "2")), (w.XS_RELEASE, ("3",)),
                        (w.XS_IS_DOMAIN_INTRODUCED, ("3",)), (w.XS_RESUME, ("3",)),
                        (w.XS_SET_TARGET, ("3", "4")), (w.XS_DEBUG, ("print", "x"))):
        assert g1.error(type_, *args) == "EACCES"
    assert dom0.error(w.XS_INTRODUCE, "0", "1", "2") == "EINVAL"
    assert dom0.error(w.XS_INTRODUCE, "x", "1", "2") == "EINVAL"
    assert dom0.error(w.XS_INTRODUCE, "3", "1") == "EINVAL"
    assert dom0.error(w.XS_RELEASE, "3") == "ENOENT"
    assert dom0.error(w.XS_RESUME, "3") == "ENOENT"
    assert dom0.ok(w.XS_IS_DOMAIN_INTRODUCED, "0") == b"T\0"
    dom0.ok(w.XS_INTRODUCE, "3", "1", "2")
    dom0.ok(w.XS_INTRODUCE, "3", "1", "9")                  # same frame: rebind port
    assert dom0.server.domains[3].port == 9
    assert dom0.error(w.XS_INTRODUCE, "3", "2", "9") == "EINVAL"
    dom0.ok(w.XS_RESUME, "3")


def test_debug_print(dom0):
    dom0.ok(w.XS_DEBUG, "print", "hello xenstore")
    assert dom0.server.debug_log == ["hello xenstore"]
    assert dom0.error(w.XS_DEBUG, "bogus") == "EINVAL"


# -- directory_part and generations ----------------------------------------------------
def _directory_part(client: Client, path: str) -> tuple[list[str], set[bytes]]:
    names, gens, offset = [], set(), 0
    while True:
        payload = client.ok(w.XS_DIRECTORY_PART, path, str(offset))
        assert len(payload) <= w.XENSTORE_PAYLOAD_MAX
        gen, rest = payload.split(b"\0", 1)
        gens.add(gen)
        if rest in (b"", b"\0"):
            return names, gens
        done = rest.endswith(b"\0\0")
        chunk = rest[:-1] if done else rest
        names += chunk.decode().split("\0")[:-1]
        offset += len(chunk)
        if done:
            return names, gens


def test_directory_part_pages_a_long_listing(dom0):
    expected = [f"child-{i:04d}-" + "x" * 40 for i in range(200)]   # ~10 KiB of names
    for name in expected:
        dom0.write(f"/big/{name}", "")
    assert dom0.error(w.XS_DIRECTORY, "/big") == "E2BIG"
    names, gens = _directory_part(dom0, "/big")
    assert names == expected and len(gens) == 1


def test_directory_part_small_and_past_the_end(dom0):
    dom0.write("/sm/a", "")
    dom0.write("/sm/b", "")
    gen = str(dom0.server.store.tree.get("/sm").generation).encode()
    assert dom0.ok(w.XS_DIRECTORY_PART, "/sm", "0") == gen + b"\0a\0b\0\0"
    assert dom0.ok(w.XS_DIRECTORY_PART, "/sm", "2") == gen + b"\0b\0\0"
    assert dom0.ok(w.XS_DIRECTORY_PART, "/sm", "99") == gen + b"\0\0"
    assert dom0.error(w.XS_DIRECTORY_PART, "/sm") == "EINVAL"
    assert dom0.error(w.XS_DIRECTORY_PART, "/sm", "-1") == "EINVAL"


def test_generation_changes_with_the_node(dom0):
    store = dom0.server.store
    dom0.write("/g", "")
    first = store.tree.get("/g").generation
    dom0.write("/g/child", "")
    second = store.tree.get("/g").generation
    assert second > first
    dom0.read("/g")
    assert store.tree.get("/g").generation == second


# -- quotas ----------------------------------------------------------------------------
@pytest.fixture
def tight() -> XenStore:
    xs = XenStore(Store(Quota(entries_per_domain=100, node_size=64, perms_per_node=2,
                              watches_per_connection=2, transactions_per_connection=2)))
    populate_domain(xs.store, 1, "one", memory_kb=1024)
    return xs


def test_entry_quota(tight):
    g = Client(tight, 1)
    owned = tight.store.tree.owned_by(1)       # the guest-owned nodes xl makes
    assert owned == 11                          # control/*, data, drivers, ..., console
    tight.store.quota.entries_per_domain = owned + 3
    g.write("data/a", "")
    g.write("data/b/c", "")
    assert g.error(w.XS_WRITE, "data/d", "") == "ENOSPC"
    assert g.error(w.XS_MKDIR, "data/e/f") == "ENOSPC"
    g.ok(w.XS_RM, "data/b")
    g.write("data/d", "")
    Client(tight, 0).write("/local/domain/1/data/many/more/nodes", "")   # dom0: no quota


def test_node_size_quota(tight):
    g = Client(tight, 1)
    assert g.error(w.XS_WRITE, "data/big", "x" * 100) == "ENOSPC"
    g.write("data/small", "x" * 20)
    Client(tight, 0).write("/local/domain/1/data/big", "x" * 1000)


def test_watch_and_transaction_quotas(tight):
    g = Client(tight, 1)
    g.ok(w.XS_WATCH, "data", "1")
    g.ok(w.XS_WATCH, "data", "2")
    assert g.error(w.XS_WATCH, "data", "3") == "ENOSPC"
    g.start()
    g.start()
    assert g.error(w.XS_TRANSACTION_START, "") == "ENOSPC"
    assert g.error(w.XS_SET_PERMS, "data", "n1", "r0", "r2") == "ENOSPC"
    d0 = Client(tight, 0)
    for token in "abc":
        d0.ok(w.XS_WATCH, "/", token)
    for _ in range(3):
        d0.start()


# -- malformed input -------------------------------------------------------------------
def _header(type_: int, req_id: int, tx_id: int, length: int) -> bytes:
    return struct.pack("<4I", type_, req_id, tx_id, length)


def _only_error(client: Client, data: bytes) -> tuple[str, int]:
    (msg,) = client.raw(data)
    assert msg.type == w.XS_ERROR
    return msg.payload.decode(), msg.req_id


def test_short_header(dom0):
    assert _only_error(dom0, b"\x02\x00\x00") == ("EINVAL\0", 0)
    assert _only_error(dom0, b"") == ("EINVAL\0", 0)


def test_payload_over_the_limit(dom0):
    big = _header(w.XS_WRITE, 9, 0, w.XENSTORE_PAYLOAD_MAX + 1)
    assert _only_error(dom0, big + b"x" * (w.XENSTORE_PAYLOAD_MAX + 1)) == ("E2BIG\0", 9)
    assert _only_error(dom0, big) == ("E2BIG\0", 9)


def test_length_mismatch(dom0):
    assert _only_error(dom0, _header(w.XS_READ, 4, 0, 10) + b"/a\0") == ("EINVAL\0", 4)
    assert _only_error(dom0, _header(w.XS_READ, 4, 0, 1) + b"/a\0") == ("EINVAL\0", 4)


def test_unterminated_and_bad_arguments(dom0):
    assert dom0.reply_raw(w.XS_READ, b"/a").payload == b"EINVAL\0"
    assert dom0.reply_raw(w.XS_READ, b"").payload == b"EINVAL\0"
    assert dom0.reply_raw(w.XS_READ, b"/a\0/b\0").payload == b"EINVAL\0"
    assert dom0.reply_raw(w.XS_WRITE, b"/a").payload == b"EINVAL\0"
    assert dom0.reply_raw(w.XS_WATCH, b"/a\0tok").payload == b"EINVAL\0"
    assert dom0.reply_raw(w.XS_READ, b"/\xff\0").payload == b"EINVAL\0"


@pytest.mark.parametrize("type_", [w.XS_WATCH_EVENT, w.XS_ERROR, 20, w.XS_TYPE_COUNT,
                                   w.XS_INVALID, 0xFFFFFFFF])
def test_unknown_types(dom0, type_):
    assert dom0.reply_raw(type_, b"/a\0").payload == b"ENOSYS\0"


def test_write_reply_echoes_ids(dom0):
    (reply,) = dom0.raw(Message(w.XS_WRITE, 0xDEADBEEF, 0, b"/id\0v").pack())
    assert (reply.type, reply.req_id, reply.tx_id) == (w.XS_WRITE, 0xDEADBEEF, 0)
    tx = dom0.start()
    (reply,) = dom0.raw(Message(w.XS_READ, 77, tx, b"/id\0").pack())
    assert (reply.req_id, reply.tx_id, reply.payload) == (77, tx, b"v")
    (reply,) = dom0.raw(Message(w.XS_READ, 78, tx + 1000, b"/id\0").pack())
    assert (reply.type, reply.req_id, reply.tx_id) == (w.XS_ERROR, 78, tx + 1000)


def test_random_garbage_never_raises(server):
    rng = random.Random(1234)
    clients = [Client(server, 0), Client(server, 1)]
    for _ in range(3000):
        client = rng.choice(clients)
        type_ = rng.choice(range(w.XS_TYPE_COUNT + 2))
        words = [rng.choice(["/a", "data", "/local/domain/1/data/x", "@releaseDomain", "T",
                             "r1", "n0", "5", "", "\xff", "0", "print"])
                 for _ in range(rng.randrange(4))]
        payload = b"\0".join(s.encode("latin-1") for s in words)
        if rng.random() < 0.7:
            payload += b"\0"
        tx = rng.choice([0, 0, 0, 1, 2, 3])
        data = Message(type_, rng.randrange(1 << 32), tx, payload).pack()
        if rng.random() < 0.1:
            data = data[:rng.randrange(len(data) + 1)]
        for raw in server.handle(client.conn, data):
            Message.unpack(raw)


def test_handler_bug_becomes_eio(server, dom0, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("bug")
    monkeypatch.setattr(server.store, "read", boom)
    assert dom0.error(w.XS_READ, "/a") == "EIO"


def test_send_callback_failure_is_contained(server, dom0):
    def broken(_raw):
        raise OSError("gone")
    listener = Connection(0, broken)
    server.handle(listener, Message(w.XS_WATCH, 1, 0, b"/cb\0t\0").pack())
    dom0.write("/cb", "x")          # must not raise although delivery fails
