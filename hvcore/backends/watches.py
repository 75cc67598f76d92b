"""dom0's own xenstore connection for the backends: watches, and their events queued.

Watches are set with XS_WATCH on a dom0 connection to the host's xenstored, as a
backend in a real dom0 does. Events arrive while the store is being changed (often in
the middle of serving some guest's request), so they are only queued here; the host
loop takes them with `events()` and acts on them afterwards.
"""
from __future__ import annotations

from hvcore.public.io import xs_wire as w
from hvcore.xenstore import Connection, Message


class WatchConnection:
    def __init__(self, server) -> None:
        self.server = server
        self._queue: list[bytes] = []
        self.conn = server.connect(Connection(0, send=self._queue.append))

    def watch(self, path: str, token: str) -> None:
        self._request(w.XS_WATCH, path, token)

    def unwatch(self, path: str, token: str) -> None:
        self._request(w.XS_UNWATCH, path, token)

    def events(self) -> list[tuple[str, str]]:
        """(path, token) of every event since the last call, oldest first."""
        queued, self._queue[:] = list(self._queue), []
        out = []
        for data in queued:
            message = Message.unpack(data)
            if message.type == w.XS_WATCH_EVENT:
                path, token = message.payload.rstrip(b"\0").split(b"\0", 1)
                out.append((path.decode("latin-1"), token.decode("latin-1")))
        return out

    def close(self) -> None:
        self.server.disconnect(self.conn)

    def _request(self, kind: int, path: str, token: str) -> None:
        payload = path.encode("latin-1") + b"\0" + token.encode("latin-1") + b"\0"
        replies = self.server.handle(self.conn, Message(kind, 0, 0, payload).pack())
        self._queue.extend(replies[1:])           # WATCH's first event comes after the reply
        reply = Message.unpack(replies[0])
        if reply.type == w.XS_ERROR:
            error = reply.payload.rstrip(b"\0").decode("latin-1")
            raise RuntimeError(f"xenstore {kind} {path}: {error}")
