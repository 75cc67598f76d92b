"""Bad input to `hv run`: one clear line on stderr, exit code 2, no traceback."""
import subprocess
from pathlib import Path

import pytest

from conftest import kernel, run_hv


def _assert_one_line_exit_2(result, *needles):
    assert result.code == 2, result.stdout + result.stderr
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_missing_file(tmp_path):
    _assert_one_line_exit_2(run_hv("run", tmp_path / "nope.elf"), "nope.elf")


def test_not_an_elf(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("just text\n")
    _assert_one_line_exit_2(run_hv("run", path), "notes.txt")


def test_truncated_elf(guests, tmp_path):
    data = kernel("pv64", "hello").read_bytes()
    path = tmp_path / "truncated.elf"
    path.write_bytes(data[:300])
    _assert_one_line_exit_2(run_hv("run", path), "truncated.elf")


def test_elf_without_xen_notes(tmp_path):
    src = tmp_path / "plain.c"
    src.write_text("void _start(void) { for (;;) ; }\n")
    out = tmp_path / "plain.elf"
    subprocess.run(["gcc", "-nostdlib", "-static", "-o", str(out), str(src)], check=True)
    _assert_one_line_exit_2(run_hv("run", out), "plain.elf", "Xen")


@pytest.mark.parametrize("args, needle", [
    (["--memory", "0"], "--memory"),
    (["--memory", "lots"], "--memory"),
    (["--memory", "999999"], "memory"),
    (["--timeout", "-1"], "--timeout"),
    (["--bogus"], "--bogus"),
])
def test_bad_options(guests, args, needle):
    _assert_one_line_exit_2(run_hv("run", kernel("pv64", "hello"), *args), needle)


def test_no_command():
    _assert_one_line_exit_2(run_hv(), "hv")


def _config(tmp_path, body: str) -> Path:
    path = tmp_path / "web.cfg"
    path.write_text(body)
    return path


def test_run_from_a_config_file(guests, tmp_path):
    cfg = _config(tmp_path, f'name = "web"\nkernel = "{kernel("pv64", "hello")}"\n'
                            'memory = 48\nextra = "from=config"\n')
    result = run_hv("run", cfg)
    assert result.code == 0, result.stderr
    assert 'cmd_line "from=config"' in result.stdout
    assert "hv: d1 (web) poweroff" in result.stderr


def test_config_mistake_names_file_line_and_key(guests, tmp_path):
    cfg = _config(tmp_path, f'name = "web"\nkernel = "{kernel("pv64", "hello")}"\n'
                            'memroy = 48\n')
    _assert_one_line_exit_2(run_hv("run", cfg), "web.cfg:3", "memroy", "memory")


def test_config_override_with_bad_value(guests, tmp_path):
    cfg = _config(tmp_path, f'name = "web"\nkernel = "{kernel("pv64", "hello")}"\n')
    _assert_one_line_exit_2(run_hv("run", cfg, "memory=lots"), "memory")


def test_config_with_missing_kernel_starts_nothing(tmp_path):
    cfg = _config(tmp_path, 'name = "web"\nkernel = "nope.elf"\n')
    result = run_hv("run", cfg)
    _assert_one_line_exit_2(result, "web.cfg", "nope.elf")
    assert result.stdout == ""
