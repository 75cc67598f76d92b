"""`monitor` commands (qRcmd): the hypervisor's view of the domain being debugged."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from hvcore.domain import Domain

_STATE_NAMES = {0: "free", 1: "reserved", 2: "unbound", 3: "interdomain", 4: "pirq",
                5: "virq", 6: "ipi"}


def run(dom: "Domain", line: str) -> str:
    """The text for `monitor LINE` (always ends with a newline)."""
    words = line.split()
    name = words[0] if words else "help"
    command = _COMMANDS.get(name)
    if command is None:
        return f"unknown monitor command {name!r}; try 'monitor help'\n"
    return command[0](dom)


def _help(_dom: "Domain") -> str:
    return "".join(f"  {name:<11} {text}\n" for name, (_, text) in _COMMANDS.items())


def _info(dom: "Domain") -> str:
    return (f"d{dom.domid} ({dom.name}): {'64-bit' if dom.is_64bit else '32-bit PAE'} PV,"
            f" {dom.nr_pages} pages, {len(dom.vcpus)} vCPUs,"
            f" {'running' if dom.running else dom.shutdown_reason}\n")


def _vcpus(dom: "Domain") -> str:
    lines = []
    for v in dom.vcpus:
        st = v.state
        state = "down" if not st.up else "blocked" if st.blocked else "runnable"
        lines.append(f"vcpu{v.id}: {state}, guest {'kernel' if v.in_kernel() else 'user'} mode,"
                     f" CPL {v.engine.cpl}, rip {v.rip:#x}, upcall mask {v.upcall_mask},"
                     f" {v.hypercalls_made} hypercalls, {v.traps_taken} traps\n")
    return "".join(lines)


def _evtchn(dom: "Domain") -> str:
    from hvcore.hypercalls import event_channel_op as ev
    lines = ["port state        vcpu pending masked detail\n"]
    for port, ch in sorted(ev._channels(dom).items()):
        detail = ""
        if ch.virq >= 0:
            detail = f"virq {ch.virq}"
        elif ch.state in (2, 3):
            detail = f"remote d{ch.remote_dom}" + (f" port {ch.remote_port}" if ch.state == 3 else "")
        if port == dom.console_evtchn:
            detail += " (console)"
        elif port == dom.store_evtchn:
            detail += " (xenstore)"
        lines.append(f"{port:>4} {_STATE_NAMES.get(ch.state, '?'):<12} {ch.vcpu:>4}"
                     f" {int(ev.port_pending(dom, port)):>7} {int(ev._test(dom, 1, port)):>6}"
                     f" {detail.strip()}\n")
    return "".join(lines)


def _grants(dom: "Domain") -> str:
    if dom.grants is None:
        return "no grant table\n"
    g = dom.grants
    lines = [f"grant table v{g.version}, {g.nr_frames} frames\n", " ref flags  domid frame\n"]
    lines += [f"{ref:>4} {flags:#06x} {domid:>5} {frame:#x}\n"
              for ref, flags, domid, frame in g.live_entries()]
    if dom.maptrack.entries:
        lines.append(f"{len(dom.maptrack.entries)} foreign grants mapped by this domain\n")
    return "".join(lines)


def _hypercalls(dom: "Domain") -> str:
    if not dom.hypercall_log:
        return "no hypercalls yet\n"
    lines = []
    for rec in dom.hypercall_log:
        args = ", ".join(f"{a:#x}" for a in rec.args)
        result = "-" if rec.result is None else f"{rec.result}"
        lines.append(f"vcpu{rec.vcpu} {rec.name}({args}) = {result}\n")
    return "".join(lines)


_COMMANDS: dict[str, tuple[Callable[["Domain"], str], str]] = {
    "help": (_help, "this list"),
    "info": (_info, "the domain: ABI, memory, vCPUs, state"),
    "vcpus": (_vcpus, "each vCPU: run state, guest mode, RIP, upcall mask"),
    "evtchn": (_evtchn, "the domain's event channels"),
    "grants": (_grants, "the domain's grant table entries in use"),
    "hypercalls": (_hypercalls, "the last hypercalls, oldest first"),
}


# ---- HVM and PVH domains -----------------------------------------------------------
def run_hvm(dom, line: str) -> str:
    """`monitor LINE` for an HVM/PVH domain: the PC's side, and its Xen side's event
    channels, grants and hypercalls (through the commands above)."""
    words = line.split()
    name = words[0] if words else "help"
    if name in _XEN_SIDE:
        return _COMMANDS[name][0](dom.xen.dom)
    command = _HVM_COMMANDS.get(name)
    if command is None:
        return f"unknown monitor command {name!r}; try 'monitor help'\n"
    return command[0](dom, words[1:])


def _hvm_help(_dom, _args: list[str]) -> str:
    lines = [f"  {name:<11} {text}\n" for name, (_, text) in _HVM_COMMANDS.items()]
    lines += [f"  {name:<11} {_COMMANDS[name][1]} (its Xen side)\n" for name in _XEN_SIDE]
    return "".join(lines)


def _hvm_info(dom, _args: list[str]) -> str:
    xen = dom.xen
    kind = "PC (firmware)" if xen is None or not xen.rings else "direct boot (Xen rings)"
    return (f"d{dom.domid} ({dom.name}): HVM, {kind}, {dom.nr_pages} pages,"
            f" {len(dom.vcpus)} vCPUs, {'running' if dom.running else dom.shutdown_reason}\n")


def _hvm_vcpus(dom, _args: list[str]) -> str:
    from unicorn import x86_const as X
    from hvcore.arch.x86.hvm.cpu_state import CS
    from hvcore.gdb.hvm import mode_name
    lines = []
    for v in dom.vcpus:
        state = ("waiting for STARTUP" if v.waiting_for_sipi else
                 "halted" if v.halted else "runnable")
        cs = v.state.segment(CS)
        flags = v.engine.reg(X.UC_X86_REG_RFLAGS)
        lines.append(f"vcpu{v.id}: {state}, {mode_name(v)}, CPL {v.state.cpl},"
                     f" cs:rip {cs.selector:04x}:{v.rip:#x} (linear {cs.base + v.rip:#x}),"
                     f" IF {int(bool(flags & 0x200))}, {v.interrupts_taken} interrupts,"
                     f" {v.traps_taken} exits\n")
    return "".join(lines)


def _hvm_devices(dom, args: list[str]) -> str:
    """Each device's state as it saves it (hv save): its registers, as the guest set them."""
    lines = []
    for device in dom.io.devices:
        if args and device.name not in args:
            continue
        state = device.save()
        text = ", ".join(f"{k}={_short(v)}" for k, v in state.items()) if isinstance(state, dict) \
            else _short(state)
        lines.append(f"{device.name}: {text or '-'}\n")
    return "".join(lines) or f"no device named {' '.join(args)}\n"


def _short(value) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:#x}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_short(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        text = "[" + ", ".join(_short(v) for v in value[:16]) + "]"
        return text[:-1] + ", ...]" if len(value) > 16 else text
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    text = str(value)
    return text if len(text) <= 60 else f"<{len(text)} chars>"


_XEN_SIDE = ("evtchn", "grants", "hypercalls")
_HVM_COMMANDS: dict[str, tuple[Callable[..., str], str]] = {
    "help": (_hvm_help, "this list"),
    "info": (_hvm_info, "the domain: memory, vCPUs, state"),
    "vcpus": (_hvm_vcpus, "each vCPU: run state, CPU mode, CPL, CS:RIP, IF"),
    "devices": (_hvm_devices, "[NAME...] the PC's devices and their registers"),
}
