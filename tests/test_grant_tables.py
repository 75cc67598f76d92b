"""Grant tables between domains in separate processes: a granter and a mapper guest,
both real kernels (guests/kernels/grant.c), through the host (`hv create`)."""
import time

import pytest

from conftest import guest_config
from test_toolstack_cli import _domains, _wait_gone, host  # noqa: F401 (fixture)


def _guest(tmp, name, abi, extra):
    return guest_config(tmp, name, abi, "grant", extra)


@pytest.mark.parametrize("granter_abi, mapper_abi", [("pv64", "pv32"), ("pv32", "pv64")])
def test_map_write_copy_unmap_across_processes(host, granter_abi, mapper_abi):
    hv, tmp = host
    assert hv("create", _guest(tmp, "granter", granter_abi, "role=1 peer=2")).code == 0
    assert hv("create", _guest(tmp, "mapper", mapper_abi, "role=2 peer=1")).code == 0
    _wait_gone(hv, "granter")
    _wait_gone(hv, "mapper")
    state = tmp / "state"
    granter, mapper = (state / "d1.log").read_text(), (state / "d2.log").read_text()
    assert "grant: PASS" in granter, granter
    assert "grant: PASS" in mapper, mapper
    assert "local table ops OK (4 frames, v1)" in granter
    # while mapped: the flags show it and the granter cannot revoke
    assert "A and B in use by d2: flags 0x19 0x0d, end_access refused" in granter
    assert "the peer's write is in A; all refs revoked" in granter
    assert "refused: B writable -1, C -1, ref past table -3" in mapper
    assert "write through the read-only mapping: #PF error code" in mapper
    assert "copy OK; across a page end -10; into a foreign frame -8" in mapper
    assert "a second unmap is refused (-4)" in mapper


def test_a_dead_mapper_releases_its_pins(host):
    """The mapper is destroyed while it holds mappings: the host drops its pins, so the
    granter's end_access works again (as Xen's domain teardown releases them)."""
    hv, tmp = host
    assert hv("create", _guest(tmp, "granter", "pv64", "role=1 peer=2 orphan=1")).code == 0
    assert hv("create", _guest(tmp, "mapper", "pv32", "role=2 peer=1 hold=1")).code == 0
    log = tmp / "state" / "d1.log"
    deadline = time.monotonic() + 60
    while "end_access refused" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    assert [d["name"] for d in _domains(hv)] == ["granter", "mapper"]
    assert hv("destroy", "mapper").code == 0
    _wait_gone(hv, "granter")
    text = log.read_text()
    assert "grant: revoked after d2 went away" in text and "grant: PASS" in text, text
