"""Debian's PV GRUB (grub-xen-host, fetched by tools/fetch_grub_xen.sh, never committed)
boots on hvcore as a real PV guest, 64-bit and 32-bit PAE, with a raw disk image as xvda
served by blkback; driven through a pseudo-terminal as a user would."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import ROOT
from tools.disk_images import ext2_disk
from tools.pty_session import Terminal

GRUB = {"pv64": ROOT / ".cache" / "grub-xen" / "grub-x86_64-xen.bin",
        "pv32": ROOT / ".cache" / "grub-xen" / "grub-i386-xen.bin"}
HELLO = "hello from an ext2 file on xvda"


@pytest.fixture(scope="module")
def grub_images() -> dict[str, Path]:
    subprocess.run([str(ROOT / "tools" / "fetch_grub_xen.sh")], check=True)
    for image in GRUB.values():
        assert image.is_file(), f"{image} missing after tools/fetch_grub_xen.sh"
    return GRUB


def _config(tmp_path: Path, image: Path, disk: Path) -> Path:
    cfg = tmp_path / "grub.cfg.xl"
    cfg.write_text(f'name = "pvgrub"\nkernel = "{image}"\nmemory = 64\n'
                   f"disk = ['{disk},raw,xvda,rw']\n")
    return cfg


@pytest.mark.parametrize("abi", ["pv64", "pv32"])
@pytest.mark.parametrize("command, exit_code", [("halt", 0), ("reboot", 3)])
def test_grub_lists_the_disk_and_reads_a_file(grub_images, tmp_path, abi, command, exit_code):
    disk = grub_disk(tmp_path)
    assert grub_session(_config(tmp_path, grub_images[abi], disk), command) == exit_code


def grub_disk(folder: Path) -> Path:
    """An ext2 image with a file to cat and a grub.cfg that says it ran."""
    return ext2_disk(folder / "disk.img", {
        "hello.txt": HELLO + "\n",
        "boot/grub/grub.cfg": 'echo "grub.cfg from xvda"\n'})


def grub_session(cfg: Path, command: str) -> int:
    """`hv run CFG` on a terminal: GRUB runs the disk's grub.cfg, `ls` lists xvda and its
    partition, `cat` prints the file, then `command`; the run's exit code."""
    term = Terminal(str(cfg))
    try:
        term.expect("grub.cfg from xvda")        # found and ran the config on the disk
        term.expect("grub>")
        term.type("ls")
        listing = term.expect("grub>")
        assert "(xen/xvda)" in listing and "(xen/xvda,msdos1)" in listing, listing
        term.type("cat (xen/xvda,msdos1)/hello.txt")
        assert HELLO in term.expect("grub>")
        term.type(command)
        return term.wait()
    finally:
        term.close()


def test_grub_on_a_running_host_through_create_c(grub_images, tmp_path, guests):
    """`hv create -c` attaches the console of a domain on the background host: GRUB is
    driven from the terminal the same way, and `halt` ends the domain."""
    from conftest import run_hv
    env = {"HV_STATE_DIR": str(tmp_path / "state")}
    assert run_hv("up", env=env).code == 0
    disk = ext2_disk(tmp_path / "disk.img", {"hello.txt": HELLO + "\n",
                                              "boot/grub/grub.cfg": 'echo "grub.cfg from xvda"\n'})
    term = Terminal("-c", str(_config(tmp_path, grub_images["pv64"], disk)),
                    command="create", env=env)
    try:
        term.expect("grub>")
        term.type("cat (xen/xvda,msdos1)/hello.txt")
        assert HELLO in term.expect("grub>")
        term.type("halt")
        term.wait()
        listed = run_hv("list", env=env).stdout
        assert "pvgrub" not in listed, listed
    finally:
        term.close()
        run_hv("down", env=env)
