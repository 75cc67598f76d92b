"""An `hv` command on a pseudo-terminal, as a user at a terminal runs it: what it prints,
and keys typed into it. Used by the PV GRUB demo, its benchmark and its tests."""
from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class SessionError(Exception):
    """The program did not print what was expected in time, or exited first."""


class Terminal:
    def __init__(self, *args: str, command: str = "run", env: dict | None = None,
                 echo=None) -> None:
        master, slave = pty.openpty()
        self.proc = subprocess.Popen([sys.executable, "-m", "tools.hv", command, *args],
                                     cwd=ROOT, stdin=slave, stdout=slave, stderr=slave,
                                     env={**os.environ, **(env or {})})
        os.close(slave)
        self.master = master
        self.seen = b""
        self.echo = echo                  # called with every chunk read (the demo shows it)

    def _read(self, timeout: float) -> bytes:
        if not select.select([self.master], [], [], timeout)[0]:
            return b""
        try:
            chunk = os.read(self.master, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            raise EOFError
        if self.echo is not None:
            self.echo(chunk)
        return chunk

    def expect(self, text: str, timeout: float = 30) -> str:
        """Read until `text` appears after what earlier expects consumed; return what
        came before it."""
        deadline = time.monotonic() + timeout
        while text.encode() not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SessionError(f"no {text!r} within {timeout:g}s; got {self.seen[-2000:]!r}")
            try:
                self.seen += self._read(left)
            except EOFError:
                raise SessionError(f"exited before {text!r}; got {self.seen[-2000:]!r}") from None
        before, self.seen = self.seen.split(text.encode(), 1)
        return before.decode(errors="replace")

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def wait(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            try:
                self.seen += self._read(0.1)
            except EOFError:
                break
        code = self.proc.wait(timeout=5)
        self.close()
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.master >= 0:
            os.close(self.master)
            self.master = -1
