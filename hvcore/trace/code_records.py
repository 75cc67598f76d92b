"""CODE and BLOCK_CODE records: what an instruction or block id stands for (address,
bytes, Capstone disassembly, symbol+offset), written once per id."""
from __future__ import annotations

from capstone import CS_ARCH_X86, CS_MODE_32, CS_MODE_64, Cs

from hvcore.arch.x86 import paging
from hvcore.trace import format as fmt
from hvcore.trace.symbols import SymbolTable

MAX_INSN_BYTES = 15


class CodeDescriber:
    def __init__(self, domid: int, is_64bit: bool, symbols: SymbolTable) -> None:
        self.domid = domid
        self.symbols = symbols
        self.cs = Cs(CS_ARCH_X86, CS_MODE_64 if is_64bit else CS_MODE_32)

    def insn(self, v, t_ns: int, code_id: int, address: int, size: int) -> bytes:
        data = _read(v, address, min(size, MAX_INSN_BYTES))
        text = "(unreadable)"
        for insn in self.cs.disasm(data, address, 1):
            text = f"{insn.mnemonic} {insn.op_str}".strip()
        return fmt.code_record(self.domid, t_ns, code_id, address, data, text,
                               self.symbols.describe(address))

    def block(self, t_ns: int, code_id: int, address: int, size: int) -> bytes:
        return fmt.block_code_record(self.domid, t_ns, code_id, address, size,
                                     self.symbols.describe(address))


def _read(v, address: int, size: int) -> bytes:
    """The instruction's bytes through the guest's page tables now (the code just ran,
    so it is mapped; b'' if it no longer is)."""
    try:
        return v.read_virt(address, size)
    except paging.PageFault:
        return b""
