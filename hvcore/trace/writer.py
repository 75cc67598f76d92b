"""Appending records to a trace file.

The file is created (header included) by whoever starts the domains (`hv run`); each
domain process then opens it for appending and writes whole records in batches, one
`write` per batch: with O_APPEND, batches from several processes never interleave
inside a record, and a reader sees only whole batches plus, at worst, a cut last one.
"""
from __future__ import annotations

import os
import time

from hvcore.trace import format as fmt

FLUSH_RECORDS = 4096            # flush after this many records...
FLUSH_INTERVAL_NS = 100_000_000  # ...or this long after the last flush


def create(path: str, meta: dict) -> None:
    """A new, empty trace file with its header (raises OSError)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, fmt.file_header(meta))
    finally:
        os.close(fd)


class TraceWriter:
    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        # records waiting to be written: the tracer appends to this list directly
        self.pending: list[bytes] = []
        self.flushed_ns = time.monotonic_ns()
        self.bytes_written = 0

    def add(self, record: bytes) -> None:
        self.pending.append(record)

    def maybe_flush(self, now_ns: int) -> None:
        """Called by the tracer after each time slice (at most ~10 ms apart): keeps the
        file at most ~0.1 s behind, and the list short."""
        if len(self.pending) >= FLUSH_RECORDS or now_ns - self.flushed_ns >= FLUSH_INTERVAL_NS:
            self.flush()

    def flush(self) -> None:
        self.flushed_ns = time.monotonic_ns()
        if not self.pending or self.fd < 0:
            return
        data = b"".join(self.pending)
        self.pending.clear()
        view = memoryview(data)
        while view:
            done = os.write(self.fd, view)
            view = view[done:]
        self.bytes_written += len(data)

    def close(self) -> None:
        self.flush()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
