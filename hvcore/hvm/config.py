"""What an xl config's HVM keys become: the options of the domain's process
(hvcore/hvm/process.py), for `hv run` and for the background host's `hv create` alike.
The config's first disk is the IDE master and the boot disk, its second the slave."""
from __future__ import annotations

import os


class HvmConfigError(Exception):
    """The config cannot make an HVM domain (one line for the user)."""


def hvm_options(cfg) -> list[str]:
    disks = [d for d in cfg.disk if not d.is_cdrom and d.target is not None]
    if cfg.type == "pvh" and cfg.kernel is None:
        raise HvmConfigError(f"{cfg.name}: a pvh guest needs a kernel (kernel = ...)")
    if not disks and cfg.kernel is None:
        raise HvmConfigError(f"{cfg.name}: an hvm guest needs a disk to boot from (disk = [...])"
                             " or a Multiboot kernel (kernel = ...)")
    options = ["--on-crash", cfg.on_crash]
    if cfg.kernel is not None:             # direct boot: no firmware runs
        options += ["--kernel", str(cfg.kernel), "--cmdline", cfg.cmdline or ""]
        if cfg.ramdisk is not None:
            options += ["--ramdisk", str(cfg.ramdisk)]
    if cfg.type == "pvh":                  # no emulated disks: its disks are blkback's
        return options + ["--pvh"]
    for flag, disk in zip(("--disk", "--slave-disk"), disks[:2]):
        if not os.path.isfile(disk.target):
            raise HvmConfigError(f"{disk.target}: no such disk image")
        options += [flag, str(disk.target)]
        if disk.readonly:
            options.append("--disk-readonly" if flag == "--disk" else "--slave-readonly")
    return options
