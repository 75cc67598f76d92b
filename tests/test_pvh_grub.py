"""Debian's PVH GRUB (grub-i386-xen_pvh.bin from grub-xen-host, fetched by
tools/fetch_grub_xen.sh, never committed) boots as type = "pvh": no firmware, its PVH
entry with an hvm_start_info, Xen's CPUID leaves and hypercall page from inside the
HVM container, its console and xenstore rings from the HVM params, shared_info and its
grant table added to its physical map, and the disk image read through its blkfront
and our blkback; driven through a pseudo-terminal as a user would (the same session
as the PV GRUB test)."""
from __future__ import annotations

import subprocess

import pytest

from conftest import ROOT
from test_pv_grub import grub_disk, grub_session

GRUB_PVH = ROOT / ".cache" / "grub-xen" / "grub-i386-xen_pvh.bin"


@pytest.fixture(scope="module")
def grub_pvh():
    subprocess.run([str(ROOT / "tools" / "fetch_grub_xen.sh")], check=True)
    assert GRUB_PVH.is_file(), f"{GRUB_PVH} missing after tools/fetch_grub_xen.sh"
    return GRUB_PVH


def test_pvh_grub_lists_the_disk_reads_a_file_and_halts(grub_pvh, tmp_path):
    disk = grub_disk(tmp_path)
    cfg = tmp_path / "pvhgrub.cfg"
    cfg.write_text(f'name = "pvhgrub"\ntype = "pvh"\nkernel = "{grub_pvh}"\nmemory = 64\n'
                   f"disk = ['{disk},raw,xvda,rw']\n")
    assert grub_session(cfg, "halt") == 0
