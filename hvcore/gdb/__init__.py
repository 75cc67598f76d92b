"""A gdb remote-protocol stub for a domain's vCPUs (`hv run --gdb PORT`).

It lives in the domain's process, which owns the vCPUs: `server` (the socket and the
hand-over between gdb's thread and the run loop), `stub` (the packets), `packets`
(framing), `registers` (layouts and target descriptions), `guest_memory` (virtual
addresses through the guest's page tables), `breakpoints` (engine hooks, present only
while a breakpoint or watchpoint is), `monitor` (`monitor` commands: the hypervisor's
view of the domain).
"""
