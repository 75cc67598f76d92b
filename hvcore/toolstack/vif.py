"""Network interface specs, as xl-network-configuration(5) writes them.

    'mac=00:16:3e:74:3d:76,bridge=hvbr0,ip=10.0.0.2'
    ''                                      every keyword is optional

A vifspec is comma separated `key=value` pairs.  Without a mac, one is made
up in Xen's OUI the way libxl does it: 00:16:3e, then three random bytes with
the top bit of the first one clear.  A mac of all zeros also means "make one
up" (libxl's convention).  The defaults xl documents are kept, except the
bridge: hv's default bridge is `hvbr0` where xl's is `xenbr0`.
"""
from __future__ import annotations

import difflib
import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Callable

from .errors import SpecError

XEN_OUI = (0x00, 0x16, 0x3E)
DEFAULT_BRIDGE = "hvbr0"
VIF_TYPES = ("ioemu", "vif")
_KEYS = ("mac", "bridge", "ip", "script", "model", "type", "vifname", "backend",
         "rate", "mtu", "gatewaydev", "devid")
_ALIASES = {"netdev": "gatewaydev"}          # xl's deprecated spelling
_MAC = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}")
_IFNAME = re.compile(r"[^\s/:]{1,15}")       # Linux IFNAMSIZ is 16, with the NUL


@dataclass(frozen=True)
class VifSpec:
    mac: str                     # lower case, colon separated
    bridge: str = DEFAULT_BRIDGE
    ip: str | None = None        # one or more addresses, space separated
    script: str | None = None    # None: the toolstack's default hotplug script
    model: str | None = None     # emulated NIC model (HVM with type=ioemu only)
    type: str = "vif"            # "vif" (PV only) or "ioemu" (emulated + PV)
    vifname: str | None = None
    backend: str | None = None
    rate: str | None = None
    mtu: int | None = None
    gatewaydev: str | None = None
    devid: int | None = None
    mac_generated: bool = False


def parse_vif_spec(spec: str, hvm: bool = False,
                   randbytes: Callable[[int], bytes] = os.urandom) -> VifSpec:
    """One vifspec string -> VifSpec (SpecError on anything wrong).

    `hvm` picks xl's defaults for an HVM guest: type ioemu, model rtl8139."""
    values = _pairs(spec)
    vif_type = _vif_type(values.pop("type", "ioemu" if hvm else "vif"), hvm)
    mac, generated = _mac(values.pop("mac", None), randbytes)
    model = values.pop("model", "rtl8139" if vif_type == "ioemu" else None)
    return VifSpec(mac=mac, mac_generated=generated, type=vif_type, model=model,
                   bridge=_bridge(values.pop("bridge", DEFAULT_BRIDGE)),
                   ip=_ip(values.pop("ip", None)),
                   mtu=_number("mtu", values.pop("mtu", None), 68, 65535),
                   devid=_number("devid", values.pop("devid", None), 0, 1 << 16),
                   **values)


def random_xen_mac(randbytes: Callable[[int], bytes] = os.urandom) -> str:
    """A MAC in Xen's OUI, as libxl makes them (00:16:3e, then 0xxxxxxx...)."""
    tail = bytearray(randbytes(3))
    tail[0] &= 0x7F
    return format_mac(bytes(XEN_OUI) + bytes(tail))


def format_mac(octets: bytes) -> str:
    return ":".join(f"{octet:02x}" for octet in octets)


def parse_mac(text: str) -> bytes:
    """Six colon separated hex pairs -> 6 bytes; a multicast one is refused."""
    if not _MAC.fullmatch(text):
        raise SpecError(f"mac '{text}' is not a MAC address "
                        f"(expected six hex pairs like 00:16:3e:12:34:56)")
    octets = bytes(int(pair, 16) for pair in text.split(":"))
    if octets[0] & 1:
        raise SpecError(f"mac '{text}' is a multicast address "
                        f"(the low bit of the first byte must be 0)")
    return octets


def _pairs(spec: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        key, equals, value = item.partition("=")
        key = _ALIASES.get(key.strip(), key.strip())
        if not equals:
            raise SpecError(f"'{item}' is not key=value")
        if key not in _KEYS:
            raise SpecError(f"unknown key '{key}'{_suggest(key)}")
        if key in values:
            raise SpecError(f"{key} given twice")
        if value.strip():                    # `key=` alone leaves the default
            values[key] = value.strip()
    return values


def _suggest(word: str) -> str:
    close = difflib.get_close_matches(word, _KEYS, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _mac(text: str | None, randbytes: Callable[[int], bytes]) -> tuple[str, bool]:
    if text is None or parse_mac(text) == bytes(6):
        return random_xen_mac(randbytes), True
    return format_mac(parse_mac(text)), False


def _vif_type(vif_type: str, hvm: bool) -> str:
    if vif_type not in VIF_TYPES:
        raise SpecError(f"unknown type '{vif_type}' (expected ioemu or vif)")
    if vif_type == "ioemu" and not hvm:
        raise SpecError("type=ioemu (an emulated NIC) needs an HVM guest")
    return vif_type


def _bridge(name: str) -> str:
    if not _IFNAME.fullmatch(name) or name in (".", ".."):
        raise SpecError(f"bridge '{name}' is not an interface name "
                        f"(1 to 15 characters, no spaces, '/' or ':')")
    return name


def _ip(text: str | None) -> str | None:
    if text is None:
        return None
    for address in text.split() or [""]:
        try:
            ipaddress.ip_interface(address)
        except ValueError:
            raise SpecError(f"ip '{address}' is not an IP address") from None
    return " ".join(text.split())


def _number(key: str, text: str | None, low: int, high: int) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or not low <= int(text) <= high:
        raise SpecError(f"{key} '{text}' is not a whole number from {low} to {high}")
    return int(text)
