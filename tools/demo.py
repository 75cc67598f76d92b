"""`make demo`: boot the demo guests, 64-bit and 32-bit PAE PV, and show their consoles;
then Debian's PV GRUB (a kernel nobody here wrote) with a disk image, typed at; then
our teaching kernel as an HVM guest."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMOS = [
    ("pv64", "hello", "a 64-bit PV kernel (ring 3, 4-level paging, syscall hypercalls)"),
    ("pv32", "hello", "a 32-bit PAE PV kernel (ring 1, PAE paging, int $0x82 hypercalls)"),
    ("pv64", "traps", "exceptions bounced through the guest's trap table"),
    ("pv32", "usermode", "kernel -> user -> kernel round trips"),
]


def grub_demo(abi: str) -> int:
    """Boot Debian's PV GRUB on a terminal with an ext2 disk as xvda, and type at it."""
    import tempfile

    from tools.bench_boot import GRUB
    from tools.disk_images import ext2_disk
    from tools.pty_session import SessionError, Terminal
    subprocess.run([str(ROOT / "tools" / "fetch_grub_xen.sh")], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        disk = ext2_disk(Path(tmp) / "demo.img", {
            "hello.txt": "Hello from a file on an ext2 disk, served by hvcore's blkback.\n",
            "boot/grub/grub.cfg": 'echo "grub.cfg read from xvda"\n'})
        cfg = Path(tmp) / "grub.cfg.xl"
        cfg.write_text(f'name = "pvgrub"\nkernel = "{GRUB[abi]}"\nmemory = 64\n'
                       f"disk = ['{disk},raw,xvda,rw']\n")
        print(f"\n=== hv run {cfg.name}   (Debian's PV GRUB, {abi}, typed at on a terminal)",
              flush=True)
        term = Terminal(str(cfg), echo=lambda b: (sys.stdout.buffer.write(b),
                                                 sys.stdout.buffer.flush()))
        try:
            for command in ("ls", "cat (xen/xvda,msdos1)/hello.txt"):
                term.expect("grub>", 60)
                term.type(command)
            term.expect("grub>", 60)
            term.type("halt")
            return term.wait()
        except SessionError as err:
            print(f"\nPV GRUB demo failed: {err}")
            return 1
        finally:
            term.close()


def teaching_kernel_demo() -> int:
    """tk, our teaching kernel, as an HVM guest: our BIOS boots it from an IDE disk and
    its shell runs programs from a second one; a short session is typed into it."""
    import tempfile
    build = ROOT / "guests" / "hvm" / "build"
    with tempfile.TemporaryDirectory() as tmp:
        boot, fs = Path(tmp) / "tk.img", Path(tmp) / "tkfs.img"
        boot.write_bytes((build / "tk.img").read_bytes())
        fs.write_bytes((build / "tkfs.img").read_bytes())
        cfg = Path(tmp) / "tk.cfg"
        cfg.write_text(f'name = "tk"\ntype = "hvm"\nmemory = 64\n'
                       f'disk = [ "format=raw, vdev=hda, access=rw, target={boot}",\n'
                       f'         "format=raw, vdev=hdb, access=ro, target={fs}" ]\n')
        print("\n=== hv run tk.cfg   (an HVM guest: our BIOS, IDE disks, LAPIC timer, a shell)",
              flush=True)
        rc = subprocess.run([sys.executable, "-m", "tools.hv", "run", str(cfg), "--timeout", "60"],
                            cwd=ROOT, input=b"ls\nhello\nprimes 100\ncat README\nexit\n").returncode
    return 0 if rc == 1 else max(rc, 1)      # tk exits through port 0xf4: (0 << 1) | 1


def main() -> int:
    worst = 0
    for abi, name, what in DEMOS:
        kernel = ROOT / "guests" / "build" / abi / f"{name}.elf"
        print(f"\n=== hv run {kernel.relative_to(ROOT)}   ({what})", flush=True)
        rc = subprocess.call([sys.executable, "-m", "tools.hv", "run", str(kernel),
                              "--cmdline", f"demo={abi}", "--timeout", "60"], cwd=ROOT)
        worst = max(worst, rc)
    for abi in ("pv64", "pv32"):
        worst = max(worst, grub_demo(abi))
    worst = max(worst, teaching_kernel_demo())
    print("\nAll demo guests powered off cleanly." if worst == 0 else
          f"\nA demo guest did not power off cleanly (exit {worst}).")
    return worst


if __name__ == "__main__":
    sys.exit(main())
