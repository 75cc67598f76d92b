"""PVH and Multiboot direct boot and Xen's interfaces inside HVM guests, through the
real `hv run`: guests/pvh/pvh.c (32- and 64-bit) starts at its XEN_ELFNOTE_PHYS32_ENTRY
with an hvm_start_info (or from a Multiboot loader, with its information), finds Xen's CPUID leaves, fills its hypercall page through the MSR,
writes on port 0xE9, through console_io and on the PV console ring, gets an event
channel delivered as its callback vector through its IDT, reads xenstore, and reads
sector 0 of its disk through blkfront, grant tables and dom0's blkback."""
import subprocess

import pytest

from conftest import ROOT, kernel, run_hv

PVH = ROOT / "guests" / "pvh" / "build"


@pytest.fixture(scope="module")
def pvh_kernels():
    subprocess.run(["make", "-s", "-C", str(ROOT / "guests" / "pvh")], check=True)
    return PVH


@pytest.mark.parametrize("bits", ["32", "64"])
@pytest.mark.parametrize("boot", ["pvh", "multiboot"])
def test_directly_booted_kernel_uses_xen_from_inside_hvm(pvh_kernels, bits, boot):
    # the same kernel with a Multiboot header (mb32/mb64: type hvm, kernel =) as with
    # the PVH note: it finds which loader started it by EAX
    name, kind = (f"pvh{bits}", "pvh") if boot == "pvh" else (f"mb{bits}", "hvm")
    result = run_hv("run", "--type", kind, pvh_kernels / f"{name}.elf",
                    "--cmdline", "from the start info", "--timeout", "30")
    out = result.stdout
    assert result.code == 0, out + result.stderr
    first = ("start info: version 1, memmap entries 3, RAM ends at 0x4000000, cmdline: "
             if boot == "pvh" else "multiboot information: RAM ends at 0x4000000, cmdline: ")
    for line in (f"hello over port 0xE9 from a {bits}-bit "
                 f"{'PVH' if boot == 'pvh' else 'Multiboot'} kernel",
                 first + "from the start info",
                 "cpuid: XenVMMXenVMM at 0x40000000",
                 "hello via console_io",
                 "hello over the PV console ring",
                 "event: port 3 delivered through vector 0xf3",
                 f"xenstore: name = {name}",
                 "blkfront: no disk", "pvh: all done"):
        assert line in out, out + result.stderr
    assert " 0 hypercalls" not in result.stderr


@pytest.mark.parametrize("bits", ["32", "64"])
@pytest.mark.parametrize("boot", ["pvh", "multiboot"])
def test_blkfront_reads_its_disk_through_grants(pvh_kernels, tmp_path, bits, boot):
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"HVCORE PVH DISK SECTOR ZERO".ljust(1 << 20, b"\0"))
    cfg = tmp_path / "pvh.cfg"
    name, kind = (f"pvh{bits}", "pvh") if boot == "pvh" else (f"mb{bits}", "hvm")
    cfg.write_text(f'name = "blk"\ntype = "{kind}"\nmemory = 32\n'
                   f'kernel = "{pvh_kernels / f"{name}.elf"}"\n'
                   f"disk = ['{disk},raw,xvda,rw']\n")
    result = run_hv("run", cfg, "--timeout", "30")
    assert result.code == 0, result.stdout + result.stderr
    assert "blkfront: sector 0 of device/vbd/51712: HVCORE PVH DISK SECTOR ZERO" in result.stdout


def test_a_kernel_without_the_pvh_note_is_one_line_exit_2(pvh_kernels):
    result = run_hv("run", "--type", "pvh", kernel("pv64", "hello"), "--timeout", "30")
    assert result.code == 2, result.stdout + result.stderr
    assert "no XEN_ELFNOTE_PHYS32_ENTRY" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_pvh_needs_a_kernel(tmp_path):
    cfg = tmp_path / "nokernel.cfg"
    cfg.write_text('name = "x"\ntype = "pvh"\nmemory = 32\n')
    result = run_hv("run", cfg, "--timeout", "30")
    assert result.code == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
