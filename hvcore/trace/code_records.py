"""CODE and BLOCK_CODE records: what an instruction or block id stands for (address,
bytes, Capstone disassembly, symbol+offset), written once per id."""
from __future__ import annotations

from capstone import CS_ARCH_X86, CS_MODE_16, CS_MODE_32, CS_MODE_64, Cs

from hvcore.arch.x86 import paging
from hvcore.trace import format as fmt
from hvcore.trace.symbols import SymbolTable

MAX_INSN_BYTES = 15


class CodeDescriber:
    """A PV domain's code: one mode (the kernel's), read through the guest's page
    tables. HvmCodeDescriber (below) follows the vCPU's mode instead."""

    def __init__(self, domid: int, is_64bit: bool, symbols: SymbolTable) -> None:
        self.domid = domid
        self.symbols = symbols
        self.cs = Cs(CS_ARCH_X86, CS_MODE_64 if is_64bit else CS_MODE_32)

    def insn(self, v, t_ns: int, code_id: int, address: int, size: int) -> bytes:
        data = self.read(v, address, min(size, MAX_INSN_BYTES))
        text = "(unreadable)"
        for insn in self.disassembler(v).disasm(data, address, 1):
            text = f"{insn.mnemonic} {insn.op_str}".strip()
        return fmt.code_record(self.domid, t_ns, code_id, address, data, text,
                               self.symbols.describe(address))

    def block(self, t_ns: int, code_id: int, address: int, size: int) -> bytes:
        return fmt.block_code_record(self.domid, t_ns, code_id, address, size,
                                     self.symbols.describe(address))

    def disassembler(self, v) -> Cs:
        return self.cs

    def read(self, v, address: int, size: int) -> bytes:
        """The instruction's bytes through the guest's page tables now (the code just
        ran, so it is mapped; b'' if it no longer is)."""
        try:
            return v.read_virt(address, size)
        except paging.PageFault:
            return b""


class HvmCodeDescriber(CodeDescriber):
    """An HVM vCPU's code: addresses are linear (CS base + EIP), disassembled in the
    mode the vCPU is in when the run that first executed them ends (16, 32 or 64-bit)."""

    def __init__(self, domid: int, symbols: SymbolTable) -> None:
        super().__init__(domid, True, symbols)
        self.modes = {mode: Cs(CS_ARCH_X86, mode) for mode in (CS_MODE_16, CS_MODE_32)}
        self.modes[CS_MODE_64] = self.cs

    def disassembler(self, v) -> Cs:
        state = v.state
        return self.modes[CS_MODE_64 if state.code64 else CS_MODE_32 if state.code32
                          else CS_MODE_16]

    def read(self, v, address: int, size: int) -> bytes:
        try:
            return v.mem.read(address, size)
        except Exception:                   # noqa: BLE001 - no longer mapped: no bytes
            return b""
