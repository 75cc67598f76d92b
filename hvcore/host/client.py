"""The `hv` tools' side of the host socket: find the host, start it on first use, ask."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from hvcore.host.supervisor import SOCKET_NAME

ROOT = Path(__file__).resolve().parent.parent.parent


class HostError(Exception):
    """The host is not there, or said no (one-line reason)."""


def state_dir() -> Path:
    """$HV_STATE_DIR, else a private folder per user (two hosts never share one)."""
    if os.environ.get("HV_STATE_DIR"):
        return Path(os.environ["HV_STATE_DIR"])
    base = os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
    return Path(base) / f"hvcore-{os.getuid()}"


def _connect(state: Path) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(state / SOCKET_NAME))
        return sock
    except OSError:
        sock.close()
        return None


def start_host(state: Path, pcap: str | None = None) -> None:
    """`hv up`: start the host in the background unless it already runs; `pcap`, a
    file for the bridges' frames."""
    if (sock := _connect(state)) is not None:
        sock.close()
        return
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(state / "host.log", "ab") as log:
        capture = ["--pcap", pcap] if pcap else []
        subprocess.Popen([sys.executable, "-m", "hvcore.host.supervisor", "--state", str(state),
                          *capture],
                         cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                         start_new_session=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if (sock := _connect(state)) is not None:
            sock.close()
            return
        time.sleep(0.05)
    raise HostError(f"the host did not start (see {state / 'host.log'})")


def connect(start: bool = False) -> socket.socket:
    state = state_dir()
    if start:
        start_host(state)
    sock = _connect(state)
    if sock is None:
        raise HostError(f"no host is running (state folder {state}); start one with `hv up`")
    return sock


def request(op: str, start: bool = False, **fields) -> dict:
    """One request, one reply."""
    sock = connect(start)
    with sock:
        return exchange(sock, {"op": op, **fields})


def exchange(sock: socket.socket, message: dict) -> dict:
    sock.sendall(json.dumps(message).encode() + b"\n")
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = sock.recv(1)       # byte by byte: what follows may be console data
        if not chunk:
            raise HostError("the host closed the connection")
        reply += chunk
    answer = json.loads(reply)
    if not answer.get("ok"):
        raise HostError(answer.get("error", "refused"))
    return answer
