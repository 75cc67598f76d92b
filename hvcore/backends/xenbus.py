"""The backend half of a xenbus device: the state machine both split drivers follow.

Driven by the frontend's `state` node (a dom0 watch on it, see watches.py), it moves
the backend's `state` as Linux's backends do:

    created        -> write the driver's features, InitWait
    front Initialised/Connected -> connect the driver (map the ring, bind the event
                      channel), write what the frontend reads, Connected
    front Closing  -> Closing (the frontend finishes its I/O)
    front Closed   -> disconnect, Closed; and while `online` is 1 a frontend that starts
                      over (Initialising) finds us back in InitWait: reconnecting works
    front gone     -> disconnect, Closed, and the device is done
A connect that fails (a bad ring-ref, an unknown protocol, ...) is the frontend's fault:
like xenbus_dev_fatal, the reason goes to dom0's error/<backend path>/error node and
the backend goes to Closing. Nothing a frontend writes can raise out of here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from hvcore.public.io import xenbus as X
from hvcore.xenstore import DOM0, XsError


class XenbusError(Exception):
    """The frontend's settings cannot be used (one line, written to the error node)."""


class FrontendReader:
    """Reads the frontend's nodes as dom0 (values are text; a missing node is None)."""

    def __init__(self, store, path: str) -> None:
        self.store, self.path = store, path

    def text(self, key: str) -> str | None:
        try:
            return self.store.read(DOM0, f"{self.path}/{key}").decode("latin-1")
        except XsError:
            return None

    def number(self, key: str, default: int | None = None, limit: int = 0xFFFFFFFF) -> int:
        """A decimal node (XenbusError if missing without default, or not a number)."""
        value = self.text(key)
        if value is None:
            if default is None:
                raise XenbusError(f"reading {self.path}/{key}: missing")
            return default
        if not value.isascii() or not value.isdigit() or int(value) > limit:
            raise XenbusError(f"reading {self.path}/{key}: bad number {value[:20]!r}")
        return int(value)


class BackendDriver(Protocol):
    """What a split driver's backend provides to the state machine."""

    def features(self) -> dict[str, str]:
        """Nodes written in the backend directory before InitWait."""

    def connect(self, front: FrontendReader) -> dict[str, str]:
        """Attach to the frontend's ring; the nodes to write before Connected.
        XenbusError if the frontend's settings are unusable."""

    def disconnect(self) -> None:
        """Stop serving and let go of the ring (idempotent)."""


@dataclass
class XenbusBackend:
    store: object                 # hvcore.xenstore.Store
    backend: str                  # /local/domain/0/backend/<type>/<domid>/<devid>
    frontend: str                 # /local/domain/<domid>/device/<type>/<devid>
    driver: BackendDriver
    state: int = X.XenbusStateInitialising
    log: list[str] = field(default_factory=list)
    done: bool = False

    def probe(self) -> None:
        """The device exists: advertise the driver's features and wait for the frontend."""
        for key, value in self.driver.features().items():
            self._write(key, value)
        self.switch(X.XenbusStateInitWait)
        self.frontend_changed()        # it may have moved before we watched it

    def frontend_changed(self) -> None:
        if self.done:
            return
        front = self.frontend_state()
        if front == X.XenbusStateInitialising:
            if self.state == X.XenbusStateClosed:
                self.switch(X.XenbusStateInitWait)           # it starts over: reconnect
        elif front in (X.XenbusStateInitialised, X.XenbusStateConnected):
            if self.state in (X.XenbusStateInitWait, X.XenbusStateInitialised):
                self._connect()
        elif front == X.XenbusStateClosing:
            if self.state not in (X.XenbusStateClosing, X.XenbusStateClosed):
                self.switch(X.XenbusStateClosing)
        elif front == X.XenbusStateClosed:
            self.driver.disconnect()
            self.switch(X.XenbusStateClosed)
            if not self._online():
                self.remove()
        elif front == X.XenbusStateUnknown:
            self.remove()

    def frontend_state(self) -> int:
        value = FrontendReader(self.store, self.frontend).text("state")
        if value is None or not value.isascii() or not value.isdigit():
            return X.XenbusStateUnknown
        return int(value)

    def switch(self, state: int) -> None:
        if state == self.state:
            return
        self.state = state
        self._write("state", str(state))
        self.log.append(f"{self.backend}: {X.XENBUS_STATE_NAMES.get(state, state)}")

    def remove(self) -> None:
        """The frontend is gone (or the domain is): stop for good."""
        if self.done:
            return
        self.driver.disconnect()
        if self.state != X.XenbusStateClosed:
            self.switch(X.XenbusStateClosed)
        self.done = True

    def _connect(self) -> None:
        self.driver.disconnect()         # never two rings at once
        try:
            nodes = self.driver.connect(FrontendReader(self.store, self.frontend))
        except XenbusError as err:
            self.fatal(str(err))
            return
        for key, value in nodes.items():
            self._write(key, value)
        self.switch(X.XenbusStateConnected)

    def fatal(self, message: str) -> None:
        """xenbus_dev_fatal: record why under dom0's error/ and close the device."""
        self.driver.disconnect()
        self.log.append(f"{self.backend}: {message}")
        relative = self.backend.removeprefix("/local/domain/0/")
        self._write_quietly(f"/local/domain/0/error/{relative}/error", message)
        self.switch(X.XenbusStateClosing)

    def _online(self) -> bool:
        return FrontendReader(self.store, self.backend).text("online") == "1"

    def _write(self, key: str, value: str) -> None:
        self._write_quietly(f"{self.backend}/{key}", value)

    def _write_quietly(self, path: str, value: str) -> None:
        try:
            self.store.write(DOM0, path, value.encode("latin-1"))
        except XsError as err:     # e.g. the toolstack removed the directory
            self.log.append(f"{path}: {err.name}")
