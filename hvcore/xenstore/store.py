"""The xenstore database: a tree of nodes with permissions, quotas and transactions.

Nodes are immutable values in a flat map from absolute path to Node; a change puts a
new Node object in place. That makes a transaction cheap and exact: it starts from a
shallow copy of the map (a private snapshot), remembers the Node object it first saw
at every path it touched, and commits only if each of those paths still holds that
very object (else EAGAIN). Changes are reported to listeners as Change records (at
commit time for transactions); the watch machinery lives in the protocol layer.

Every operation takes the Caller (domid, SET_TARGET target) and an optional
Transaction; paths may be relative to the caller's /local/domain/<domid>.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from . import paths
from .errors import QUOTA_ERROR, XsError
from .perms import DOM0, Caller, Perm, PermBits, Perms, can, inherited, perm_for

READ, WRITE, OWNER = PermBits.READ, PermBits.WRITE, PermBits.OWNER
PERM_ENTRY_SIZE = 8   # bytes one permission costs in a node's size (C: struct xs_permissions)
ROOT_PERMS: Perms = (Perm(0, PermBits.NONE),)


@dataclass(frozen=True)
class Node:
    value: bytes = b""
    perms: Perms = ROOT_PERMS
    children: tuple[str, ...] = ()
    generation: int = 0

    @property
    def owner(self) -> int:
        return self.perms[0].domid

    @property
    def size(self) -> int:
        """What counts against Quota.node_size: value, child list and permissions."""
        names = sum(len(name) + 1 for name in self.children)
        return len(self.value) + names + PERM_ENTRY_SIZE * len(self.perms)

    def with_child(self, name: str) -> Node:
        return replace(self, children=self.children + (name,))

    def without_child(self, name: str) -> Node:
        return replace(self, children=tuple(c for c in self.children if c != name))


@dataclass
class Quota:
    """Limits on unprivileged domains (dom0 has none); C xenstored's defaults."""
    entries_per_domain: int = 1000
    node_size: int = 2048
    perms_per_node: int = 5
    watches_per_connection: int = 128
    transactions_per_connection: int = 10


@dataclass(frozen=True)
class Change:
    """A node changed (or a special event happened): what watches get to see.

    `exact`: only watches on exactly `path` fire (a node removed below the root
    of an RM; watches above get the RM's own path). A watcher is told only if
    it may read with one of `readers` (the node's old/new permissions, its parent's).
    """
    path: str
    exact: bool = False
    readers: tuple[Perms, ...] = ()


class Tree:
    """The path -> Node map, counting nodes per owner (the entries quota)."""

    def __init__(self) -> None:
        self._nodes: dict[str, Node] = {}
        self._owned: Counter[int] = Counter()

    def get(self, path: str) -> Node | None:
        return self._nodes.get(path)

    def set(self, path: str, node: Node) -> None:
        self._forget(path)
        self._nodes[path] = node
        self._owned[node.owner] += 1

    def delete(self, path: str) -> None:
        self._forget(path)
        self._nodes.pop(path, None)

    def _forget(self, path: str) -> None:
        old = self._nodes.get(path)
        if old is not None:
            self._owned[old.owner] -= 1

    def owned_by(self, domid: int) -> int:
        return self._owned[domid]

    def copy(self) -> Tree:
        twin = Tree()
        twin._nodes = dict(self._nodes)
        twin._owned = Counter(self._owned)
        return twin

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self) -> Iterator[str]:
        return iter(self._nodes)


@dataclass(eq=False)
class Transaction:
    id: int
    caller: Caller
    tree: Tree
    seen: dict[str, Node | None] = field(default_factory=dict)   # first look at each path
    dirty: dict[str, None] = field(default_factory=dict)          # ordered set of written paths
    changes: list[Change] = field(default_factory=list)           # watch events for commit
    active: bool = True

    def touch(self, path: str) -> None:
        if path not in self.seen:
            self.seen[path] = self.tree.get(path)


class _Op:
    """One request's view of the store: the caller, and the tree it works on."""

    def __init__(self, store: Store, caller: Caller, tx: Transaction | None) -> None:
        if tx is not None and not tx.active:
            raise XsError("ENOENT", "transaction has ended")
        self.store, self.caller, self.tx = store, caller, tx
        self.tree = tx.tree if tx is not None else store.tree

    def resolve(self, path: str) -> str:
        return paths.resolve(self.caller.domid, path, privileged=self.caller.privileged)

    def get(self, path: str) -> Node | None:
        """Read a node; inside a transaction this makes it part of the conflict set."""
        if self.tx is not None:
            self.tx.touch(path)
        return self.tree.get(path)

    def peek(self, path: str) -> Node | None:
        """Read a node for permission decisions only (no conflict tracking)."""
        return self.tree.get(path)

    def set(self, path: str, node: Node) -> None:
        self._dirty(path)
        self.tree.set(path, replace(node, generation=self.store.next_generation()))

    def delete(self, path: str) -> None:
        self._dirty(path)
        self.tree.delete(path)

    def _dirty(self, path: str) -> None:
        if self.tx is not None:
            self.tx.touch(path)
            self.tx.dirty[path] = None

    def emit(self, change: Change) -> None:
        if self.tx is not None:
            self.tx.changes.append(change)
        else:
            self.store.emit(change)

    @property
    def unprivileged(self) -> bool:
        return not self.caller.privileged


class Store:
    """The xenstore tree. Starts with /, /tool and /tool/xenstored owned by dom0."""

    def __init__(self, quota: Quota | None = None) -> None:
        self.quota = quota or Quota()
        self.tree = Tree()
        self.generation = 0
        self.listeners: list[Callable[[Change], None]] = []
        self.special_perms: dict[str, Perms] = {p: ROOT_PERMS for p in paths.SPECIAL_PATHS}
        self.transactions: dict[int, Transaction] = {}
        self._last_tx_id = 0
        self.tree.set("/", Node(children=("tool",)))
        self.tree.set("/tool", Node(children=("xenstored",)))
        self.tree.set("/tool/xenstored", Node())

    # -- bookkeeping ---------------------------------------------------------------
    def next_generation(self) -> int:
        self.generation += 1
        return self.generation

    def emit(self, change: Change) -> None:
        for listener in list(self.listeners):
            listener(change)

    def fire_special(self, path: str) -> None:
        """Report a special event (@introduceDomain, @releaseDomain) to watchers."""
        self.emit(Change(path, exact=True, readers=(self.special_perms[path],)))

    # -- reads ---------------------------------------------------------------------
    def read(self, caller: Caller, path: str, tx: Transaction | None = None) -> bytes:
        op = _Op(self, caller, tx)
        return self._checked(op, op.resolve(path), READ).value

    def node(self, caller: Caller, path: str, tx: Transaction | None = None) -> Node:
        """The node itself (value, perms, children, generation), if readable."""
        op = _Op(self, caller, tx)
        return self._checked(op, op.resolve(path), READ)

    def directory(self, caller: Caller, path: str, tx: Transaction | None = None) -> list[str]:
        return list(self.node(caller, path, tx).children)

    def exists(self, caller: Caller, path: str, tx: Transaction | None = None) -> bool:
        try:
            self.node(caller, path, tx)
        except XsError as err:
            if err.name == "ENOENT":
                return False
            raise
        return True

    def get_perms(self, caller: Caller, path: str, tx: Transaction | None = None) -> Perms:
        if paths.is_special(path):
            return self._special_perms(caller, path, READ)
        return self.node(caller, path, tx).perms

    # -- writes --------------------------------------------------------------------
    def write(self, caller: Caller, path: str, value: bytes,
              tx: Transaction | None = None) -> None:
        """Set a node's value, creating it and missing parents (WRITE)."""
        op = _Op(self, caller, tx)
        full = op.resolve(path)
        node = op.get(full)
        if node is None:
            self._create(op, full, bytes(value))
            return
        self._require(op, full, node, WRITE)
        updated = replace(node, value=bytes(value))
        self._check_size(op, updated)
        op.set(full, updated)
        op.emit(Change(full, readers=self._readers(op, full, updated.perms)))

    def mkdir(self, caller: Caller, path: str, tx: Transaction | None = None) -> None:
        """Make sure a node exists (MKDIR); an existing one is left alone."""
        op = _Op(self, caller, tx)
        full = op.resolve(path)
        node = op.get(full)
        if node is None:
            self._create(op, full, b"")
        else:
            self._require(op, full, node, WRITE)

    def rm(self, caller: Caller, path: str, tx: Transaction | None = None) -> None:
        """Remove a node and everything below it; a missing node whose parent exists is fine."""
        op = _Op(self, caller, tx)
        full = op.resolve(path)
        node = op.get(full)
        if node is None:
            error = self._missing_error(op, full, WRITE)
            if error == "ENOENT" and full != "/" and op.get(paths.parent(full)) is not None:
                return
            raise XsError(error, full)
        self._require(op, full, node, WRITE)
        if full == "/":
            raise XsError("EINVAL", "cannot remove /")
        parent_path = paths.parent(full)
        parent_node = op.get(parent_path)
        assert parent_node is not None, f"{full} exists without its parent"
        self._remove_subtree(op, full, node, parent_node.perms)
        op.set(parent_path, parent_node.without_child(paths.basename(full)))

    def set_perms(self, caller: Caller, path: str, perms: Perms,
                  tx: Transaction | None = None) -> None:
        """Replace a node's permissions (owner, dom0 or the owner's targeting domain only)."""
        perms = tuple(perms)
        if not perms:
            raise XsError("EINVAL", "no permissions")
        if not caller.privileged and len(perms) > self.quota.perms_per_node:
            raise XsError(QUOTA_ERROR, "too many permissions")
        if paths.is_special(path):
            self._special_perms(caller, path, WRITE | OWNER)
            self.special_perms[path] = perms
            return
        op = _Op(self, caller, tx)
        full = op.resolve(path)
        node = self._checked(op, full, WRITE | OWNER)
        if op.unprivileged and perms[0].domid != node.owner:
            raise XsError("EPERM", "only dom0 may change the owner")
        updated = replace(node, perms=perms)
        self._check_size(op, updated)
        op.set(full, updated)
        op.emit(Change(full, readers=(node.perms,) + self._readers(op, full, perms)))

    # -- transactions --------------------------------------------------------------
    def start_transaction(self, caller: Caller) -> Transaction:
        tx = Transaction(self._new_tx_id(), caller, self.tree.copy())
        self.transactions[tx.id] = tx
        return tx

    def end_transaction(self, tx: Transaction, commit: bool) -> None:
        """Discard, or commit: EAGAIN if anything the transaction touched changed since."""
        if not tx.active:
            raise XsError("ENOENT", "transaction has ended")
        tx.active = False
        self.transactions.pop(tx.id, None)
        if not commit:
            return
        if any(self.tree.get(p) is not seen for p, seen in tx.seen.items()):
            raise XsError("EAGAIN", "conflicting change")
        for path in tx.dirty:
            node = tx.tree.get(path)
            if node is None:
                self.tree.delete(path)
            else:
                self.tree.set(path, replace(node, generation=self.next_generation()))
        for change in tx.changes:
            self.emit(change)

    def _new_tx_id(self) -> int:
        while True:
            self._last_tx_id = self._last_tx_id % 0xFFFFFFFF + 1
            if self._last_tx_id not in self.transactions:
                return self._last_tx_id

    # -- helpers -------------------------------------------------------------------
    def _checked(self, op: _Op, full: str, want: PermBits) -> Node:
        node = op.get(full)
        if node is None:
            raise XsError(self._missing_error(op, full, want), full)
        self._require(op, full, node, want)
        return node

    @staticmethod
    def _require(op: _Op, full: str, node: Node, want: PermBits) -> None:
        if not can(op.caller, node.perms, want):
            raise XsError("EACCES", full)

    @staticmethod
    def _missing_error(op: _Op, full: str, want: PermBits) -> str:
        """ENOENT only if the nearest existing ancestor grants `want`; else EACCES.

        So a domain learns nothing about nodes it could not see anyway, and a
        WRITE that would create a node under an unwritable parent is refused.
        """
        for ancestor in paths.ancestors(full):
            node = op.peek(ancestor)
            if node is not None:
                return "ENOENT" if perm_for(op.caller, node.perms) & want else "EACCES"
        return "EACCES"

    def _create(self, op: _Op, full: str, value: bytes) -> None:
        error = self._missing_error(op, full, WRITE)
        if error != "ENOENT":
            raise XsError(error, full)
        missing = [full]
        top = paths.parent(full)
        while (existing := op.peek(top)) is None:
            missing.append(top)
            top = paths.parent(top)
        existing = op.get(top)
        missing.reverse()                       # outermost new node first
        perms = inherited(existing.perms, op.caller)
        leaf = Node(value=value, perms=perms)
        grown = existing.with_child(paths.basename(missing[0]))
        self._check_size(op, leaf)
        self._check_size(op, grown)
        self._check_entries(op, len(missing))
        op.set(top, grown)
        for path, below in zip(missing, missing[1:]):
            op.set(path, Node(perms=perms, children=(paths.basename(below),)))
        op.set(full, leaf)
        op.emit(Change(full, readers=(perms, existing.perms)))

    def _remove_subtree(self, op: _Op, root: str, node: Node, parent_perms: Perms) -> None:
        """Delete `root` and all below it, children first, reporting each node."""
        stack: list[tuple[str, Node, Perms, bool]] = [(root, node, parent_perms, False)]
        while stack:
            path, current, above, expanded = stack.pop()
            if not expanded:
                stack.append((path, current, above, True))
                for name in current.children:
                    below = paths.child(path, name)
                    child_node = op.get(below)
                    if child_node is not None:
                        stack.append((below, child_node, current.perms, False))
                continue
            op.delete(path)
            op.emit(Change(path, exact=path != root, readers=(current.perms, above)))

    def _readers(self, op: _Op, full: str, perms: Perms) -> tuple[Perms, ...]:
        if full == "/":
            return (perms,)
        parent_node = op.peek(paths.parent(full))
        return (perms,) if parent_node is None else (perms, parent_node.perms)

    def _check_size(self, op: _Op, node: Node) -> None:
        if op.unprivileged and node.size > self.quota.node_size:
            raise XsError(QUOTA_ERROR, "node too large")

    def _check_entries(self, op: _Op, new: int) -> None:
        if op.unprivileged and op.tree.owned_by(op.caller.domid) + new > \
                self.quota.entries_per_domain:
            raise XsError(QUOTA_ERROR, "too many nodes")

    def _special_perms(self, caller: Caller, path: str, want: PermBits) -> Perms:
        perms = self.special_perms.get(path)
        if perms is None:
            raise XsError("ENOENT", path)
        if not can(caller, perms, want):
            raise XsError("EACCES", path)
        return perms


__all__ = ["Caller", "Change", "DOM0", "Node", "Quota", "Store", "Transaction", "Tree"]
