"""`hv gdbserver DOM PORT`: a gdb server opened in a domain that is already running on
the background host, and the real gdb attached to it."""
from __future__ import annotations

import re
import shutil
import subprocess

from conftest import kernel
from test_toolstack_cli import host  # noqa: F401 (fixture)


def test_attach_to_a_running_domain(host):
    assert shutil.which("gdb"), "gdb is needed; tools/setup.sh installs it"
    hv, tmp = host
    elf = kernel("pv64", "loop")
    cfg = tmp / "spin.cfg"
    cfg.write_text(f'name = "spin"\nkernel = "{elf}"\nmemory = 16\n'
                   f'extra = "iters=100000000000"\n')
    assert hv("create", cfg).code == 0
    first = hv("gdbserver", "spin", "0")
    assert first.code == 0, first.stderr
    port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", first.stdout).group(1))
    out = subprocess.run(["gdb", "-batch", "-nx", str(elf),
                          "-ex", f"target remote 127.0.0.1:{port}",
                          "-ex", "print/x $rip", "-ex", "info threads",
                          "-ex", "monitor vcpus", "-ex", "detach"],
                         capture_output=True, text=True, timeout=60)
    text = out.stdout + out.stderr
    assert re.search(r"\$1 = 0xffffffff8\w+", text), text      # in the kernel's code
    assert "in loop_run ()" in text and "vcpu0: runnable" in text, text
    again = hv("gdbserver", "spin", "0")                        # already open: same port
    assert again.code == 0 and f"127.0.0.1:{port}" in again.stdout
    assert [d["name"] for d in __import__("json").loads(hv("list", "-l").stdout)] == ["spin"]
    missing = hv("gdbserver", "nosuch", "0")
    assert missing.code == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert hv("destroy", "spin").code == 0
