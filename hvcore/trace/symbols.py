"""Guest addresses as symbol+offset, and symbols as address ranges (the guest ELF's
.symtab, read by loaders/elf.py with pyelftools into `Domain.symbols`)."""
from __future__ import annotations

import bisect


class UnknownSymbol(Exception):
    pass


class SymbolTable:
    def __init__(self, symbols: dict[str, int]) -> None:
        pairs = sorted((addr, name) for name, addr in symbols.items() if addr)
        self.addresses = [a for a, _ in pairs]
        self.names = [n for _, n in pairs]
        self.by_name = dict(symbols)

    def describe(self, address: int) -> str:
        """'name+0x12' for the closest symbol at or below `address` ('' if none)."""
        i = bisect.bisect_right(self.addresses, address) - 1
        if i < 0:
            return ""
        offset = address - self.addresses[i]
        return self.names[i] if offset == 0 else f"{self.names[i]}+{offset:#x}"

    def range_of(self, name: str) -> tuple[int, int]:
        """[start, end) of a symbol: up to the next symbol at a higher address
        (sizes are not kept; for functions this is the function's code)."""
        if name not in self.by_name:
            raise UnknownSymbol(f"no symbol {name!r} in the guest kernel")
        start = self.by_name[name]
        i = bisect.bisect_right(self.addresses, start)
        end = self.addresses[i] if i < len(self.addresses) else start + 0x1000
        return start, end
