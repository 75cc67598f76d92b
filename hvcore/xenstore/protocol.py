"""The xenstore wire protocol (xs_wire.h, docs/misc/xenstore.txt) over a Store.

`XenStore.handle(conn, message)` takes one whole request (header + payload) and
returns, in order, every message owed to that connection because of it: the reply
(or an XS_ERROR naming the errno) and any watch events the request fired for the
same connection (before the reply for writes, after it for WATCH's first event, as C
xenstored orders them). Watch events for other connections go out through their
`send` callbacks. Nothing a client sends can make `handle` raise.
"""
from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from ..public.io import xs_wire as w
from ..public.xen import DOMID_FIRST_RESERVED
from . import paths
from .errors import QUOTA_ERROR, XsError
from .perms import Caller, Perm, format_perms
from .store import Change, Store, Transaction
from .watches import Watch, may_see

log = logging.getLogger(__name__)

HEADER = w.xsd_sockmsg_64          # identical in both ABIs: four uint32_t
HEADER_SIZE = ctypes.sizeof(HEADER)
OK = b"OK\0"


@dataclass(frozen=True)
class Message:
    type: int
    req_id: int = 0
    tx_id: int = 0
    payload: bytes = b""

    def pack(self) -> bytes:
        header = HEADER(type=self.type, req_id=self.req_id, tx_id=self.tx_id,
                        len=len(self.payload))
        return bytes(header) + self.payload

    @classmethod
    def unpack(cls, data: bytes) -> Message:
        """Parse one whole message; MalformedMessage says which error to answer."""
        if len(data) < HEADER_SIZE:
            raise MalformedMessage("EINVAL", 0, 0, "short header")
        header = HEADER.from_buffer_copy(data[:HEADER_SIZE])
        payload = bytes(data[HEADER_SIZE:])
        if header.len > w.XENSTORE_PAYLOAD_MAX:
            raise MalformedMessage("E2BIG", header.req_id, header.tx_id, "payload too long")
        if header.len != len(payload):
            raise MalformedMessage("EINVAL", header.req_id, header.tx_id, "length mismatch")
        return cls(header.type, header.req_id, header.tx_id, payload)


class MalformedMessage(XsError):
    def __init__(self, name: str, req_id: int, tx_id: int, detail: str) -> None:
        super().__init__(name, detail)
        self.req_id, self.tx_id = req_id, tx_id


def error_message(name: str, req_id: int = 0, tx_id: int = 0) -> Message:
    return Message(w.XS_ERROR, req_id, tx_id, name.encode() + b"\0")


def watch_event(path: str, token: str) -> bytes | None:
    """An XS_WATCH_EVENT message, or None if it would exceed the payload limit."""
    payload = path.encode("latin-1") + b"\0" + token.encode("latin-1") + b"\0"
    if len(payload) > w.XENSTORE_PAYLOAD_MAX:
        return None
    return Message(w.XS_WATCH_EVENT, 0, 0, payload).pack()


class FrameError(Exception):
    """The byte stream announced a payload over XENSTORE_PAYLOAD_MAX: unrecoverable."""


class FrameReader:
    """Cuts a byte stream into whole messages; partial ones wait for more bytes."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        messages = []
        while len(self._buffer) >= HEADER_SIZE:
            length = HEADER.from_buffer_copy(self._buffer[:HEADER_SIZE]).len
            if length > w.XENSTORE_PAYLOAD_MAX:
                raise FrameError(f"payload length {length}")
            end = HEADER_SIZE + length
            if len(self._buffer) < end:
                break
            messages.append(bytes(self._buffer[:end]))
            del self._buffer[:end]
        return messages

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def clear(self) -> None:
        self._buffer.clear()


@dataclass(eq=False)
class Connection:
    """A client: the domain it speaks for and how to push asynchronous messages to it."""
    domid: int
    send: Callable[[bytes], None]
    watches: list[Watch] = field(default_factory=list)
    transactions: dict[int, Transaction] = field(default_factory=dict)


@dataclass
class Domain:
    """An introduced domain (INTRODUCE): its ring frame and event channel."""
    domid: int
    mfn: int
    port: int
    shutdown: bool = False


# -- payload parsing -------------------------------------------------------------------
def _strings(payload: bytes) -> list[str]:
    """NUL-terminated strings; an unterminated tail is malformed."""
    if not payload.endswith(b"\0"):
        raise XsError("EINVAL", "argument not NUL-terminated")
    return payload[:-1].decode("latin-1").split("\0")


def _args(payload: bytes, count: int, *, at_least: bool = False) -> list[str]:
    args = _strings(payload)
    if len(args) < count or (len(args) > count and not at_least):
        raise XsError("EINVAL", f"expected {count} argument(s)")
    return args


def _one(payload: bytes) -> str:
    return _args(payload, 1)[0]


def _number(text: str, limit: int) -> int:
    if not text.isascii() or not text.isdigit() or int(text) > limit:
        raise XsError("EINVAL", f"bad number {text[:16]!r}")
    return int(text)


def _domid(text: str) -> int:
    return _number(text, 0xFFFF)


def _signed(text: str) -> int:
    negative = text.startswith("-")
    value = _number(text[1:] if negative else text, 2**63 - 1)
    return -value if negative else value


NOTID, PRIV = 1, 2     # request flags: ignores tx_id; dom0 only
Handler = Callable[["XenStore", Connection, Caller, "Transaction | None", Message], bytes]


class XenStore:
    """The xenstored request handler: protocol, watches and domains over a Store.

    on_introduce(domid, mfn, port) / on_release(domid) let the process wiring map
    and unmap rings; raising XsError from them turns into the error reply.
    """

    def __init__(self, store: Store | None = None, *,
                 on_introduce: Callable[[int, int, int], None] | None = None,
                 on_release: Callable[[int], None] | None = None) -> None:
        self.store = store if store is not None else Store()
        self.store.listeners.append(self._on_change)
        self.on_introduce, self.on_release = on_introduce, on_release
        self.connections: list[Connection] = []
        self.domains: dict[int, Domain] = {}
        self.targets: dict[int, int] = {}
        self.debug_log: list[str] = []
        self._capture: tuple[Connection, list[bytes]] | None = None
        self._after: list[bytes] = []    # owed to the requester after its reply

    # -- connections ---------------------------------------------------------------
    def connect(self, conn: Connection) -> Connection:
        if conn not in self.connections:
            self.connections.append(conn)
        return conn

    def disconnect(self, conn: Connection) -> None:
        self.reset_connection(conn)
        if conn in self.connections:
            self.connections.remove(conn)

    def reset_connection(self, conn: Connection) -> None:
        """Forget the connection's watches and transactions (RESET_WATCHES, ring reset)."""
        conn.watches.clear()
        for tx in conn.transactions.values():
            if tx.active:
                self.store.end_transaction(tx, commit=False)
        conn.transactions.clear()

    def caller(self, conn: Connection) -> Caller:
        return Caller(conn.domid, self.targets.get(conn.domid))

    # -- requests ------------------------------------------------------------------
    def handle(self, conn: Connection, data: bytes) -> list[bytes]:
        """Process one request; returns everything owed to `conn` for it, in order."""
        self.connect(conn)
        before: list[bytes] = []
        outer = self._capture, self._after
        self._capture, self._after = (conn, before), []
        try:
            reply = self._process(conn, bytes(data))
            return before + [reply.pack()] + self._after
        finally:
            self._capture, self._after = outer

    def _process(self, conn: Connection, data: bytes) -> Message:
        try:
            msg = Message.unpack(data)
        except MalformedMessage as err:
            return error_message(err.name, err.req_id, err.tx_id)
        try:
            payload = self._dispatch(conn, msg)
            if len(payload) > w.XENSTORE_PAYLOAD_MAX:
                raise XsError("E2BIG", "reply too long")
            return Message(msg.type, msg.req_id, msg.tx_id, payload)
        except XsError as err:
            return error_message(err.name, msg.req_id, msg.tx_id)
        except Exception:          # a bug here must not take xenstored down
            log.exception("xenstore: request type %d from domain %d", msg.type, conn.domid)
            return error_message("EIO", msg.req_id, msg.tx_id)

    def _dispatch(self, conn: Connection, msg: Message) -> bytes:
        entry = _HANDLERS.get(msg.type)
        if entry is None:
            raise XsError("ENOSYS", f"unknown type {msg.type}")
        handler, flags = entry
        caller = self.caller(conn)
        if flags & PRIV and not caller.privileged:
            raise XsError("EACCES", "dom0 only")
        tx = None if flags & NOTID else self._transaction(conn, msg.tx_id)
        return handler(self, conn, caller, tx, msg)

    @staticmethod
    def _transaction(conn: Connection, tx_id: int) -> Transaction | None:
        if tx_id == 0:
            return None
        tx = conn.transactions.get(tx_id)
        if tx is None:
            raise XsError("ENOENT", f"no transaction {tx_id}")
        return tx

    # -- database ------------------------------------------------------------------
    def _read(self, conn, caller, tx, msg) -> bytes:
        return self.store.read(caller, _one(msg.payload), tx)

    def _write(self, conn, caller, tx, msg) -> bytes:
        path, sep, value = msg.payload.partition(b"\0")
        if not sep:
            raise XsError("EINVAL", "WRITE without path terminator")
        self.store.write(caller, path.decode("latin-1"), value, tx)
        return OK

    def _mkdir(self, conn, caller, tx, msg) -> bytes:
        self.store.mkdir(caller, _one(msg.payload), tx)
        return OK

    def _rm(self, conn, caller, tx, msg) -> bytes:
        self.store.rm(caller, _one(msg.payload), tx)
        return OK

    def _directory(self, conn, caller, tx, msg) -> bytes:
        children = self.store.directory(caller, _one(msg.payload), tx)
        return b"".join(name.encode() + b"\0" for name in children)

    def _directory_part(self, conn, caller, tx, msg) -> bytes:
        """<gencnt>|<children from byte offset>|*, an extra NUL once the list is done."""
        path, offset_text = _args(msg.payload, 2)
        offset = _number(offset_text, 0xFFFFFFFF)
        node = self.store.node(caller, path, tx)
        listing = b"".join(name.encode() + b"\0" for name in node.children)
        gen = str(node.generation).encode() + b"\0"
        if offset >= len(listing):
            return gen + b"\0"
        room = w.XENSTORE_PAYLOAD_MAX - len(gen) - 1
        end = offset
        while end < len(listing):
            name_end = listing.index(b"\0", end) + 1
            if name_end - offset > room:
                break
            end = name_end
        done = end == len(listing)
        return gen + listing[offset:end] + (b"\0" if done else b"")

    def _get_perms(self, conn, caller, tx, msg) -> bytes:
        return format_perms(self.store.get_perms(caller, _one(msg.payload), tx))

    def _set_perms(self, conn, caller, tx, msg) -> bytes:
        path, *texts = _args(msg.payload, 2, at_least=True)
        self.store.set_perms(caller, path, [Perm.parse(t) for t in texts], tx)
        return OK

    # -- watches -------------------------------------------------------------------
    def _watch(self, conn, caller, tx, msg) -> bytes:
        raw, token = _args(msg.payload, 2)
        relative = not raw.startswith("/") and not paths.is_special(raw)
        path = paths.resolve(caller.domid, raw, allow_special=True,
                             privileged=caller.privileged)
        if any(wt.path == path and wt.token == token for wt in conn.watches):
            raise XsError("EEXIST", "watch already set")
        if not caller.privileged and \
                len(conn.watches) >= self.store.quota.watches_per_connection:
            raise XsError(QUOTA_ERROR, "too many watches")
        watch = Watch(path, token, paths.domain_path(caller.domid) if relative else None)
        conn.watches.append(watch)
        first = watch_event(watch.event_path(path), token)
        if first is not None:
            self._after.append(first)
        return OK

    def _unwatch(self, conn, caller, tx, msg) -> bytes:
        raw, token = _args(msg.payload, 2)
        path = paths.canonical(caller.domid, raw)
        for watch in conn.watches:
            if watch.path == path and watch.token == token:
                conn.watches.remove(watch)
                return OK
        raise XsError("ENOENT", "no such watch")

    def _reset_watches(self, conn, caller, tx, msg) -> bytes:
        self.reset_connection(conn)
        return OK

    def _on_change(self, change: Change) -> None:
        for conn in list(self.connections):
            if not conn.watches or not may_see(self.caller(conn), change):
                continue
            for watch in list(conn.watches):
                if watch.matches(change):
                    event = watch_event(watch.event_path(change.path), watch.token)
                    if event is not None:
                        self._deliver(conn, event)

    def _deliver(self, conn: Connection, message: bytes) -> None:
        if self._capture is not None and self._capture[0] is conn:
            self._capture[1].append(message)
            return
        try:
            conn.send(message)
        except Exception:
            log.exception("xenstore: sending a watch event to domain %d", conn.domid)

    # -- transactions --------------------------------------------------------------
    def _transaction_start(self, conn, caller, tx, msg) -> bytes:
        if tx is not None:
            raise XsError("EBUSY", "nested transaction")
        if not caller.privileged and \
                len(conn.transactions) >= self.store.quota.transactions_per_connection:
            raise XsError(QUOTA_ERROR, "too many transactions")
        new = self.store.start_transaction(caller)
        conn.transactions[new.id] = new
        return str(new.id).encode() + b"\0"

    def _transaction_end(self, conn, caller, tx, msg) -> bytes:
        verdict = _one(msg.payload)
        if verdict not in ("T", "F"):
            raise XsError("EINVAL", "TRANSACTION_END wants T or F")
        if tx is None:
            raise XsError("ENOENT", "no transaction")
        del conn.transactions[tx.id]
        self.store.end_transaction(tx, commit=verdict == "T")
        return OK

    # -- domains -------------------------------------------------------------------
    def introduce(self, domid: int, mfn: int, port: int) -> None:
        """Start talking to a domain; a repeat with the same frame rebinds the port."""
        if not 0 < domid < DOMID_FIRST_RESERVED:
            raise XsError("EINVAL", f"cannot introduce domain {domid}")
        known = self.domains.get(domid)
        if known is not None and known.mfn != mfn:
            raise XsError("EINVAL", f"domain {domid} already has a ring")
        if self.on_introduce is not None:
            self.on_introduce(domid, mfn, port)
        if known is not None:
            known.port = port
            return
        self.domains[domid] = Domain(domid, mfn, port)
        self.store.fire_special(paths.INTRODUCE_DOMAIN)

    def release(self, domid: int) -> None:
        """Stop talking to a domain: its connections lose watches and transactions."""
        if domid not in self.domains:
            raise XsError("ENOENT", f"domain {domid} not introduced")
        del self.domains[domid]
        self.targets.pop(domid, None)
        for conn in [c for c in self.connections if c.domid == domid]:
            self.disconnect(conn)
        if self.on_release is not None:
            self.on_release(domid)
        self.store.fire_special(paths.RELEASE_DOMAIN)

    def is_introduced(self, domid: int) -> bool:
        return domid == 0 or domid in self.domains

    def _introduce(self, conn, caller, tx, msg) -> bytes:
        domid, mfn, port = _args(msg.payload, 3, at_least=True)[:3]
        self.introduce(_domid(domid), _signed(mfn), _number(port, 0xFFFFFFFF))
        return OK

    def _release(self, conn, caller, tx, msg) -> bytes:
        self.release(_domid(_one(msg.payload)))
        return OK

    def _is_domain_introduced(self, conn, caller, tx, msg) -> bytes:
        return b"T\0" if self.is_introduced(_domid(_one(msg.payload))) else b"F\0"

    def _get_domain_path(self, conn, caller, tx, msg) -> bytes:
        return paths.domain_path(_domid(_one(msg.payload))).encode() + b"\0"

    def _resume(self, conn, caller, tx, msg) -> bytes:
        domain = self.domains.get(_domid(_one(msg.payload)))
        if domain is None:
            raise XsError("ENOENT", "domain not introduced")
        domain.shutdown = False
        return OK

    def _set_target(self, conn, caller, tx, msg) -> bytes:
        domid, target = (_domid(a) for a in _args(msg.payload, 2))
        if not (self.is_introduced(domid) and self.is_introduced(target)):
            raise XsError("ENOENT", "domain not introduced")
        self.targets[domid] = target
        return OK

    def _control(self, conn, caller, tx, msg) -> bytes:
        command, *rest = _strings(msg.payload)
        if command == "print" and rest:
            self.debug_log.append(rest[0])
            log.info("xenstore: %s", rest[0])
            return OK
        if command == "check" and not rest:
            return OK
        if command == "help" and not rest:
            return b"check\nhelp\nprint\n\0"
        raise XsError("EINVAL", f"unknown control command {command[:32]!r}")


_HANDLERS: dict[int, tuple[Handler, int]] = {
    w.XS_CONTROL: (XenStore._control, PRIV),
    w.XS_DIRECTORY: (XenStore._directory, 0),
    w.XS_READ: (XenStore._read, 0),
    w.XS_GET_PERMS: (XenStore._get_perms, 0),
    w.XS_WATCH: (XenStore._watch, NOTID),
    w.XS_UNWATCH: (XenStore._unwatch, NOTID),
    w.XS_TRANSACTION_START: (XenStore._transaction_start, 0),
    w.XS_TRANSACTION_END: (XenStore._transaction_end, 0),
    w.XS_INTRODUCE: (XenStore._introduce, PRIV),
    w.XS_RELEASE: (XenStore._release, PRIV),
    w.XS_GET_DOMAIN_PATH: (XenStore._get_domain_path, 0),
    w.XS_WRITE: (XenStore._write, 0),
    w.XS_MKDIR: (XenStore._mkdir, 0),
    w.XS_RM: (XenStore._rm, 0),
    w.XS_SET_PERMS: (XenStore._set_perms, 0),
    w.XS_IS_DOMAIN_INTRODUCED: (XenStore._is_domain_introduced, PRIV),
    w.XS_RESUME: (XenStore._resume, PRIV),
    w.XS_SET_TARGET: (XenStore._set_target, PRIV),
    w.XS_RESET_WATCHES: (XenStore._reset_watches, 0),
    w.XS_DIRECTORY_PART: (XenStore._directory_part, 0),
}
