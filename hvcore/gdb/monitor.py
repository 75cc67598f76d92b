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
