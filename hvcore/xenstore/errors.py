"""The one exception type of the xenstore library: an error reply by its errno name."""
from __future__ import annotations

from ..public.io.xs_wire import xsd_errors

# Every quota (entries per domain, node size, permissions per node, watches and
# transactions per connection) fails with this name, as current C xenstored does.
QUOTA_ERROR = "ENOSPC"


class XsError(Exception):
    """A request failed; `name` is one of xs_wire.h's xsd_errors ("ENOENT", ...)."""

    def __init__(self, name: str, detail: str = "") -> None:
        if name not in xsd_errors:
            raise ValueError(f"{name!r} is not an error name of xs_wire.h")
        super().__init__(f"{name}: {detail}" if detail else name)
        self.name = name
