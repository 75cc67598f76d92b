"""`hv gdbserver DOM PORT`: open a gdb server in a domain that is already running.

The host cannot reach into a domain's process, so it asks: a GDB_LISTEN request in the
domain's inbox (hvcore/inbox.py), applied by the domain's run loop like any other; the
domain opens the server (hvcore/gdb/server.py) and tells the host which port it got,
or why it could not, with a `gdb_listening` message on its host link.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hvcore.domain import Domain


def listen(dom: "Domain", port: int) -> None:
    """Serve gdb on 127.0.0.1:`port` (0: any free port) from now on; a server already
    open stays as it is. Answers the host either way."""
    reply: dict = {"event": "gdb_listening"}
    if dom.debugger is None:
        from hvcore.gdb.server import GdbServer
        try:
            server = GdbServer(dom, port, wait=False)
        except OSError as err:
            reply["error"] = f"cannot listen on 127.0.0.1:{port}: {err.strerror}"
        else:
            dom.debugger = server
            server.start()
    if dom.debugger is not None:
        reply["port"] = dom.debugger.port
    host = getattr(dom, "host", None)
    if host is None and getattr(dom, "xen", None) is not None:
        host = dom.xen.dom.host                 # an HVM domain's link is its Xen side's
    if host is not None:
        host.tell(reply)
