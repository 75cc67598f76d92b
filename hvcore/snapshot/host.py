"""The host's part of `hv save` and `hv restore` (xl save / xl restore).

save: the domain's process stops between slices and says so; we take its last console
output and answer its xenstore ring (nothing of ours moves in its memory after that),
let it capture itself (hvcore/snapshot/process.py), add what only dom0 knows, the
toolstack's view of the domain (META) and its xenstore subtree and watches (XSTR), and
write the file. Without -c the domain then ends (SHUTDOWN_suspend) and is reaped.

restore: a new domain (the next domid) whose process reads the file and runs on; we give
it xl's xenstore layout for its new domid, then its saved nodes and watches on top.
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

from hvcore.snapshot.format import META, XSTR, SnapshotFormatError, pack_section, write_file
from hvcore.snapshot.state import read_file, _json

ANSWER_S = 30.0
# Written for the new domain by xl's layout: the saved values (old domid, uuid) must not win.
TOOLSTACK_KEYS = frozenset({"domid", "vm", "name"})
CONFIG_KEYS = ("type", "cmdline", "memory", "maxmem", "vcpus", "on_poweroff", "on_reboot",
               "on_crash", "on_watchdog", "on_soft_reset")


def _fail(message: str) -> dict:
    return {"ok": False, "error": message}


# ---- hv save --------------------------------------------------------------------------
def save_domain(host, g, path: str, keep_running: bool) -> dict:
    dp = g.dp
    who = f"d{dp.domid} ({dp.name})"
    refused = _refusal(g)
    if refused:
        return _fail(f"{who}: {refused}")
    tmp = Path(f"{path}.part-{os.getpid()}")
    try:
        out = open(tmp, "wb")             # before the domain stops: a bad path costs nothing
    except OSError as err:
        return _fail(f"{path}: {err.strerror}")
    with out:
        try:
            reply = _take_snapshot(host, g, keep_running)
            if reply.get("ok"):
                write_file(out, [pack_section(META, _json(_meta(g))), reply.pop("blob"),
                                 pack_section(XSTR, _json(xenstore_state(host, dp)))])
        except OSError as err:
            reply = _fail(f"{path}: {err.strerror}")
    if not reply.get("ok"):
        tmp.unlink(missing_ok=True)
        return reply
    os.replace(tmp, path)
    host.log(f"{who} saved to {path}" + (" (still running)" if keep_running else ""))
    return {"ok": True, "domid": dp.domid, "name": dp.name}


def _refusal(g) -> str | None:
    """Why this domain cannot be saved now (None: it can)."""
    info = g.dp.info
    if info.get("deterministic"):
        # its requests wait for its clock (hvcore/replay/record.py): a SAVE would sit
        # there unanswered; and its snapshot would need the clock and the event log too
        return "it runs deterministically (--deterministic/--record/--replay): not saved"
    if g.config.vif:
        return "it has vif devices; snapshots keep the console and xenstore only"
    if g.config.disk and (not info.get("hvm") or "store_pfn" in info):
        # PV and directly booted HVM/PVH disks are blkback's, with requests in flight;
        # a firmware-booted HVM guest's are its own IDE disks (the image files)
        return "it has PV disk devices (blkback); snapshots keep IDE disks only"
    if g.paused:
        return "it is paused; unpause it to save it"
    return None


def _take_snapshot(host, g, keep_running: bool) -> dict:
    """The handshake with the domain's process; {"ok": True, "blob": its sections}."""
    from hvcore.inbox import SAVE, Request
    dp = g.dp
    dp.save_messages.clear()
    dp.outbox.post(Request(SAVE, int(keep_running)))
    if _wait(dp, "save_park") is None:
        return _fail(f"d{dp.domid} ({dp.name}) did not stop to be saved")
    host._backends()                     # its last console output reaches the log
    dp.service_xenstore()
    dp.send({"reply": True, "go": True})
    saved = _wait(dp, "saved")
    if saved is None:
        return _fail(f"d{dp.domid} ({dp.name}) did not send its state")
    message, fds = saved
    try:
        if message.get("error"):
            return _fail(message["error"])
        return {"ok": True, "blob": os.pread(fds[0], message["size"], 0)}
    finally:
        for fd in fds:
            os.close(fd)


def _wait(dp, event: str) -> tuple[dict, list[int]] | None:
    deadline = time.monotonic() + ANSWER_S
    while time.monotonic() < deadline:
        for item in dp.save_messages:
            if item[0]["event"] == event:
                dp.save_messages.remove(item)
                return item
        if not dp.pump(block=False) or dp.proc.poll() is not None:
            return None
        time.sleep(0.002)
    return None


def _meta(g) -> dict:
    cfg = g.config
    meta = {key: getattr(cfg, key) for key in CONFIG_KEYS}
    meta.update(kind="hvm" if g.dp.info.get("hvm") else "pv", name=g.dp.name,
                domid=g.dp.domid, kernel=str(cfg.kernel or ""),
                saved_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    return meta


def xenstore_state(host, dp) -> dict:
    """The domain's subtree (paths relative to its home), its connection's watches,
    and what its ring held half-way (a partial request, replies not yet written)."""
    from hvcore.xenstore import DOM0
    if dp.xenstore is None:
        return {}                        # an HVM guest booted from firmware: none
    store, home = host.xenstore.store, f"/local/domain/{dp.domid}"
    nodes: list[list] = []

    def walk(path: str) -> None:
        perms = [str(p) for p in store.get_perms(DOM0, path)]
        nodes.append([path[len(home):], store.read(DOM0, path).decode("latin-1"), perms])
        for child in store.directory(DOM0, path):
            walk(f"{path}/{child}")

    walk(home)
    link = dp.xenstore
    return {"domid": dp.domid, "nodes": nodes,
            "watches": [[w.path, w.token, w.prefix] for w in link.conn.watches],
            "partial": bytes(link.ring._frames._buffer).hex(),
            "queued": bytes(link.ring._queue).hex()}


# ---- hv restore -----------------------------------------------------------------------
def restore_domain(host, path: str, name: str | None) -> dict:
    from hvcore.host.domain_process import DomainStartError, spawn_domain
    try:
        snap = read_file(path, memory=False)      # every CRC checked before anything starts
    except SnapshotFormatError as err:
        return _fail(str(err))
    cfg = _config(snap.meta, name)
    if any(g.dp.name == cfg.name for g in [*host.guests.values(), *host.preserved.values()]):
        return _fail(f"a domain named {cfg.name!r} already exists (hv restore --name NEW)")
    domid = host.next_domid
    try:
        dp = spawn_domain("", domid, cfg.name, cfg.memory, cfg.cmdline, vcpus=cfg.vcpus,
                          restore=path,
                          hvm=snap.domain.get("options", []) if snap.kind == "hvm" else None)
    except DomainStartError as err:
        return _fail(str(err))
    host.next_domid += 1
    host.adopt(dp, cfg, open(host.state / f"d{domid}.log", "ab"))
    restore_xenstore(host, dp, snap.xenstore)
    host.log(f"d{domid} ({cfg.name}) restored from {path}, pid {dp.pid}")
    return {"ok": True, "domid": domid, "name": cfg.name}


def _config(meta: dict, name: str | None):
    from hvcore.toolstack.config import DomainConfig
    values = {key: meta[key] for key in CONFIG_KEYS if key in meta}
    kernel = meta.get("kernel")
    return DomainConfig(name=name or meta.get("name", "restored"),
                        kernel=Path(kernel) if kernel else None,
                        maxvcpus=values.get("vcpus", 1), **values)


def _moved_value(value: str, old: int, new: int) -> str:
    """A value naming one of the old domain's backend paths names the new one's
    (console/backend = /local/domain/0/backend/console/<domid>/0)."""
    return re.sub(rf"^(/local/domain/\d+/backend/[^/]+/){old}(/|$)", rf"\g<1>{new}\2", value)


def restore_xenstore(host, dp, saved: dict) -> None:
    """The saved nodes over xl's fresh layout, the watches, the ring's leftovers; any
    mention of the old domid in a path or permission becomes the new one."""
    from hvcore.xenstore import DOM0, Perm
    from hvcore.xenstore.watches import Watch
    if not saved or dp.xenstore is None:
        return
    store, old, new = host.xenstore.store, saved["domid"], dp.domid
    home = f"/local/domain/{new}"

    def moved(path: str | None) -> str | None:
        prefix = f"/local/domain/{old}"
        if path is not None and (path == prefix or path.startswith(prefix + "/")):
            return home + path[len(prefix):]
        return path

    for rel, value, perms in saved["nodes"]:
        if rel.strip("/") in TOOLSTACK_KEYS:
            continue
        store.write(DOM0, home + rel, _moved_value(moved(value), old, new).encode("latin-1"))
        store.set_perms(DOM0, home + rel, tuple(
            Perm(new if p.domid == old else p.domid, p.bits) for p in map(Perm.parse, perms)))
    link = dp.xenstore
    link.conn.watches.extend(Watch(moved(p), token, moved(prefix))
                             for p, token, prefix in saved["watches"])
    link.ring._frames._buffer += bytes.fromhex(saved["partial"])
    link.ring.send(bytes.fromhex(saved["queued"]))
