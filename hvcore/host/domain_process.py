"""The supervisor's handle on a domain running in its own process."""
from __future__ import annotations

import json
import mmap
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from hvcore.console_ring import put_input, take_output
from hvcore.inbox import SET_PENDING, Outbox, Request
from hvcore.memory import PAGE_SIZE

ROOT = Path(__file__).resolve().parent.parent.parent


class DomainStartError(Exception):
    """The domain process could not build its domain (one-line reason)."""


@dataclass
class DomainProcess:
    domid: int
    name: str
    proc: subprocess.Popen
    sock: socket.socket
    notify_fd: int
    info: dict = field(default_factory=dict)
    ram: mmap.mmap | None = None
    console_out: bytearray = field(default_factory=bytearray)
    hypervisor_console: bytearray = field(default_factory=bytearray)
    console_io_shown: int = 0          # how much of hypervisor_console a viewer has shown
    shutdown: dict | None = None
    progress: dict = field(default_factory=dict)   # latest hypercall/trap counts (progress.py)
    outbox: "Outbox | None" = None
    inbox_fds: tuple[int, int] | None = None   # to introduce this domain to its peers
    on_event: "object | None" = None           # host's handler for channel messages
    xenstore: "_XenstoreLink | None" = None
    grants: "object | None" = None             # hvcore.grant_table.HostGrantTable
    gdb_listening: dict | None = None          # the domain's answer to GDB_LISTEN
    save_messages: list = field(default_factory=list)   # hv save: (message, fds) as they come
    ram_fd: int = -1
    _buffer: bytes = b""

    @property
    def pid(self) -> int:
        return self.proc.pid

    # ---- messages from the domain process -------------------------------------
    def _read_messages(self, block: bool) -> list[tuple[dict, list[int]]]:
        self.sock.setblocking(block)
        out = []
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.sock, 1 << 16, 8)
        except BlockingIOError:
            return out
        if not data:
            raise EOFError
        self._buffer += data
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            out.append((json.loads(line), fds))
            fds = []
        return out

    def _handle(self, message: dict, fds: list[int]) -> None:
        event = message["event"]
        if event == "built" and message.get("hvm"):
            self._built_hvm(message, fds)
        elif event == "built":
            self.info = message
            ram_fd, _hv_fd, inbox_fd, inbox_eventfd, grant_fd = fds
            self.ram = mmap.mmap(ram_fd, message["nr_pages"] * PAGE_SIZE)
            self.ram_fd = os.dup(ram_fd)       # for peers that map our grants
            from hvcore.grant_table import HostGrantTable
            self.grants = HostGrantTable(self.domid, self.ram, message["nr_pages"], grant_fd)
            self.outbox = Outbox(inbox_fd, os.dup(inbox_eventfd), sender=0)
            self.inbox_fds = (os.dup(inbox_fd), os.dup(inbox_eventfd))
            for fd in fds:
                os.close(fd)
        elif event == "console_io":
            self.hypervisor_console += message["data"].encode("latin-1")
        elif event == "shutdown":
            self.shutdown = message
        elif event == "gdb_listening":
            self.gdb_listening = message
        elif event in ("save_park", "saved"):
            self.save_messages.append((message, fds))
        elif event == "progress":
            self.progress = message
        elif event == "error":
            raise DomainStartError(message["message"])
        elif event in ("evtchn_unbound", "evtchn_closed", "bind", "exists") \
                or event.startswith("grant_"):
            if self.on_event is not None:
                self.on_event(self, message)
            elif event == "exists":                        # dom0 (us) and itself only
                self.send({"reply": True, "exists": message["dom"] in (0, self.domid)})
            elif event == "bind":
                self.send({"reply": True, "errno": 3})     # ESRCH: no other domains here
            elif event.startswith("grant_"):
                self.send({"reply": True, "status": -2})   # GNTST_bad_domain

    def _built_hvm(self, message: dict, fds: list[int]) -> None:
        """An HVM domain hands over its RAM and inbox; a direct-booted one also its grant
        frames, and names its rings (hvcore/hvm/xen.py) as a PV domain does."""
        self.info = message
        ram_fd, inbox_fd, inbox_eventfd = fds[:3]
        self.ram = mmap.mmap(ram_fd, message["nr_pages"] * PAGE_SIZE)
        self.ram_fd = os.dup(ram_fd)
        if len(fds) > 3:
            from hvcore.grant_table import HostGrantTable
            self.grants = HostGrantTable(self.domid, self.ram, message["nr_pages"], fds[3])
        self.outbox = Outbox(inbox_fd, os.dup(inbox_eventfd), sender=0)
        self.inbox_fds = (os.dup(inbox_fd), os.dup(inbox_eventfd))
        for fd in fds:
            os.close(fd)

    def send(self, message: dict, fds: list[int] | None = None) -> None:
        """To the domain process (replies, peer introductions)."""
        data = json.dumps(message).encode() + b"\n"
        if fds:
            socket.send_fds(self.sock, [data], fds)
        else:
            self.sock.sendall(data)

    def wait_built(self) -> None:
        """Until the domain process hands its memory over (DomainStartError if it dies
        first, with its last line of stderr)."""
        while self.ram is None:
            if not self.pump(block=True):
                err = self.proc.stderr.read().decode(errors="replace").strip().splitlines()
                raise DomainStartError(err[-1] if err else f"domain process {self.proc.pid} died")

    def pump(self, block: bool = False) -> bool:
        """Handle what the domain process sent; False once it has gone away."""
        try:
            for message, fds in self._read_messages(block):
                self._handle(message, fds)
        except (EOFError, ConnectionResetError):
            return False
        return True

    # ---- the console ring, served from the shared guest memory -------------------
    def drain_console(self) -> bytes:
        """Console daemon work: take the guest's output from its ring (no copy through
        a pipe: this is the guest's page, mapped from its memfd)."""
        if self.ram is None or not self.info.get("console_pfn"):
            return b""
        from hvcore.inbox import os_read_eventfd
        os_read_eventfd(self.notify_fd)
        data = take_output(self.ram, self.info["console_pfn"] * PAGE_SIZE)
        self.console_out += data
        return data

    def send_event(self, port: int) -> None:
        """Ask the domain's process to mark `port` pending (we never write its bitmaps)."""
        self.outbox.post(Request(SET_PENDING, port))

    def feed_console(self, data: bytes) -> int:
        """Console daemon work: put input in the guest's ring (hvcore.console_ring)
        and notify its console port. Returns how many bytes were taken."""
        if self.info.get("hvm") and not self.info.get("pv_console") \
                or self.info.get("deterministic"):
            # to the UART, or to a deterministic domain that puts it in its ring itself
            # between slices (hvcore/replay/record.py), through the domain's inbox
            from hvcore.hvm.run import CONSOLE_INPUT
            for at in range(0, len(data), 8):
                chunk = data[at:at + 8]
                self.outbox.post(Request(CONSOLE_INPUT, len(chunk), int.from_bytes(chunk, "little")))
            return len(data)
        taken = put_input(self.ram, self.info["console_pfn"] * PAGE_SIZE, data)
        if taken:
            self.send_event(self.info["console_evtchn"])
        return taken

    def serve_backends(self) -> bytes:
        """dom0's round for this domain: answer its xenstore ring, read what its process
        sent, and return the console output that is new since the last round."""
        self.service_xenstore()
        self.pump()
        data = bytes(self.hypervisor_console[self.console_io_shown:]) + self.drain_console()
        self.console_io_shown = len(self.hypervisor_console)
        return data

    # ---- xenstored, served over the guest's ring page ---------------------------
    def attach_xenstore(self, server) -> None:
        """Give this domain xl's xenstore layout and serve its ring from `server`."""
        from hvcore.xenstore import Connection, ServerRing, populate_domain
        info = self.info
        page = memoryview(self.ram)[info["store_pfn"] * PAGE_SIZE:(info["store_pfn"] + 1) * PAGE_SIZE]
        ring = ServerRing(page)
        ring.advertise()
        populate_domain(server.store, self.domid, self.name,
                        memory_kb=info["nr_pages"] * 4, store_port=info["store_evtchn"],
                        store_ring_ref=info["store_pfn"], console_port=info["console_evtchn"],
                        console_ring_ref=info["console_pfn"])
        conn = server.connect(Connection(self.domid, send=ring.send))
        server.introduce(self.domid, info["store_pfn"], info["store_evtchn"])
        self.xenstore = _XenstoreLink(server, ring, conn, page)

    def service_xenstore(self) -> None:
        """Answer what the guest put on its xenstore ring; kick it if the ring moved."""
        from hvcore.xenstore import service_ring
        link = self.xenstore
        if link is not None and service_ring(link.ring, link.server, link.conn):
            self.send_event(self.info["store_evtchn"])

    # ---- life and death ----------------------------------------------------------
    def wait(self, timeout: float | None = None) -> int:
        code = self.proc.wait(timeout)
        while self.pump(block=False) and self.shutdown is None:
            if self.proc.poll() is not None:
                break
        self.drain_console()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)

    def close(self) -> None:
        self.kill()
        self.proc.wait()
        if self.xenstore is not None:
            self.xenstore.server.disconnect(self.xenstore.conn)
            self.xenstore.ring.page.release()
            self.xenstore.page.release()
            self.xenstore = None
        if self.outbox is not None:
            self.outbox.close()
            os.close(self.outbox.eventfd)
            self.outbox = None
        if self.inbox_fds is not None:
            for fd in self.inbox_fds:
                os.close(fd)
            self.inbox_fds = None
        if self.grants is not None:
            self.grants.close()
            self.grants = None
        if self.ram_fd >= 0:
            os.close(self.ram_fd)
            self.ram_fd = -1
        if self.ram is not None:
            try:
                self.ram.close()
            except BufferError:
                pass    # a ring object still views the pages; unmapped with its last view
        self.sock.close()
        os.close(self.notify_fd)


@dataclass
class _XenstoreLink:
    server: object
    ring: object
    conn: object
    page: memoryview


def spawn_domain(*args, **kwargs) -> DomainProcess:
    """Start a domain in its own process and wait until its memory is handed over
    (`start_domain`'s arguments)."""
    dp = start_domain(*args, **kwargs)
    dp.wait_built()
    return dp


def start_domain(kernel: str, domid: int, name: str, memory_mib: int = 64,
                 cmdline: str = "", console_io: bool = True, vcpus: int = 1,
                 gdb_port: int | None = None, gdb_wait: bool = False,
                 hvm: list[str] | None = None, restore: str | None = None,
                 trace: tuple[str, str] | None = None,
                 replay: list[str] | None = None) -> DomainProcess:
    """Start a domain in its own process; `wait_built` waits for its memory (the caller
    may do its own setting up meanwhile: the domain's Python starts in parallel).
    `restore`: run on from that snapshot file (hvcore/snapshot/);
    `hvm`: an HVM domain, with these options for its process (hvcore/hvm/process.py);
    `replay`: the domain process's deterministic-mode options (hvcore/replay/)."""
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    notify = os.eventfd(0, os.EFD_NONBLOCK)
    argv = [sys.executable, "-m", "hvcore.host.domain_main", "--sock", str(child.fileno()),
            "--notify", str(notify), "--domid", str(domid), "--name", name,
            "--kernel", str(kernel), "--memory", str(memory_mib), "--cmdline", cmdline,
            "--vcpus", str(vcpus)]
    if not console_io:
        argv.append("--no-console-io")
    if gdb_port is not None:
        argv += ["--gdb", str(gdb_port)] + (["--gdb-wait"] if gdb_wait else [])
    if trace is not None:          # (SPEC, FILE): the file exists, with its header
        argv += ["--trace", trace[0], "--trace-out", trace[1]]
    if replay:                     # --deterministic, --record FILE, --replay FILE
        argv += replay
    if restore is not None:        # hv restore: the snapshot file instead of a kernel
        argv += ["--restore", restore]
    if hvm is not None:
        argv += ["--hvm", *hvm]
    proc = subprocess.Popen(argv, cwd=ROOT, pass_fds=(child.fileno(), notify),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    child.close()
    return DomainProcess(domid, name, proc, parent, notify)
