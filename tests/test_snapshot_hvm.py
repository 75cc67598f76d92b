"""Snapshots of HVM domains: `hv save` / `hv restore` of the tk teaching kernel (booted
by our firmware from IDE disks) at its shell prompt and of a PVH guest using Xen's
interfaces (event channels, its console ring, xenstore) through the real host; the
in-process capture and restore with a kernel that is using the LAPIC timer, the IOAPIC
and IDE when it is taken; an IDE command saved half-way. A restored guest must print
what a run that was never saved prints."""
from __future__ import annotations

import json
import re
import shutil
import time

import pytest

from conftest import ROOT
from test_hvm_boot import hvm_guests  # noqa: F401 - fixture
from test_snapshot import _log, _type
from test_toolstack_cli import _domains, _ready, _wait_gone, host  # noqa: F401 - fixture

PVH = ROOT / "guests" / "pvh" / "build"


def _tk_config(tmp, build) -> str:
    for name in ("tk.img", "tkfs.img"):
        shutil.copy(build / name, tmp / name)
    cfg = tmp / "tk.cfg"
    cfg.write_text(f'name = "tk"\ntype = "hvm"\nmemory = 64\n'
                   f'disk = [ "format=raw, vdev=hda, access=rw, target={tmp / "tk.img"}",\n'
                   f'         "format=raw, vdev=hdb, access=ro, target={tmp / "tkfs.img"}" ]\n')
    return cfg


def _tk_at_prompt(hv, tmp, build, domid: int) -> None:
    """tk created on the host from fresh copies of its disks, at its first prompt. (Input
    is typed only then: keys typed while the firmware still runs may be lost, saved or
    not, so the reference run is made the same way.)"""
    assert hv("create", _tk_config(tmp, build)).code == 0
    _ready(hv, tmp, domid, "exit to leave\n$ ", limit=30)


def _text(tmp, domid: int) -> str:
    return (tmp / "state" / f"d{domid}.log").read_text()


def test_tk_saved_at_its_shell_prompt_answers_after_restore(host, hvm_guests):  # noqa: F811
    hv, tmp = host
    typed = "hello\nprimes 2000\nls\nexit\n"
    _tk_at_prompt(hv, tmp, hvm_guests, 1)                  # the reference: never saved
    _type(tmp, "tk", typed, until=(1, "tk: init exited, powering off"))
    _wait_gone(hv, "tk")
    _tk_at_prompt(hv, tmp, hvm_guests, 2)
    snap = tmp / "tk.snap"
    saved = hv("save", "tk", snap)
    assert saved.code == 0, saved.stderr
    _wait_gone(hv, "tk")
    restored = hv("restore", snap)
    assert restored.code == 0, restored.stderr
    assert [(d["name"], d["id"]) for d in _domains(hv)] == [("tk", 3)]
    _type(tmp, "tk", typed, until=(3, "tk: init exited, powering off"))
    before, after = _text(tmp, 2), _text(tmp, 3)
    assert before + after == _text(tmp, 1), (before, after)
    assert "hello from user space, pid 2" in after         # its process table came back


def _pvh_config(tmp, bits: str, extra: str = "") -> str:
    cfg = tmp / f"pvh{bits}.cfg"
    cfg.write_text(f'name = "pvh"\ntype = "pvh"\nmemory = 32\n'
                   f'kernel = "{PVH / f"pvh{bits}.elf"}"\ncmdline = "echo"\n{extra}')
    return cfg


@pytest.mark.parametrize("bits", ["32", "64"])
def test_pvh_guest_with_events_and_rings_runs_on_after_restore(host, bits):
    """The guest echoes console-ring input, woken by its console port's event through
    the callback vector; it has read xenstore and placed shared_info in its map."""
    hv, tmp = host
    assert hv("create", _pvh_config(tmp, bits)).code == 0
    _ready(hv, tmp, 1, "pvh echo: ready", limit=30)
    _type(tmp, "pvh", "before\n", until=(1, "pvh echo: before"))
    snap = tmp / "pvh.snap"
    saved = hv("save", "pvh", snap)
    assert saved.code == 0, saved.stderr
    _wait_gone(hv, "pvh")
    assert hv("restore", snap).code == 0
    assert hv("xenstore", "read", "/local/domain/2/name").stdout.strip() == "pvh"
    _type(tmp, "pvh", "after\nquit\n", until=(2, "pvh: all done"))
    after = _log(tmp, 2)
    assert "pvh echo: after" in after and "pvh echo: before" not in after
    _wait_gone(hv, "pvh")
    assert "d2 (pvh) poweroff" in hv("dmesg").stdout


def test_domains_with_pv_disks_are_refused_with_one_line(host, tmp_path):
    hv, tmp = host
    disk = tmp / "disk.img"
    disk.write_bytes(bytes(1 << 20))
    assert hv("create", _pvh_config(tmp, "64", f"disk = ['{disk},raw,xvda,rw']\n")).code == 0
    _ready(hv, tmp, 1, "pvh echo: ready", limit=30)
    refused = hv("save", "pvh", tmp / "x.snap")
    assert refused.code == 2 and "PV disk devices" in refused.stderr, refused
    assert refused.stderr.strip().count("\n") == 0 and not (tmp / "x.snap").exists()
    assert hv("destroy", "pvh").code == 0


# ---- in-process -----------------------------------------------------------------------
def _run_until(dom, out: bytearray, marker: bytes, limit: float = 30.0) -> None:
    from hvcore.hvm.run import run_hvm_domain
    deadline = time.monotonic() + limit
    while marker not in out:
        assert time.monotonic() < deadline and dom.running, bytes(out)
        run_hvm_domain(dom, deadline=time.monotonic() + 0.002)


def _timeless(out: bytearray) -> bytes:
    """The pc kernel's tick count is the host's timing (a periodic 1 ms timer may tick
    once more before the kernel masks it, saved or not)."""
    return re.sub(rb"lapic timer: \d+ ticks", b"lapic timer: N ticks", bytes(out))


def test_capture_while_timer_ioapic_and_ide_work_and_restore_in_process(hvm_guests, tmp_path):  # noqa: F811
    """Snapshots taken while the pc kernel counts LAPIC timer ticks and while it works
    its IDE disk through the IOAPIC; each, restored into a new domain (with a copy of
    the disk as it was), prints the rest of what the original prints."""
    from hvcore.hypercalls import load_families
    from hvcore.hvm.domain import build_hvm_domain
    from hvcore.hvm.run import run_hvm_domain
    from hvcore.hvm.xen import attach_xen
    from hvcore.snapshot import DomainSnapshot
    from hvcore.snapshot.hvm import capture_hvm, restore_hvm_into
    load_families()
    image = tmp_path / "pc.img"
    shutil.copy(hvm_guests / "pc.img", image)
    out = bytearray()
    dom = build_hvm_domain(1, "pc", 64, str(image), out.extend)
    attach_xen(dom, rings=False)
    saved = []
    for marker in (b"version 14h\n", b"ide: 65 sectors\n"):
        _run_until(dom, out, marker)
        disk = tmp_path / f"pc{len(saved)}.img"
        shutil.copy(image, disk)
        snap = capture_hvm(dom)
        json.dumps(snap.domain)                  # plain values only
        saved.append((DomainSnapshot.from_bytes(snap.to_bytes()), disk))
    assert run_hvm_domain(dom, deadline=time.monotonic() + 60) == "poweroff"
    assert dom.exit_code == (0x2A << 1) | 1 and b"all passed" in out
    for index, (snap, disk) in enumerate(saved):
        copy = bytearray()
        again = build_hvm_domain(2 + index, "again", 64, str(disk), copy.extend)
        attach_xen(again, rings=False)
        restore_hvm_into(again, snap)
        assert run_hvm_domain(again, deadline=time.monotonic() + 60) == "poweroff"
        assert again.exit_code == dom.exit_code
        assert copy and _timeless(out).endswith(_timeless(copy)) and b"all passed" in copy, \
            (bytes(out), bytes(copy))
        again.destroy()
    dom.destroy()


def test_ide_command_saved_half_way_goes_on_after_load(tmp_path):
    """A READ SECTORS of two sectors saved in the first one's middle, and a WRITE
    SECTORS saved in its first sector: loaded into a new channel on the same image,
    the guest's next data port accesses go on as if nothing had happened."""
    import os
    from hvcore.hvm.devices import ide as I
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(range(256)) * 2 * 8)         # 8 sectors
    fd = os.open(image, os.O_RDWR)
    try:
        def channel() -> I.IdeChannel:
            c = I.IdeChannel(set_irq=lambda irq, level: None)
            c.drives[0] = I.Drive(fd, 8)
            return c

        def command(c: I.IdeChannel, cmd: int, lba: int, count: int) -> None:
            for reg, value in ((I.COUNT, count), (I.LBA_LOW, lba), (I.DEVICE, I.DEV_LBA)):
                c.io_write(I.BASE + reg, 1, value)
            c.io_write(I.BASE + I.STATUS, 1, cmd)

        def reload(c: I.IdeChannel) -> I.IdeChannel:
            fresh = channel()
            fresh.load(json.loads(json.dumps(c.save())))
            return fresh

        first = channel()
        command(first, I.CMD_READ, 1, 2)
        data = b"".join(first.io_read(I.BASE, 2).to_bytes(2, "little") for _ in range(100))
        second = reload(first)
        while second.io_read(I.BASE + I.STATUS, 1) & I.DRQ:
            data += second.io_read(I.BASE, 2).to_bytes(2, "little")
        assert data == image.read_bytes()[512:1536]
        command(second, I.CMD_WRITE, 4, 1)
        for i in range(64):
            second.io_write(I.BASE, 4, 0xA5A5A5A5)
        third = reload(second)
        for i in range(64):
            third.io_write(I.BASE, 4, 0xA5A5A5A5)
        assert third.io_read(I.BASE + I.STATUS, 1) & I.DRQ == 0
        assert image.read_bytes()[4 * 512:5 * 512] == b"\xa5" * 512
        other = I.IdeChannel(set_irq=lambda irq, level: None)
        other.drives[0] = I.Drive(fd, 7)
        with pytest.raises(ValueError, match="must not change"):
            other.load(first.save())
    finally:
        os.close(fd)
