"""Xenstore path rules (docs/misc/xenstore.txt): syntax, limits, relative paths.

Paths are ``str`` holding ASCII; callers decode wire bytes as latin-1 so that any
byte outside the allowed set is still seen, and rejected, here.
"""
from __future__ import annotations

import re
import string

from ..public.io.xs_wire import XENSTORE_ABS_PATH_MAX, XENSTORE_REL_PATH_MAX
from .errors import XsError

INTRODUCE_DOMAIN = "@introduceDomain"
RELEASE_DOMAIN = "@releaseDomain"
SPECIAL_PATHS = (INTRODUCE_DOMAIN, RELEASE_DOMAIN)

_ALLOWED = frozenset(string.ascii_letters + string.digits + "-/_@")
# The part after this prefix counts against XENSTORE_REL_PATH_MAX (C uses %5u).
_LOCAL_PREFIX = re.compile(r"/local/domain/[0-9]{1,5}/")


def domain_path(domid: int) -> str:
    """The home of a domain, the base of its relative paths."""
    return f"/local/domain/{domid}"


def is_special(path: str) -> bool:
    return path.startswith("@")


def canonical(domid: int, path: str) -> str:
    """`path` as domain `domid` means it: relative paths go under its home. No checks."""
    if path.startswith("/") or is_special(path):
        return path
    return f"{domain_path(domid)}/{path}"


def is_valid_node_path(path: str, *, privileged: bool = False) -> bool:
    """An absolute node path that xenstored accepts.

    Unprivileged callers are further held to XENSTORE_REL_PATH_MAX for the part
    after /local/domain/<domid>/ (the whole path elsewhere), as C xenstored does.
    """
    if not path.startswith("/") or "//" in path:
        return False
    if path.endswith("/") and path != "/":
        return False
    if len(path) > XENSTORE_ABS_PATH_MAX:
        return False
    local = _LOCAL_PREFIX.match(path)
    if not privileged and len(path) - (local.end() if local else 0) > XENSTORE_REL_PATH_MAX:
        return False
    return set(path) <= _ALLOWED


def is_valid_special(path: str) -> bool:
    """A ``@name`` watch path: any allowed characters; only SPECIAL_PATHS ever fire."""
    return (is_special(path) and len(path) > 1 and len(path) <= XENSTORE_REL_PATH_MAX
            and set(path) <= _ALLOWED)


def resolve(domid: int, path: str, *, allow_special: bool = False,
            privileged: bool = False) -> str:
    """The canonical absolute path, or XsError("EINVAL") if it breaks the rules."""
    full = canonical(domid, path)
    if allow_special and is_special(full):
        valid = is_valid_special(full)
    else:
        valid = is_valid_node_path(full, privileged=privileged)
    if not valid:
        raise XsError("EINVAL", f"bad path {path[:64]!r}")
    return full


def parent(path: str) -> str:
    """The parent of an absolute path other than "/"."""
    head = path.rsplit("/", 1)[0]
    return head or "/"


def basename(path: str) -> str:
    return path.rsplit("/", 1)[1]


def child(path: str, name: str) -> str:
    return f"/{name}" if path == "/" else f"{path}/{name}"


def ancestors(path: str):
    """The parents of `path`, nearest first, ending with "/"."""
    while path != "/":
        path = parent(path)
        yield path


def is_child(path: str, ancestor: str) -> bool:
    """True if `path` is `ancestor` or lies below it (every node lies below "/")."""
    if ancestor == "/":
        return path.startswith("/")
    return path == ancestor or path.startswith(ancestor + "/")
