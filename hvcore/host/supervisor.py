"""The host: dom0's process. It creates and reaps domain processes and runs the backends
for all of them (the console daemon and xenstored), and answers the `hv` tools on a Unix
socket that only its owner may use.

    python -m hvcore.host.supervisor --state DIR

Protocol: one JSON object per line each way. Requests: {"op": "create", "config": PATH,
"overrides": [...]}, {"op": "list"}, {"op": "shutdown"|"destroy"|"pause"|"unpause",
"dom": ID-or-NAME}, {"op": "console", "dom": ...} (the connection then carries the
domain's console both ways, raw), {"op": "dmesg"}, {"op": "down"}. Replies: {"ok": true,
...} or {"ok": false, "error": "one line"}.
"""
from __future__ import annotations

import argparse
import json
import os
import select
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from hvcore.host.dom0_evtchn import Dom0Ports
from hvcore.host.domain_process import DomainProcess, DomainStartError, spawn_domain
from hvcore.host.grant_service import GrantService

SOCKET_NAME = "host.sock"
XENSTORED_SOCKET = "xenstored.sock"      # Xen's wire protocol, for tools, as dom0


@dataclass
class Guest:
    """A running domain as the host sees it."""
    dp: DomainProcess
    config: object
    started: float = field(default_factory=time.monotonic)
    log: object = None
    consoles: list[socket.socket] = field(default_factory=list)
    paused: bool = False
    preserved: str | None = None     # xl's state letter once kept after it ended: s or c
    ended: float | None = None


class Host:
    def __init__(self, state: Path, pcap: Path | None = None) -> None:
        from hvcore.xenstore import XenStore
        self.state = state
        self.xenstore = XenStore()
        self.guests: dict[int, Guest] = {}
        self.preserved: dict[int, Guest] = {}    # ended, kept by on_*=preserve (not running)
        self.clients: dict[socket.socket, bytes] = {}
        self.dmesg: list[str] = []
        self.next_domid = 1
        self.restarted: dict[str, float] = {}    # name -> when it was last restarted
        # interdomain event channels: who offers which unbound port to whom, what is bound,
        # and which ring of a receiver's inbox each sender writes
        self.unbound: dict[tuple[int, int], int] = {}
        self.bound: dict[tuple[int, int], tuple[int, int]] = {}
        self.slots: dict[int, dict[int, int]] = {}
        self.dom0_ports = Dom0Ports(self)       # backends' event channels to guests
        self.grant_service = GrantService(self._domain_process)
        from hvcore.backends.service import BlockBackends
        self.block = BlockBackends(self.xenstore, self.dom0_ports, self.log)   # blkback
        self.backends_busy = False
        from hvcore.backends.net_service import NetBackends
        self.net = NetBackends(self.xenstore, self.dom0_ports, self.log, pcap)   # netback
        self.running = True
        old = os.umask(0o077)           # the socket is for its owner only
        try:
            self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            path = state / SOCKET_NAME
            if path.exists():
                path.unlink()
            self.listener.bind(str(path))
        finally:
            os.umask(old)
        self.listener.listen(16)
        self.xs_listener = _owner_only_socket(state / XENSTORED_SOCKET)
        self.xs_clients: dict[socket.socket, tuple[object, object]] = {}
        self.log(f"host up, state in {state}")

    def log(self, line: str) -> None:
        self.dmesg.append(f"[{time.strftime('%H:%M:%S')}] {line}")

    # ---- the loop ------------------------------------------------------------------
    def serve(self) -> None:
        while self.running:
            try:
                self._round()
            except Exception as err:   # noqa: BLE001 - the host outlives any one failure
                from hvcore.crash import describe_bug
                self.log(f"host: {describe_bug(err)}")
        self._shutdown_all()

    def _round(self) -> None:
        """Wait for a client, a domain message or a backend kick; then do the work."""
        waits = [self.listener, self.xs_listener, *self.xs_clients,
                 *(c for c in self.clients if c.fileno() >= 0)]
        for g in self.guests.values():
            waits += [g.dp.sock, g.dp.notify_fd]
        waits += self.dom0_ports.waits()
        ready, _, _ = select.select(waits, [], [], 0 if self.backends_busy else 0.05)
        self.dom0_ports.service()
        if self.listener in ready:
            conn, _ = self.listener.accept()
            self.clients[conn] = b""
        for conn in [c for c in ready if c in self.clients]:
            self._client_readable(conn)
        if self.xs_listener in ready:
            self._xs_accept()
        for conn in [c for c in ready if c in self.xs_clients]:
            self._xs_readable(conn)
        self._backends()
        self.backends_busy = self.block.serve()
        self.backends_busy |= self.net.serve()
        self._reap()

    def _backends(self) -> None:
        """Console daemon and xenstored work for every domain."""
        for g in list(self.guests.values()):
            self._show(g, g.dp.serve_backends())

    @staticmethod
    def _show(g: Guest, data: bytes) -> None:
        """Console output to the domain's log and its attached consoles."""
        if not data:
            return
        g.log.write(data)
        g.log.flush()
        for c in list(g.consoles):
            try:
                c.sendall(data)
            except OSError:
                g.consoles.remove(c)

    def _reap(self) -> None:
        """Notice dead domain processes, whatever killed them, and clean up after them."""
        for domid, g in list(self.guests.items()):
            code = g.dp.proc.poll()
            if code is None:
                continue
            # what it printed after our last round (its last lines, before it exited)
            self._show(g, g.dp.serve_backends())
            reason = (g.dp.shutdown or {}).get("reason") or f"died (exit status {code})"
            self.log(f"d{domid} ({g.dp.name}) {reason}")
            action = self._action(g, reason)
            report = (g.dp.shutdown or {}).get("crash_report")
            if report:
                self.dmesg.extend(report.splitlines())
            for c in list(g.consoles):
                self._drop(c)
            self.block.remove_domain(domid)
            self.net.remove_domain(domid)
            self._forget_channels(domid)
            self.grant_service.release(domid)
            self.dom0_ports.forget(domid)
            if action != "preserve":
                self._forget_store(domid)
            g.log.close()
            g.dp.close()
            del self.guests[domid]
            if action == "preserve":
                self._preserve(g, reason)
            if action == "restart":
                self._restart(g, reason)

    def _forget_store(self, domid: int) -> None:
        from hvcore.xenstore import DOM0
        try:
            self.xenstore.store.rm(DOM0, f"/local/domain/{domid}")
        except Exception:   # noqa: BLE001 - already gone is fine
            pass

    def _preserve(self, g: Guest, reason: str) -> None:
        """on_*=preserve: the domain stays listed (xl's 's' or 'c') with its console log
        and crash report until `hv destroy`. On Xen a preserved domain keeps its memory
        for a core dump; here the domain lived in its process, which has exited: its
        memory (memfd), event channels (peers see them closed), grants and backends are
        released as for any death, and what xl keeps is kept: the listing, the log and
        /local/domain/N in xenstore, removed by `hv destroy`."""
        g.preserved = "c" if reason == "crash" else "s"
        g.ended = time.monotonic()
        self.preserved[g.dp.domid] = g
        self.log(f"d{g.dp.domid} ({g.dp.name}) preserved; `hv destroy {g.dp.name}` removes it")

    # ---- requests ------------------------------------------------------------------
    def _client_readable(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        if any(conn in g.consoles for g in self.guests.values()):
            self._console_input(conn, data)
            return
        buf = self.clients[conn] + data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            self.clients[conn] = buf
            try:
                reply = self._request(conn, json.loads(line))
            except Exception as err:   # noqa: BLE001 - one bad request must not stop the host
                reply = {"ok": False, "error": f"{type(err).__name__}: {err}"}
            if reply is not None:
                conn.sendall(json.dumps(reply).encode() + b"\n")
        self.clients[conn] = buf

    # ---- xenstored's own socket: the wire protocol, clients act as dom0 ------------
    def _xs_accept(self) -> None:
        from hvcore.xenstore import Connection, FrameReader
        sock, _ = self.xs_listener.accept()
        conn = self.xenstore.connect(Connection(0, send=lambda data, s=sock: _send_quietly(s, data)))
        self.xs_clients[sock] = (conn, FrameReader())

    def _xs_readable(self, sock: socket.socket) -> None:
        conn, frames = self.xs_clients[sock]
        try:
            data = sock.recv(65536)
            messages = frames.feed(data) if data else None
        except Exception:   # noqa: BLE001 - a broken client is dropped, nothing else
            messages = None
        if messages is None:
            self.xenstore.disconnect(conn)
            del self.xs_clients[sock]
            sock.close()
            return
        for message in messages:
            for reply in self.xenstore.handle(conn, message):
                _send_quietly(sock, reply)

    def _drop(self, conn: socket.socket) -> None:
        for g in self.guests.values():
            if conn in g.consoles:
                g.consoles.remove(conn)
        self.clients.pop(conn, None)
        conn.close()

    def _find(self, dom) -> Guest:
        for domid, g in {**self.guests, **self.preserved}.items():
            if str(dom) in (str(domid), g.dp.name):
                return g
        raise LookupError(f"no domain {dom!r}")

    def _request(self, conn: socket.socket, req: dict) -> dict | None:
        op = req.get("op")
        if op == "create":
            return self._create(req)
        if op == "list":
            every = sorted({**self.guests, **self.preserved}.items())
            return {"ok": True, "domains": [self._row(d, g) for d, g in every]}
        if op == "dmesg":
            return {"ok": True, "lines": self.dmesg}
        if op == "down":
            self.running = False
            return {"ok": True}
        if op == "xenstore":
            return self._xenstore(req)
        if op == "info":
            return {"ok": True, "info": self._info()}
        if op == "restore":
            from hvcore.snapshot.host import restore_domain
            return restore_domain(self, req.get("file", ""), req.get("name"))
        g = self._find(req.get("dom"))
        if g.preserved:
            return self._preserved_request(conn, g, op)
        if op == "destroy":
            g.dp.kill()
            self.log(f"d{g.dp.domid} ({g.dp.name}) destroyed")
            return {"ok": True}
        if op == "shutdown":
            return self._graceful(g, req.get("reason", "poweroff"))
        if op in ("pause", "unpause"):
            g.dp.proc.send_signal(signal.SIGSTOP if op == "pause" else signal.SIGCONT)
            g.paused = op == "pause"
            return {"ok": True}
        if op == "gdbserver":
            return self._gdbserver(g, req.get("port", 0))
        if op == "save":                           # hvcore/snapshot/host.py
            from hvcore.snapshot.host import save_domain
            return save_domain(self, g, req.get("file", ""), bool(req.get("checkpoint")))
        if op == "console":
            conn.sendall(json.dumps({"ok": True}).encode() + b"\n")
            log = self.state / f"d{g.dp.domid}.log"
            conn.sendall(log.read_bytes())         # what the guest said so far
            g.consoles.append(conn)
            return None
        return {"ok": False, "error": f"unknown request {op!r}"}

    GDB_ANSWER_S = 5.0

    def _gdbserver(self, g: Guest, port: int) -> dict:
        """Ask the domain's process to serve gdb (hvcore/gdb/attach.py) and wait for its
        answer: the port it listens on, or why not."""
        from hvcore.inbox import GDB_LISTEN, Request
        if not isinstance(port, int) or not 0 <= port <= 65535:
            return {"ok": False, "error": f"not a TCP port: {port!r}"}
        g.dp.gdb_listening = None
        g.dp.outbox.post(Request(GDB_LISTEN, port))
        deadline = time.monotonic() + self.GDB_ANSWER_S
        while g.dp.gdb_listening is None and time.monotonic() < deadline:
            if not g.dp.pump(block=False):
                break
            time.sleep(0.01)
        answer = g.dp.gdb_listening
        if answer is None:
            return {"ok": False, "error": f"d{g.dp.domid} ({g.dp.name}) did not answer"
                                          " (a paused domain cannot open a gdb server)"}
        if "port" not in answer:
            return {"ok": False, "error": f"d{g.dp.domid}: {answer.get('error')}"}
        self.log(f"d{g.dp.domid} ({g.dp.name}) gdb server on 127.0.0.1:{answer['port']}")
        return {"ok": True, "port": answer["port"]}

    def _preserved_request(self, conn: socket.socket, g: Guest, op: str) -> dict | None:
        """A preserved domain can be read (console log) and destroyed, nothing else."""
        if op == "destroy":
            self._forget_store(g.dp.domid)
            del self.preserved[g.dp.domid]
            self.log(f"d{g.dp.domid} ({g.dp.name}) destroyed")
            return {"ok": True}
        if op == "console":
            conn.sendall(json.dumps({"ok": True}).encode() + b"\n")
            conn.sendall((self.state / f"d{g.dp.domid}.log").read_bytes())
            self._drop(conn)                       # nothing more will come
            return None
        return {"ok": False, "error": f"d{g.dp.domid} ({g.dp.name}) is not running"
                                      f" (preserved after it {'crashed' if g.preserved == 'c' else 'shut down'})"}

    def _create(self, req: dict) -> dict:
        from hvcore.toolstack import ConfigError, load_config
        try:
            cfg = load_config(req["config"], req.get("overrides", []))
        except ConfigError as err:
            return {"ok": False, "error": str(err)}
        if any(g.dp.name == cfg.name for g in [*self.guests.values(), *self.preserved.values()]):
            return {"ok": False, "error": f"a domain named {cfg.name!r} already exists"}
        if cfg.type not in ("pv", "pvh", "hvm"):
            return {"ok": False, "error": f"type '{cfg.type}' is not supported (pv, pvh or hvm)"}
        trace = req.get("trace")          # [SPEC, FILE]: hv create --trace (file made by hv)
        return self._start(cfg, tuple(trace) if trace else None)

    def _start(self, cfg, trace: tuple[str, str] | None = None) -> dict:
        domid = self.next_domid
        hvm = None
        if cfg.type in ("hvm", "pvh"):
            from hvcore.hvm.config import HvmConfigError, hvm_options
            try:
                hvm = hvm_options(cfg)
            except HvmConfigError as err:
                return {"ok": False, "error": str(err)}
        try:
            dp = spawn_domain(str(cfg.kernel) if hvm is None else "", domid, cfg.name, cfg.memory,
                              cfg.cmdline or "", vcpus=cfg.vcpus, trace=trace, hvm=hvm)
        except DomainStartError as err:
            return {"ok": False, "error": str(err)}
        self.next_domid += 1
        self.adopt(dp, cfg, open(self.state / f"d{domid}.log", "ab"))
        self.log(f"d{domid} ({cfg.name}) created, pid {dp.pid}")
        return {"ok": True, "domid": domid, "name": cfg.name}

    def adopt(self, dp: DomainProcess, cfg, log=None) -> Guest:
        """Give a new domain's process its dom0: xenstored, event channels and grants,
        the backends of its devices. `hv run`'s private host (private_host.py) uses it.
        An HVM domain booted from its firmware has only its own PC's devices; one
        booted directly has rings (hvcore/hvm/xen.py) and gets all of it."""
        if dp.info.get("hvm") and "store_pfn" not in dp.info:
            guest = self.guests[dp.domid] = Guest(dp, cfg, log=log)
            return guest
        dp.attach_xenstore(self.xenstore)
        dp.on_event = self._channel_event
        self.dom0_ports.attach(dp)
        guest = self.guests[dp.domid] = Guest(dp, cfg, log=log)
        self.block.add_domain(dp.domid, dp.grants, cfg.disk)
        self.net.add_domain(dp.domid, dp.grants, cfg.vif)
        return guest

    # ---- interdomain event channels ----------------------------------------------
    def _domain_process(self, domid: int) -> DomainProcess | None:
        g = self.guests.get(domid)
        return g.dp if g is not None else None

    def _channel_event(self, dp: DomainProcess, msg: dict) -> None:
        me, event = dp.domid, msg["event"]
        if event.startswith("grant_"):
            self.grant_service.handle(dp, msg)
        elif event == "evtchn_unbound":
            self.unbound[(me, msg["port"])] = msg["remote"]
        elif event == "evtchn_closed":
            self.unbound.pop((me, msg["port"]), None)
            peer = self.bound.pop((me, msg["port"]), None)
            if peer is not None:
                self.bound.pop(peer, None)
                self.unbound[peer] = me       # its end waits for us again, as in Xen
        elif event == "bind":
            dp.send({"reply": True, "errno": self._bind(dp, msg)})
        elif event == "exists":                           # dom0 is the host itself
            dp.send({"reply": True, "exists": msg["dom"] == 0 or msg["dom"] in self.guests})

    def _bind(self, dp: DomainProcess, msg: dict) -> int:
        """Xen's rule for bind_interdomain: the remote port must be unbound and offered to
        us. Returns 0 or a Xen errno; on success both processes can post to each other."""
        from hvcore.inbox import PEER_BOUND, Request
        a, b, port_b, port_a = dp.domid, msg["remote_dom"], msg["remote_port"], msg["local_port"]
        other = self.guests.get(b)
        if other is None or b == a:
            return 3                           # ESRCH
        if self.unbound.get((b, port_b)) != a:
            return 22                          # EINVAL: not unbound, or not for us
        slot_in_b, slot_in_a = self._slot(b, a), self._slot(a, b)
        if slot_in_b is None or slot_in_a is None:
            return 28                          # ENOSPC: too many peers
        del self.unbound[(b, port_b)]
        self.bound[(b, port_b)], self.bound[(a, port_a)] = (a, port_a), (b, port_b)
        other.dp.send({"event": "peer", "domid": a, "slot": slot_in_a}, list(dp.inbox_fds))
        dp.send({"event": "peer", "domid": b, "slot": slot_in_b}, list(other.dp.inbox_fds))
        other.dp.outbox.post(Request(PEER_BOUND, port_b, (a << 32) | port_a))
        self.log(f"evtchn: d{a} port {port_a} <-> d{b} port {port_b}")
        return 0

    def _slot(self, receiver: int, sender: int) -> int | None:
        from hvcore.host.domain_main import INBOX_SENDERS
        slots = self.slots.setdefault(receiver, {})
        if sender not in slots:
            free = set(range(1, INBOX_SENDERS)) - set(slots.values())
            if not free:
                return None
            slots[sender] = min(free)
        return slots[sender]

    def _forget_channels(self, dead: int) -> None:
        """A dead domain's channels: the other ends become unbound, as Xen closes them."""
        from hvcore.inbox import PEER_CLOSED, Request
        for (dom, port), (peer, peer_port) in list(self.bound.items()):
            if dom == dead:
                del self.bound[(dom, port)]
                self.bound.pop((peer, peer_port), None)
                self.unbound[(peer, peer_port)] = dead
                other = self.guests.get(peer)
                if other is not None:
                    other.dp.outbox.post(Request(PEER_CLOSED, peer_port))
        for key in [k for k in self.unbound if k[0] == dead]:
            del self.unbound[key]
        self.slots.pop(dead, None)
        for slots in self.slots.values():
            slots.pop(dead, None)

    RESTART_WINDOW_S = 10.0

    def _restart(self, g: Guest, reason: str) -> None:
        """Start the domain again from its config, unless it keeps dying at once: like xl,
        no second restart within the window of the last one."""
        name = g.dp.name
        last = self.restarted.get(name)
        if last is not None and time.monotonic() - last < self.RESTART_WINDOW_S:
            self.log(f"{name}: restarted less than {self.RESTART_WINDOW_S:.0f}s ago; not restarting")
            return
        self.restarted[name] = time.monotonic()
        self.log(f"d{g.dp.domid} ({name}) restarting ({reason})")
        reply = self._start(g.config)
        if not reply.get("ok"):
            self.log(f"{name}: restart failed: {reply.get('error')}")

    @staticmethod
    def _action(g: Guest, reason: str) -> str:
        """What the config says to do now (on_poweroff/on_reboot/on_crash...). A domain
        killed from outside is gone: nothing to restart (or to preserve)."""
        key = {"poweroff": "on_poweroff", "reboot": "on_reboot", "crash": "on_crash",
               "watchdog": "on_watchdog", "soft_reset": "on_soft_reset"}.get(reason)
        action = getattr(g.config, key, "destroy") if key else "destroy"
        if action == "preserve":
            return "preserve"
        return "restart" if action in ("restart", "rename-restart", "coredump-restart") else "destroy"

    def _graceful(self, g: Guest, reason: str) -> dict:
        """xl's shutdown: ask through control/shutdown; the guest's PV driver acts on it."""
        from hvcore.xenstore import DOM0
        if reason not in ("poweroff", "reboot"):
            return {"ok": False, "error": f"bad shutdown reason {reason!r}"}
        self.xenstore.store.write(DOM0, f"/local/domain/{g.dp.domid}/control/shutdown",
                                  reason.encode())
        return {"ok": True}

    def _xenstore(self, req: dict) -> dict:
        """`hv xenstore ...`: the store as dom0 sees it."""
        from hvcore.xenstore import DOM0, Perm, XsError
        store, path, sub = self.xenstore.store, req.get("path", "/"), req.get("sub")
        try:
            if sub == "read":
                return {"ok": True, "value": store.read(DOM0, path).decode("latin-1")}
            if sub == "write":
                store.write(DOM0, path, req["value"].encode("latin-1"))
                return {"ok": True}
            if sub == "rm":
                store.rm(DOM0, path)
                return {"ok": True}
            if sub == "ls":
                return {"ok": True, "tree": self._tree(path)}
            if sub == "perms":
                if req.get("perms"):
                    store.set_perms(DOM0, path, tuple(Perm.parse(p) for p in req["perms"]))
                return {"ok": True, "perms": [str(p) for p in store.get_perms(DOM0, path)]}
        except XsError as err:
            return {"ok": False, "error": f"{path}: {err.name}"}
        return {"ok": False, "error": f"unknown xenstore operation {sub!r}"}

    def _tree(self, path: str) -> list[list[str]]:
        """[(path, value)] for the node and everything below it, depth first."""
        from hvcore.xenstore import DOM0
        store = self.xenstore.store
        out = [[path, store.read(DOM0, path).decode("latin-1")]]
        for child in store.directory(DOM0, path):
            out += self._tree(path.rstrip("/") + "/" + child)
        return out

    def _info(self) -> dict:
        import platform
        import unicorn
        from hvcore.arch.x86.pv.cpuid import XEN_VERSION
        return {"host": platform.node(), "xen_version": "%d.%d" % XEN_VERSION,
                "hypervisor": "hvcore (unicorn %s)" % unicorn.__version__,
                "nr_cpus": os.cpu_count(), "domains": len(self.guests),
                "state": str(self.state), "python": platform.python_version()}

    def _row(self, domid: int, g: Guest) -> dict:
        return {"name": g.dp.name, "id": domid, "mem": g.config.memory,
                "vcpus": g.dp.info.get("vcpus", g.config.vcpus), "state": g.preserved or ("p" if g.paused else "r"),
                "time": round((g.ended or time.monotonic()) - g.started, 1), "pid": g.dp.pid}

    def _console_input(self, conn: socket.socket, data: bytes) -> None:
        for g in self.guests.values():
            if conn in g.consoles:
                g.dp.feed_console(data)

    def _shutdown_all(self) -> None:
        for domid in list(self.preserved):
            self._forget_store(domid)
        self.preserved.clear()
        for g in self.guests.values():
            g.dp.kill()
        self._reap_all()
        self.net.close()
        self.listener.close()
        self.xs_listener.close()
        (self.state / SOCKET_NAME).unlink(missing_ok=True)
        (self.state / XENSTORED_SOCKET).unlink(missing_ok=True)

    def _reap_all(self) -> None:
        deadline = time.monotonic() + 5
        while self.guests and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.01)


def _owner_only_socket(path: Path) -> socket.socket:
    old = os.umask(0o077)
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        path.unlink(missing_ok=True)
        sock.bind(str(path))
    finally:
        os.umask(old)
    sock.listen(16)
    return sock


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except OSError:
        pass     # the client went away; it is dropped when its socket reads empty


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--state", required=True)
    parser.add_argument("--pcap", default=None, help="capture the bridges' frames (pcap)")
    args = parser.parse_args(argv)
    from hvcore.host.domain_main import set_process_name
    set_process_name("hv: host")
    state = Path(args.state)
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    Host(state, Path(args.pcap) if args.pcap else None).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
