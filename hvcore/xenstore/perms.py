"""Xenstore permissions: who asks (Caller), node ACLs (Perm lists) and the access rule.

A node's permissions are a non-empty list of (domid, bits). The first entry names
the owner and also gives the access of every domain not listed later. The owner,
dom0 and a domain whose SET_TARGET target is the owner may do anything.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag

from .errors import XsError

DOMID_MAX = 0xFFFF


class PermBits(IntFlag):
    NONE = 0
    READ = 1
    WRITE = 2
    OWNER = 8      # never stored: granted to owners, dom0 and targeting domains


_LETTER_BITS = {"n": PermBits.NONE, "r": PermBits.READ, "w": PermBits.WRITE,
                "b": PermBits.READ | PermBits.WRITE}
_BITS_LETTER = {bits: letter for letter, bits in _LETTER_BITS.items()}
ALL = PermBits.READ | PermBits.WRITE | PermBits.OWNER


@dataclass(frozen=True)
class Perm:
    domid: int
    bits: PermBits = PermBits.NONE

    def __str__(self) -> str:
        return f"{_BITS_LETTER[self.bits]}{self.domid}"

    @classmethod
    def parse(cls, text: str) -> Perm:
        """"r3", "w0", "b7", "n1" -> Perm; anything else is EINVAL."""
        bits = _LETTER_BITS.get(text[:1])
        number = text[1:]
        if bits is None or not number.isascii() or not number.isdigit():
            raise XsError("EINVAL", f"bad permission {text[:16]!r}")
        domid = int(number)
        if domid > DOMID_MAX:
            raise XsError("EINVAL", f"bad permission {text[:16]!r}")
        return cls(domid, bits)


Perms = tuple[Perm, ...]


def perms_of(*texts: str) -> Perms:
    """perms_of("n0", "r3"): a convenience for code and tests."""
    return tuple(Perm.parse(t) for t in texts)


def format_perms(perms: Perms) -> bytes:
    """The GET_PERMS payload: each permission NUL-terminated."""
    return b"".join(str(p).encode() + b"\0" for p in perms)


@dataclass(frozen=True)
class Caller:
    """Who makes a request: a domain and, after SET_TARGET, the domain it serves."""
    domid: int
    target: int | None = None

    @property
    def privileged(self) -> bool:
        return self.domid == 0

    def acts_as(self, domid: int) -> bool:
        return domid == self.domid or (self.target is not None and domid == self.target)


DOM0 = Caller(0)


def perm_for(caller: Caller, perms: Perms) -> PermBits:
    """What `caller` may do on a node with these permissions."""
    if caller.privileged or caller.acts_as(perms[0].domid):
        return ALL
    for entry in perms[1:]:
        if caller.acts_as(entry.domid):
            return entry.bits
    return perms[0].bits


def can(caller: Caller, perms: Perms, want: PermBits) -> bool:
    return perm_for(caller, perms) & want == want


def inherited(parent_perms: Perms, creator: Caller) -> Perms:
    """A new node's permissions: the parent's, owned by an unprivileged creator."""
    if creator.privileged:
        return parent_perms
    return (Perm(creator.domid, parent_perms[0].bits),) + parent_perms[1:]
