"""Errors of the domain configuration layer.

`ConfigError` is what callers see: one line naming where the problem is
(`web.cfg:7: ...`, or `web.cfg: ...` when no single line is to blame).
`SpecError` is raised by the disk/vif spec parsers, which know nothing about
files; the config layer turns it into a `ConfigError` at the right place.
"""
from __future__ import annotations


class ConfigError(Exception):
    """A bad domain configuration: str() is one line, `where: message`."""

    def __init__(self, source: str, message: str, line: int | None = None,
                 key: str | None = None):
        self.source = source
        self.line = line
        self.key = key
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.message}"


class SpecError(ValueError):
    """A bad disk or vif spec string (no location: the caller adds it)."""
