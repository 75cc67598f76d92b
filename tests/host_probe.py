"""Looking at a running host from outside: its pid (the process listening on its
host.sock, from /proc/net/unix), its open file descriptors by kind, its RSS."""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from hvcore.engine import TCG_BUFFER_BYTES


def host_pid(state: Path) -> int:
    sock = str(state / "host.sock")
    inodes = {line.split()[6] for line in Path("/proc/net/unix").read_text().splitlines()[1:]
              if line.split()[-1] == sock}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return int(pid)
        except OSError:
            continue
    raise LookupError(f"no process listens on {sock}")


def fd_kinds(pid: int) -> Counter:
    """How many memfds, eventfds, sockets, pipes and files the process holds."""
    kinds = Counter()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        kind = ("memfd" if link.startswith("/memfd:") else
                "eventfd" if "eventfd" in link else
                link.split(":")[0] if ":" in link and not link.startswith("/") else "file")
        kinds[kind] += 1
    return kinds


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def rss_split_kib(pid: int) -> tuple[int, int]:
    """(RSS of the engines' translated-code buffers, RSS of everything else): the code
    buffers are the large anonymous mappings (hvcore.engine.TCG_BUFFER_BYTES per engine;
    guest RAM is a memfd, not anonymous)."""
    code = rest = 0
    big = False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if "-" in head[0] and len(head) >= 5 and ":" in head[3]:        # a mapping's line
            lo, hi = (int(x, 16) for x in head[0].split("-"))
            big = len(head) == 5 and hi - lo >= TCG_BUFFER_BYTES
        elif head[0] == "Rss:":
            if big:
                code += int(head[1])
            else:
                rest += int(head[1])
    return code, rest
