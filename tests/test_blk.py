"""Block devices end to end: our blkfront guest against dom0's blkback over real image
files, through the real `hv run CONFIG` and a real host; hostile requests refused
without a byte of the image changing; bad disk paths refused up front."""
import hashlib
import struct

import pytest

from conftest import ABIS, kernel, run_hv
from test_toolstack_cli import _wait_gone, host  # noqa: F401 (fixture)

SECTOR = 512
PATTERN_MUL = 0x9E3779B97F4A7C15


def pattern_bytes(size: int, seed: int) -> bytes:
    """What blkfront writes (and expects on a read-only disk): word at offset o is
    (o ^ (seed << 40)) * PATTERN_MUL."""
    words = (((o ^ (seed << 40)) * PATTERN_MUL) & (2**64 - 1) for o in range(0, size, 8))
    return struct.pack(f"<{size // 8}Q", *words)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def config(tmp_path, abi: str, disks: list[str], extra: str = "", name: str = "blk"):
    path = tmp_path / f"{name}.cfg"
    specs = ", ".join(f"'{d}'" for d in disks)
    path.write_text(f'name = "{name}"\nkernel = "{kernel(abi, "blkfront")}"\nmemory = 32\n'
                    f'disk = [ {specs} ]\nextra = "{extra}"\non_crash = "destroy"\n')
    return path


@pytest.mark.parametrize("abi", ABIS)
def test_write_flush_read_back_and_read_only_disk(guests, tmp_path, abi):
    rw, ro = tmp_path / "rw.img", tmp_path / "ro.img"
    rw.write_bytes(b"\xaa" * (2 << 20) + b"tail")          # a partial last sector
    ro.write_bytes(pattern_bytes(1 << 20, seed=5))
    ro_before = digest(ro)
    cfg = config(tmp_path, abi, ["rw.img,raw,xvda,rw", "vdev=xvdb, access=ro, target=ro.img"],
                 "seed=5 reconnect=1")
    result = run_hv("run", cfg, "--timeout", "90")
    assert result.code == 0, result.stdout + result.stderr
    out = result.stdout
    assert "vbd 51712: 4096 sectors of 512 bytes, read-write" in out
    assert "vbd 51712: closed" in out and "vbd 51712: reconnected" in out
    assert "vbd 51712: wrote, flushed and verified 4096 sectors" in out
    assert "vbd 51728: 2048 sectors of 512 bytes, read-only" in out
    assert "vbd 51728: read-only disk matches the pattern" in out
    assert "vbd 51728: write refused (status -1)" in out
    assert "blkfront: PASS" in out
    data = rw.read_bytes()
    assert data[:2 << 20] == pattern_bytes(2 << 20, seed=5)    # really on the image
    assert data[2 << 20:] == b"tail"                            # never written past the disk
    assert digest(ro) == ro_before


@pytest.mark.parametrize("abi", ABIS)
def test_hostile_requests_are_refused_and_change_nothing(guests, tmp_path, abi):
    img = tmp_path / "victim.img"
    img.write_bytes(bytes(range(256)) * (4096 * 4) + b"xyz")    # 4 MiB and a tail
    before = digest(img)
    cfg = config(tmp_path, abi, ["victim.img,raw,xvda,rw"], "hostile=1")
    result = run_hv("run", cfg, "--timeout", "60")
    assert result.code == 0, result.stdout + result.stderr
    for what in ("read past the end", "write across the end", "write far past the end",
                 "forged grant", "grant for another domain", "read into a read-only grant",
                 "segment past its page", "no segments", "12 segments"):
        assert f"vbd 51712: {what} refused (status -1)" in result.stdout, what
    assert "reserved operation refused (status -2)" in result.stdout
    assert "still served after the bad requests" in result.stdout
    assert digest(img) == before


def test_dom0_keeps_serving_others_while_one_guest_misbehaves(host, tmp_path):  # noqa: F811
    hv, tmp = host
    (tmp / "bad.img").write_bytes(b"\0" * (1 << 20))
    (tmp / "good.img").write_bytes(b"\0" * (1 << 20))
    bad = config(tmp, "pv64", ["bad.img,raw,xvda,rw"], "hostile=1", name="bad")
    good = config(tmp, "pv32", ["good.img,raw,xvda,rw"], "reconnect=1", name="good")
    assert hv("create", bad).code == 0
    assert hv("create", good).code == 0
    _wait_gone(hv, "bad", limit=60)
    _wait_gone(hv, "good", limit=60)
    state = tmp / "state"
    assert "still served after the bad requests" in (state / "d1.log").read_text()
    good_log = (state / "d2.log").read_text()
    assert "wrote, flushed and verified 2048 sectors" in good_log and "PASS" in good_log
    assert (tmp / "good.img").read_bytes() == pattern_bytes(1 << 20, seed=1)
    dmesg = hv("dmesg").stdout
    assert "outside the disk" in dmesg and "invalid grant reference" in dmesg
    assert "backend/vbd/2/51712: Connected" in dmesg
    listing = hv("xenstore", "ls", "/local/domain/0/backend").stdout
    assert "vbd/1" not in listing and "vbd/2" not in listing     # gone with their domains


def test_frontend_and_backend_directories_as_xl_makes_them(host, tmp_path):  # noqa: F811
    hv, tmp = host
    (tmp / "d.img").write_bytes(b"\0" * (1 << 20))
    cfg = tmp / "idle.cfg"
    cfg.write_text(f'name = "idle"\nkernel = "{kernel("pv64", "loop")}"\nmemory = 32\n'
                   f'disk = [ "d.img,raw,xvdb,ro" ]\nextra = "iters=1000000000000"\n')
    assert hv("create", cfg).code == 0
    read = lambda p: hv("xenstore", "read", p).stdout.strip()
    perms = lambda p: hv("xenstore", "perms", p).stdout.split()
    front, back = "/local/domain/1/device/vbd/51728", "/local/domain/0/backend/vbd/1/51728"
    assert read(f"{front}/backend") == back and read(f"{back}/frontend") == front
    assert read(f"{front}/backend-id") == "0" and read(f"{back}/frontend-id") == "1"
    assert read(f"{front}/virtual-device") == "51728" and read(f"{back}/dev") == "xvdb"
    assert read(f"{back}/mode") == "r" and read(f"{back}/state") == "2"      # InitWait
    assert read(f"{back}/feature-flush-cache") == "1"
    assert read(f"{back}/feature-persistent") == "1"
    assert perms(front) == ["n1", "r0"] and perms(back) == ["n0", "r1"]
    assert hv("destroy", "idle").code == 0


def test_bad_disk_path_is_one_line_exit_2(guests, tmp_path):
    cfg = config(tmp_path, "pv64", ["missing.img,raw,xvda,rw"])
    result = run_hv("run", cfg)
    assert result.code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing.img" in lines[0] and "does not exist" in lines[0]
    assert "Traceback" not in result.stderr
