"""`hv run`'s private host: its one domain gets the dom0 a Host gives every domain
(xenstored, dom0's event channels and grant service, the backends of its disks and
vifs, a bridge and, with --pcap, its capture), while
`hv run`'s own loop streams the console and watches the clock.

The Host's listening sockets go to a private folder of ours, removed at close.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hvcore.host.supervisor import Host


class PrivateHost:
    def __init__(self, dp, cfg, pcap: Path | None = None) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="hv-run-"))
        self.host = Host(self.folder, pcap=pcap)
        self.dp = dp
        try:
            self.host.adopt(dp, cfg)
        except (BrokenPipeError, ConnectionResetError):
            pass            # the domain is over already (a quick guest): nothing to serve

    def waits(self) -> list[int]:
        """File descriptors that mean work for dom0 (besides the domain's own)."""
        return self.host.dom0_ports.waits()

    def serve(self) -> bool:
        """Event channels to dom0 and the block and network backends; True if a ring
        has more requests waiting (come back without sleeping)."""
        self.host.dom0_ports.service()
        busy = self.host.block.serve()
        return self.host.net.serve() or busy

    def dmesg(self) -> list[str]:
        return self.host.dmesg

    def close(self) -> None:
        domid = self.dp.domid
        self.host.block.remove_domain(domid)
        self.host.net.remove_domain(domid)
        self.host.net.close()
        self.host.grant_service.release(domid)
        self.host.dom0_ports.forget(domid)
        self.host.guests.pop(domid, None)
        self.host.listener.close()
        self.host.xs_listener.close()
        shutil.rmtree(self.folder, ignore_errors=True)
