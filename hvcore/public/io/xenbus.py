"""The xenbus device states: public/io/xenbus.h (enum xenbus_state)."""

XenbusStateUnknown = 0
XenbusStateInitialising = 1
XenbusStateInitWait = 2        # early init done; waiting for the peer or hotplug
XenbusStateInitialised = 3     # waiting for a connection from the peer
XenbusStateConnected = 4
XenbusStateClosing = 5         # being closed (an error or an unplug)
XenbusStateClosed = 6
XenbusStateReconfiguring = 7
XenbusStateReconfigured = 8

XENBUS_STATE_NAMES = {value: name.removeprefix("XenbusState") for name, value in dict(
    globals()).items() if name.startswith("XenbusState")}
