"""Python mirror of Xen's public ABI (xen/include/public), one module per header.

Every structure exists twice, as ``<cstruct>_64`` (what gcc -m64 lays out, the
native x86-64 PV ABI) and ``<cstruct>_32`` (what gcc -m32 lays out, which is
also Xen's "compat" view of a 32-bit PV guest on 64-bit Xen).  Constants keep
Xen's names minus leading underscores; a constant whose value differs between
the two ABIs carries the same ``_64``/``_32`` suffix.  Bit-number macros such
as ``_VGCF_in_syscall`` become ``VGCF_in_syscall_bit``.
"""

import ctypes


class Abi:
    """The C type sizes and alignment rules of one guest ABI."""

    def __init__(self, bits: int):
        self.bits = bits
        self.suffix = f"_{bits}"
        self.ulong = ctypes.c_uint64 if bits == 64 else ctypes.c_uint32
        self.long = ctypes.c_int64 if bits == 64 else ctypes.c_int32
        # XEN_GUEST_HANDLE(t) is `struct { t *p; }`, i.e. one guest pointer.
        self.handle = self.ulong
        # The i386 psABI aligns 8-byte scalars to 4 inside structures.
        self._pack = None if bits == 64 else 4

    def __repr__(self) -> str:
        return f"<Abi x86_{self.bits}>"

    def pick(self, for_64, for_32):
        return for_64 if self.bits == 64 else for_32

    def struct(self, name: str, fields, *, c_type: str | None = None, union: bool = False,
               pack: int | None = None):
        """A ctypes class ``name + suffix`` with ``fields`` laid out for this ABI.

        ``c_type`` is the C spelling ("struct start_info") for structures that
        exist under that name in the headers; anonymous members leave it None.
        ``pack`` caps member alignment further, as __attribute__((packed)) does.
        """
        base = ctypes.LittleEndianUnion if union else ctypes.LittleEndianStructure
        namespace = {"_abi_": self, "_c_type_": c_type}
        packs = [p for p in (self._pack, pack) if p is not None]
        if packs:
            namespace["_pack_"] = min(packs)
        namespace["_fields_"] = list(fields)
        return type(name + self.suffix, (base,), namespace)

    def union(self, name: str, fields, *, c_type: str | None = None):
        return self.struct(name, fields, c_type=c_type, union=True)


X86_64 = Abi(64)
X86_32 = Abi(32)
ABIS = (X86_64, X86_32)


def struct_pair(name: str, fields_for, *, union: bool = False, pack: int | None = None):
    """Both flavours of `struct name` (or `union name`): returns (cls_64, cls_32).

    ``fields_for(abi)`` returns the ctypes field list for one ABI.
    """
    c_type = ("union " if union else "struct ") + name
    return tuple(abi.struct(name, fields_for(abi), c_type=c_type, union=union, pack=pack)
                 for abi in ABIS)


def union_pair(name: str, fields_for):
    return struct_pair(name, fields_for, union=True)


def layout(struct_cls) -> dict[str, tuple[int, int]]:
    """Field path -> (offset, size) in bytes, descending into nested structs and unions.

    Nested members get dotted paths ("console.domU.mfn"), the same designators
    C's offsetof accepts.  Arrays are reported whole, not per element.
    """
    result: dict[str, tuple[int, int]] = {}

    def walk(cls, prefix: str, base: int) -> None:
        for name, ftype, *_ in cls._fields_:
            desc = getattr(cls, name)
            path, offset = prefix + name, base + desc.offset
            result[path] = (offset, desc.size)
            if issubclass(ftype, (ctypes.Structure, ctypes.Union)):
                walk(ftype, path + ".", offset)

    walk(struct_cls, "", 0)
    return result
