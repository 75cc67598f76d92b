"""The host's side of guests' grant operations on other domains' grants.

A guest's GNTTABOP_map_grant_ref / unmap / copy that names another domain's grant
arrives here as a request from its process (hvcore/arch/x86/pv/foreign.py). The host
pins the grant in the granting domain's table (hvcore.grant_table.HostGrantTable), keeps
a record per mapping domain so a dead mapper's pins are dropped, and hands the mapper
the granter's RAM memfd the first time, so the mapper maps the page itself.
"""
from __future__ import annotations

from collections import Counter
from typing import Callable

from hvcore.grant_table import GrantError
from hvcore.memory import PAGE_SIZE
from hvcore.public import grant_table as G
from hvcore.public import xen as XEN


class GrantService:
    def __init__(self, domain: Callable[[int], object]) -> None:
        self.domain = domain                        # domid -> DomainProcess or None
        self.pins: dict[int, Counter] = {}          # mapper -> {(granter, ref, ro): n}
        self.ram_sent: set[tuple[int, int]] = set()

    def handle(self, dp, msg: dict) -> None:
        """Answer one request from domain `dp`'s process."""
        event = msg["event"]
        if event == "grant_map":
            self._map(dp, msg)
        elif event == "grant_unmap":
            self._unmap(dp.domid, msg["dom"], msg["ref"], msg["readonly"])
            dp.send({"reply": True, "status": G.GNTST_okay})
        elif event == "grant_copy":
            dp.send({"reply": True, "status": self._copy(dp.domid, msg)})
        else:
            dp.send({"reply": True, "status": G.GNTST_general_error})

    def _map(self, dp, msg: dict) -> None:
        mapper, granter = dp.domid, msg["dom"]
        other = self.domain(granter)
        if other is None or other.grants is None:
            dp.send({"reply": True, "status": G.GNTST_bad_domain})
            return
        try:
            frame = other.grants.pin(msg["ref"], mapper, msg["readonly"])
        except GrantError as err:
            dp.send({"reply": True, "status": err.status, "error": str(err)})
            return
        self.pins.setdefault(mapper, Counter())[(granter, msg["ref"], msg["readonly"])] += 1
        reply = {"reply": True, "status": G.GNTST_okay, "frame": frame,
                 "nr_pages": other.grants.nr_pages}
        if (mapper, granter) not in self.ram_sent:
            self.ram_sent.add((mapper, granter))
            dp.send({**reply, "fds": 1}, [other.ram_fd])
        else:
            dp.send(reply)

    def _unmap(self, mapper: int, granter: int, ref: int, readonly: bool) -> None:
        held = self.pins.get(mapper, Counter())
        key = (granter, ref, readonly)
        if held[key] <= 0:
            return                                   # not ours to drop
        held[key] -= 1
        if not held[key]:
            del held[key]
        other = self.domain(granter)
        if other is not None and other.grants is not None:
            other.grants.unpin(ref, readonly)

    def release(self, dead: int) -> None:
        """Domain `dead` is gone: drop every pin it held, forget what it was sent."""
        for (granter, ref, readonly), count in self.pins.pop(dead, Counter()).items():
            other = self.domain(granter)
            if other is not None and other.grants is not None:
                for _ in range(count):
                    other.grants.unpin(ref, readonly)
        self.ram_sent = {pair for pair in self.ram_sent if dead not in pair}

    # ---- GNTTABOP_copy ---------------------------------------------------------
    def _copy(self, caller: int, msg: dict) -> int:
        src, dst, length = msg["source"], msg["dest"], msg["len"]
        if src["offset"] + length > PAGE_SIZE or dst["offset"] + length > PAGE_SIZE:
            return G.GNTST_bad_copy_arg
        held = []
        try:
            src_page = self._page(caller, src, True, held)
            dst_page = self._page(caller, dst, False, held)
            dst_page[dst["offset"]:dst["offset"] + length] = \
                src_page[src["offset"]:src["offset"] + length]
            return G.GNTST_okay
        except GrantError as err:
            return err.status
        finally:
            for table, ref, readonly in held:
                table.unpin(ref, readonly)

    def _page(self, caller: int, side: dict, readonly: bool, held: list) -> memoryview:
        domid = caller if side["dom"] == XEN.DOMID_SELF else side["dom"]
        dp = self.domain(domid)
        if dp is None or dp.grants is None:
            raise GrantError(G.GNTST_bad_domain)
        if side["gref"] is None:                   # a frame of the caller's own
            if domid != caller:
                raise GrantError(G.GNTST_permission_denied)
            frame = side["gmfn"]
            if not 0 <= frame < dp.grants.nr_pages:
                raise GrantError(G.GNTST_bad_page)
        else:
            frame = dp.grants.pin(side["gref"], caller, readonly)
            held.append((dp.grants, side["gref"], readonly))
        return memoryview(dp.ram)[frame * PAGE_SIZE:(frame + 1) * PAGE_SIZE]
