"""Interdomain event channels between domains in separate processes, bound through the
host with Xen's rule (the remote port must be unbound and offered to the binder)."""
import time

import pytest

from conftest import guest_config
from test_toolstack_cli import _domains, _wait_gone, host  # noqa: F401 (fixture)


def _guest(tmp, name, abi, extra):
    return guest_config(tmp, name, abi, "pingpong", extra)


@pytest.mark.parametrize("ping_abi, pong_abi", [("pv64", "pv32"), ("pv32", "pv64")])
def test_ping_pong_across_processes(host, ping_abi, pong_abi):
    hv, tmp = host
    # ping publishes its port in xenstore (readable by pong only); pong finds it there
    assert hv("create", _guest(tmp, "ping", ping_abi, "role=1 peer=2 rounds=300")).code == 0
    assert hv("create", _guest(tmp, "pong", pong_abi, "role=2 peer=1 rounds=300")).code == 0
    _wait_gone(hv, "ping")
    _wait_gone(hv, "pong")
    state = tmp / "state"
    ping_log, pong_log = (state / "d1.log").read_text(), (state / "d2.log").read_text()
    assert "ping exchanged 300 events" in ping_log and "pingpong: PASS" in ping_log
    assert "pong exchanged 300 events" in pong_log and "pingpong: PASS" in pong_log
    assert "published port 3 at /local/domain/1/data/pingpong-port for d2" in ping_log
    assert "found d1's port 3 in xenstore" in pong_log
    dmesg = hv("dmesg").stdout
    assert "evtchn: d2 port 3 <-> d1 port 3" in dmesg
    assert "d1 (ping) poweroff" in dmesg and "d2 (pong) poweroff" in dmesg


def test_binding_a_port_offered_to_another_domain_is_refused(host):
    hv, tmp = host
    # d1 offers its port to domain 7, not to d2: d2's bind must get -EINVAL
    assert hv("create", _guest(tmp, "ping", "pv64", "role=1 peer=7 rounds=1")).code == 0
    assert hv("create", _guest(tmp, "pong", "pv64", "role=2 peer=1 port=3 tries=3")).code == 0
    _wait_gone(hv, "pong")
    pong_log = (tmp / "state" / "d2.log").read_text()
    assert "bind_interdomain to d1 port 3: -22" in pong_log
    dmesg = hv("dmesg").stdout
    assert "d2 (pong) crash" in dmesg and "<->" not in dmesg
    assert [d["name"] for d in _domains(hv)] == ["ping"]     # the other is unaffected


def test_binding_to_a_missing_domain_is_esrch(host):
    hv, tmp = host
    assert hv("create", _guest(tmp, "lonely", "pv32", "role=2 peer=9 port=3 tries=2")).code == 0
    _wait_gone(hv, "lonely")
    assert "bind_interdomain to d9 port 3: -3" in (tmp / "state" / "d1.log").read_text()
