"""The xenstore nodes of a vif, as libxl writes them for a VifSpec (see devices.py
for the directories themselves)."""
from __future__ import annotations

DEFAULT_MTU = 1500


def vif_nodes(vif, devid: int) -> tuple[dict[str, object], dict[str, object]]:
    """(frontend, backend) nodes of network interface `devid`."""
    mtu = vif.mtu or DEFAULT_MTU
    front = {"handle": devid, "mac": vif.mac, "mtu": mtu}
    back = {"handle": devid, "mac": vif.mac, "bridge": vif.bridge, "type": vif.type,
            "mtu": mtu, "script": vif.script or "vif-bridge"}
    if vif.ip:
        back["ip"] = vif.ip
    return front, back
