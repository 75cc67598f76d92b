"""Bad input, swept: broken kernels (truncated, not x86, no Xen notes, absurd memory),
configs (unknown keys, bad values, missing files, syntax), disk specs (directories,
missing files), duplicate names and bad options, through `hv run` and through `hv create`
on a real host. Each: one line on stderr naming what and where, exit 2, no traceback,
nothing started (`hv list` empty) and no file created (the state dir and the test's
folder are as they were)."""
import struct
import subprocess

import pytest

from conftest import kernel
from reliability import record
from test_toolstack_cli import _domains, host  # noqa: F401 (fixture)

HELLO = kernel("pv64", "hello")


def _elf_with(tmp, name, edit):
    data = bytearray(HELLO.read_bytes())
    edit(data)
    path = tmp / name
    path.write_bytes(bytes(data))
    return path


def _huge_segment(data):
    phoff, n = struct.unpack_from("<Q", data, 32)[0], struct.unpack_from("<H", data, 56)[0]
    load = next(phoff + i * 56 for i in range(n)
                if struct.unpack_from("<I", data, phoff + i * 56)[0] == 1)
    struct.pack_into("<Q", data, load + 40, 1 << 40)         # p_memsz: 1 TiB


def _plain_elf(tmp):
    src, out = tmp / "plain.c", tmp / "plain.elf"
    src.write_text("void _start(void) { for (;;) ; }\n")
    subprocess.run(["gcc", "-nostdlib", "-static", "-o", str(out), str(src)], check=True)
    src.unlink()
    return out


def _cfg(tmp, body, name="bad.cfg"):
    path = tmp / name
    path.write_text(f'name = "bad"\nkernel = "{HELLO}"\n' + body)
    return path


# case -> (how to make the input from tmp, needles the one line must hold)
KERNELS = {
    "truncated ELF": (lambda t: _elf_with(t, "cut.elf", lambda d: d.__delitem__(slice(300, None))),
                      ["cut.elf"]),
    "AArch64 ELF": (lambda t: _elf_with(t, "arm.elf", lambda d: struct.pack_into("<H", d, 18, 183)),
                    ["arm.elf", "EM_AARCH64"]),
    "ELF without Xen notes": (_plain_elf, ["plain.elf", "Xen"]),
    "segments of 1 TiB": (lambda t: _elf_with(t, "huge.elf", _huge_segment), ["huge.elf", "MiB"]),
    "a directory": (lambda t: (t / "kdir").mkdir() or t / "kdir", ["kdir", "directory"]),
    "a missing file": (lambda t: t / "none.elf", ["none.elf"]),
}
CONFIGS = {
    "unknown key": ("memroy = 48\n", ["bad.cfg:3", "memroy"]),
    "memory not a number": ('memory = "lots"\n', ["bad.cfg:3", "memory"]),
    "absurd memory": ("memory = 1000000000\n", ["bad.cfg:3", "memory"]),
    "zero vCPUs": ("vcpus = 0\n", ["bad.cfg:3", "vcpus"]),
    "unknown action": ('on_crash = "explode"\n', ["bad.cfg:3", "on_crash"]),
    "name with a slash": ('name = "a/b"\n', ["bad.cfg:3", "name"]),
    "missing ramdisk": ('ramdisk = "gone.img"\n', ["bad.cfg:3", "gone.img"]),
    "disk is a directory": ('disk = [ "ddir,raw,xvda,rw" ]\n', ["bad.cfg:3", "ddir", "directory"]),
    "disk is missing": ('disk = [ "gone.img,raw,xvda,rw" ]\n', ["bad.cfg:3", "gone.img"]),
    "disk spec nonsense": ('disk = [ "a,b,c,d,e,f" ]\n', ["bad.cfg:3", "disk"]),
    "bad MAC": ('vif = [ "mac=zz" ]\n', ["bad.cfg:3", "mac"]),
    "unclosed string": ('extra = "open\n', ["bad.cfg:3"]),
}
OPTIONS = {
    "run --memory 0": (["run", HELLO, "--memory", "0"], ["--memory"]),
    "run --timeout abc": (["run", HELLO, "--timeout", "abc"], ["--timeout"]),
    "run --vcpus 2 (no such option)": (["run", HELLO, "--vcpus", "2"], ["--vcpus"]),
    "run KEY=VALUE on a kernel": (["run", HELLO, "memory=lots"], []),
    "create without a config": (["create"], ["config"]),
    "list --bogus": (["list", "--bogus"], ["--bogus"]),
    "destroy nobody": (["destroy", "nobody"], ["nobody"]),
    "unknown command": (["frobnicate"], ["frobnicate"]),
}


def _tree(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def _check(result, needles, what):
    assert result.code == 2, (what, result.code, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, (what, result.stderr)
    for needle in needles:
        assert needle in lines[0], (what, needle, lines[0])
    assert result.stdout == "", (what, result.stdout)


def test_every_bad_input_is_one_line_exit_2_and_starts_nothing(host, tmp_path):
    hv, tmp = host
    state = tmp / "state"
    work = tmp / "work"
    work.mkdir()
    (work / "ddir").mkdir()
    cases = 0
    for what, (make, needles) in KERNELS.items():
        path = make(work)
        cfg = work / f"k{cases}.cfg"
        cfg.write_text(f'name = "k{cases}"\nkernel = "{path}"\n')
        before, state_before = _tree(work), _tree(state)
        _check(hv("run", path), needles, f"run {what}")
        _check(hv("create", cfg), [str(path.name)], f"create {what}")
        assert _tree(work) == before and _tree(state) == state_before, what
        assert _domains(hv) == []
        cases += 2
    for what, (body, needles) in CONFIGS.items():
        cfg = _cfg(work, body.replace("ddir", str(work / "ddir")))
        before, state_before = _tree(work), _tree(state)
        for command in ("run", "create"):
            _check(hv(command, cfg), needles, f"{command} {what}")
            cases += 1
        assert _tree(work) == before and _tree(state) == state_before, what
        assert _domains(hv) == []
    for what, (argv, needles) in OPTIONS.items():
        before, state_before = _tree(work), _tree(state)
        _check(hv(*argv), needles, what)
        assert _tree(work) == before and _tree(state) == state_before, what
        cases += 1
    # a duplicate name: the first one runs, the second is refused and changes nothing
    good = work / "dup.cfg"
    good.write_text(f'name = "dup"\nkernel = "{kernel("pv64", "loop")}"\n'
                    'extra = "iters=1000000000000"\n')
    assert hv("create", good).code == 0
    state_before = _tree(state)
    _check(hv("create", good), ["dup", "already exists"], "duplicate name")
    assert _tree(state) == state_before and [d["name"] for d in _domains(hv)] == ["dup"]
    cases += 1
    assert hv("destroy", "dup").code == 0
    record("bad_input", "hv run and hv create", cases=cases, kernels=len(KERNELS),
           configs=len(CONFIGS), options=len(OPTIONS))
