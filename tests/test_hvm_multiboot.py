"""Direct boot of an HVM guest from a Multiboot (v1) kernel: no firmware runs, the kernel
starts in flat 32-bit protected mode with EAX = 0x2BADB002 and EBX = the multiboot
information (guests/hvm/multiboot.S reads it), through the real `hv run`."""
from conftest import ROOT, kernel, run_hv

MULTIBOOT = ROOT / "guests" / "hvm" / "build" / "multiboot.elf"


def _config(tmp_path, kern, extra="hello from the command line"):
    cfg = tmp_path / "mb.cfg"
    cfg.write_text(f'name = "mb"\ntype = "hvm"\nmemory = 16\nkernel = "{kern}"\n'
                   f'extra = "{extra}"\n')
    return cfg


def test_multiboot_kernel_gets_magic_memory_and_cmdline(guests, tmp_path):
    result = run_hv("run", _config(tmp_path, MULTIBOOT), "--timeout", "30")
    assert ("multiboot: magic ok, mem_upper 15360 KiB, cmdline: hello from the command line"
            in result.stdout), result.stdout + result.stderr
    assert result.code == (0x21 << 1) | 1                   # its exit through port 0xf4


def test_a_kernel_without_a_multiboot_header_is_one_line_exit_2(guests, tmp_path):
    result = run_hv("run", _config(tmp_path, kernel("pv64", "hello")), "--timeout", "30")
    assert result.code == 2, result.stdout + result.stderr
    assert "no Multiboot header" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_ramdisk_is_the_multiboot_module(guests, tmp_path):
    ramdisk = tmp_path / "initrd"
    ramdisk.write_bytes(b"module bytes\0")
    cfg = _config(tmp_path, MULTIBOOT)
    cfg.write_text(cfg.read_text() + f'ramdisk = "{ramdisk}"\n')
    result = run_hv("run", cfg, "--timeout", "30")
    assert "cmdline: hello from the command line, module: module bytes" in result.stdout, \
        result.stdout + result.stderr
    assert result.code == (0x21 << 1) | 1


def test_entry32_starts_an_elf_at_its_entry_without_the_protocol(guests, tmp_path):
    """`--entry32`: the same kernel, started at its ELF entry with EAX = EBX = 0, sees no
    Multiboot magic and says so through its exit code ((0x11 << 1) | 1)."""
    result = run_hv("run", _config(tmp_path, MULTIBOOT), "--entry32", "--timeout", "30")
    assert result.code == (0x11 << 1) | 1, result.stdout + result.stderr
    assert "magic ok" not in result.stdout
    pv = run_hv("run", kernel("pv64", "hello"), "--entry32")
    assert pv.code == 2 and "--entry32" in pv.stderr


def test_hv_run_cmdline_reaches_a_multiboot_kernel(guests):
    # --cmdline (and no config at all) overrides the config's extra =, as for PV guests
    result = run_hv("run", "--type", "hvm", MULTIBOOT, "--cmdline", "typed on hv run",
                    "--timeout", "30")
    assert "cmdline: typed on hv run" in result.stdout, result.stdout + result.stderr
