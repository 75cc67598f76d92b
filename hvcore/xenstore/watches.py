"""Watches: which registered (path, token) pairs a Change wakes, and the event message."""
from __future__ import annotations

from dataclasses import dataclass

from . import paths
from .perms import Caller, PermBits, perm_for
from .store import Change


@dataclass(frozen=True)
class Watch:
    path: str                 # canonical: an absolute node path or a @special name
    token: str                # opaque to xenstored; latin-1 text of the wire bytes
    prefix: str | None = None # the home path a relative watch was given against

    def matches(self, change: Change) -> bool:
        if change.exact:
            return change.path == self.path
        return paths.is_child(change.path, self.path)

    def event_path(self, path: str) -> str:
        """`path` as the watcher expects it: relative if the watch was set relative."""
        if self.prefix is None or not path.startswith(self.prefix):
            return path
        rest = path[len(self.prefix):]
        return rest[1:] if rest.startswith("/") else rest


def may_see(caller: Caller, change: Change) -> bool:
    """A watcher hears of a change only if it may read the node or its parent."""
    return caller.privileged or any(perm_for(caller, perms) & PermBits.READ
                                    for perms in change.readers)
