"""The network split driver end to end: two real guests (guests/kernels/netfront.c)
with PV netfronts, dom0's netback and its software bridge, through the host
(`hv up --pcap`, `hv create`); the capture is read back and checked frame by frame."""
import re
import shutil
import struct
import subprocess

import pytest

from conftest import kernel, run_hv
from hvcore.backends.pcap import LINKTYPE_ETHERNET, read_pcap
from test_toolstack_cli import _wait_gone

MACS = {1: "00:16:3e:00:00:01", 2: "00:16:3e:00:00:02"}


@pytest.fixture
def net_host(tmp_path, guests):
    env = {"HV_STATE_DIR": str(tmp_path / "state")}
    hv = lambda *a, **kw: run_hv(*a, env=env, **kw)
    pcap = tmp_path / "bridge.pcap"
    assert hv("up", "--pcap", pcap).code == 0
    yield hv, tmp_path, pcap
    hv("down")


def _guest(tmp, name, abi, role, extra=""):
    path = tmp / f"{name}.cfg"
    path.write_text(f'name = "{name}"\nkernel = "{kernel(abi, "netfront")}"\n'
                    f'memory = 32\nextra = "role={role} {extra}"\non_crash = "destroy"\n'
                    f"vif = [ 'mac={MACS[role]},bridge=hvbr0' ]\n")
    return path


def _run_pair(net_host, abi1, abi2, extra1="", extra2="", count=8):
    hv, tmp, pcap = net_host
    assert hv("create", _guest(tmp, "responder", abi2, 2, f"count={count} {extra2}")).code == 0
    assert hv("create", _guest(tmp, "pinger", abi1, 1, f"count={count} {extra1}")).code == 0
    _wait_gone(hv, "pinger", limit=90)
    _wait_gone(hv, "responder", limit=30)
    state = tmp / "state"
    return (state / "d2.log").read_text(), (state / "d1.log").read_text()


def _ethertypes(records):
    return [struct.unpack_from(">H", r.data, 12)[0] for r in records]


@pytest.mark.parametrize("abi1, abi2", [("pv64", "pv32"), ("pv32", "pv64")])
def test_arp_and_echo_across_the_bridge(net_host, abi1, abi2):
    pinger, responder = _run_pair(net_host, abi1, abi2, count=8)
    assert "netfront: PASS" in pinger, pinger
    assert "netfront: PASS" in responder, responder
    assert "ARP: 10.0.0.2 is at 00:16:3e:00:00:02" in pinger
    assert "8 echo replies OK (56 payload bytes, window 1)" in pinger
    assert re.search(r"answered \d+ ARP and 8 echo requests", responder), responder
    linktype, records = read_pcap(net_host[2])
    assert linktype == LINKTYPE_ETHERNET
    types = _ethertypes(records)
    # every frame both guests sent: ARP requests (repeated until answered) and
    # replies, 8 echo requests and 8 replies
    assert types.count(0x0806) >= 2 and types.count(0x0800) == 16, types
    first_reply = next(i for i, r in enumerate(records) if r.data[12:14] == b"\x08\x06"
                       and r.data[21] == 2)                      # ARP op 2: reply
    assert records[first_reply].data[:6] == bytes.fromhex("00163e000001")
    assert first_reply < types.index(0x0800)          # resolved before the first echo
    request = next(r.data for r in records if r.data[12:14] == b"\x08\x06")
    assert request[:6] == b"\xff" * 6 and request[6:12] == bytes.fromhex("00163e000001")
    echoes = [r.data for r in records if r.data[12:14] == b"\x08\x00"]
    assert [e[34] for e in echoes] == [8, 0] * 8          # ICMP echo, echo reply
    assert all(len(e) == 14 + 20 + 8 + 56 for e in echoes)
    _tshark_agrees(net_host[2], len(records))


def _tshark_agrees(pcap, frames):
    """If tshark is installed, it reads the capture too (our own reader decided)."""
    tshark = shutil.which("tshark")
    if tshark is None:
        return
    out = subprocess.run([tshark, "-r", str(pcap)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == frames


def test_split_event_channels_and_a_window(net_host):
    pinger, responder = _run_pair(net_host, "pv64", "pv64", "split=1 window=8 size=1000",
                                  "split=1", count=64)
    assert "split event channels" in pinger and "split event channels" in responder
    assert "64 echo replies OK (1000 payload bytes, window 8)" in pinger, pinger
    assert "netfront: PASS" in responder, responder


def test_hostile_frontend_is_refused_and_the_other_guest_served(net_host):
    hv = net_host[0]
    pinger, responder = _run_pair(net_host, "pv32", "pv64", "hostile=1", count=4)
    assert ("refused: unused ref -1, foreign ref -1, ref past table -1, past page end -1, "
            "runt -1, over MTU -2, cut chain -1, 19-slot chain -1") in pinger, pinger
    assert "forged rx buffer refused (-1)" in pinger
    assert "4 echo replies OK" in pinger and "netfront: PASS" in pinger
    assert "netfront: PASS" in responder, responder
    dmesg = hv("dmesg").stdout
    assert "vif d2: tx id" in dmesg and "crosses its page" in dmesg, dmesg
    assert "backend failure" not in dmesg


def test_pcap_in_a_missing_folder_is_bad_input(tmp_path):
    result = run_hv("up", "--pcap", tmp_path / "nowhere" / "x.pcap",
                    env={"HV_STATE_DIR": str(tmp_path / "state")})
    assert result.code == 2 and "no such folder" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_hv_run_captures_a_lone_guests_frames(guests, tmp_path):
    """`hv run --pcap`: the private host's bridge has one port; what the guest sends
    (ARP requests nobody answers) is in the capture, with its MAC as the source."""
    cfg = _guest(tmp_path, "lonely", "pv64", 1, "count=1")
    pcap = tmp_path / "run.pcap"
    result = run_hv("run", cfg, "--pcap", pcap, "--timeout", "8")
    assert result.code == 124, result.stdout + result.stderr      # nobody answers
    linktype, records = read_pcap(pcap)
    assert linktype == LINKTYPE_ETHERNET and records, result.stdout
    assert all(_ethertypes(records)[i] == 0x0806 for i in range(len(records)))   # ARP
    mac = bytes(int(x, 16) for x in MACS[1].split(":"))
    assert all(r.data[6:12] == mac for r in records)
    bad = run_hv("run", cfg, "--pcap", tmp_path / "nowhere" / "x.pcap")
    assert bad.code == 2 and "no such folder" in bad.stderr
