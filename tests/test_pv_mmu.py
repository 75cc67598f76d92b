"""Xen's PV memory-management rules, from a guest that breaks them on purpose
(guests/kernels/mmu_hostile.c): each attempt gets Xen's answer, the page tables stay as
they were, and the hypervisor and the guest go on."""
import pytest

from conftest import ABIS, kernel, run_hv

REFUSED = [
    ("map another domain's frame", "-22"),
    ("map a frame at 1 TiB", "-22"),
    ("map the top-level table writable", "-22"),
    ("map an L1 table writable", "-22"),
    ("map an L1 table read-only (allowed)", "0"),
    ("pin a writable-mapped frame as L1", "-22"),
    ("hook a writable data page in as an L1", "-22"),
    ("write a PTE into a data frame", "0"),
    ("pin that frame (maps a foreign frame)", "-22"),
    ("unpin an L1 in use that is not pinned", "-22"),
    ("unpin the top-level table (CR3 still holds it)", "0"),
    ("unpin it twice", "-22"),
    ("pin it again", "0"),
    ("load a CR3 that is no valid table", "-22"),
    ("load a CR3 beyond our memory", "-22"),
    ("clear an L1 table in use", "-22"),
    ("give back an L1 table in use", "0"),
    ("give back a frame mapped writable", "0"),
    ("give back another domain's frame", "0"),
    ("MMU_MACHPHYS_UPDATE for a foreign frame", "-22"),
]


@pytest.mark.parametrize("abi", ABIS)
def test_hostile_mmu_operations_get_xens_answers(guests, abi):
    result = run_hv("run", kernel(abi, "mmu_hostile"), timeout=120)
    out = result.stdout
    assert result.code == 0, out + result.stderr
    for what, rc in REFUSED:
        assert f"mmu_hostile: {what:<44} -> {rc} OK" in out, (what, out)
    assert "store into the M2P" in out and "#PF error code 3 OK" in out
    assert "mmu_hostile: still running" in out and "mmu_hostile: PASS" in out
