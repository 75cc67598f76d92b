"""Disk specs, as xl-disk-configuration(5) writes them.

    '/srv/web.img,raw,xvda,rw'                      positional: target, format,
    '/srv/web.img,,xvda'                            vdev, access (empty = default)
    'format=raw, vdev=xvdb, access=ro, target=/srv/data.img'
    '/srv/install.iso,,hdc,cdrom'                   flags: cdrom, discard, ...
    'raw:/srv/web.img,xvda,w'                       deprecated prefixes/`:cdrom`

Parameters are comma separated; a parameter without '=' that is not a flag
fills the next positional slot still unset.  `target=` takes the whole rest of
the spec, commas included.  Each parameter may be given once (an empty value
may be given again).  Defaults: format raw, access rw (ro for a cdrom).

hv differences from xl: only the raw format can be used (the others are
recognised and refused); a relative target is taken relative to the config
file's folder, where xl would prepend /dev; the target must be an existing
regular file (an image), and a cdrom may have no target (an empty drive).
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SpecError
from .vdev import device_number

XL_FORMATS = ("raw", "qcow", "qcow2", "vhd", "qed")
SUPPORTED_FORMATS = ("raw",)
BACKEND_TYPES = ("phy", "tap", "qdisk", "standalone")
_VALUED = ("target", "format", "vdev", "access", "devtype", "backend",
           "backendtype", "script")
_FLAGS = {"cdrom": ("devtype", "cdrom"), "discard": ("discard", True),
          "no-discard": ("discard", False), "direct-io-safe": ("direct_io_safe", True)}
# in xl, but not something hv can honour
_UNSUPPORTED = ("colo", "no-colo", "colo-host", "colo-port", "colo-export",
                "active-disk", "hidden-disk", "specification", "trusted",
                "untrusted", "grant_usage")
_POSITIONAL = ("target", "format", "vdev", "access")
_FORMAT_PREFIX = re.compile(r"(raw|qcow2?|vhd):")
_SCRIPT_PREFIX = re.compile(r"(iscsi|e?nbd|drbd):")
_IGNORED_PREFIX = re.compile(r"(tapdisk|tap2?|aio|ioemu|file|phy):")
_UNKNOWN_PREFIX = re.compile(r"[a-z][a-z0-9]*:(?![a-z0-9])")
_KEY = re.compile(r"[a-z][-_a-z0-9]*")


@dataclass(frozen=True)
class DiskSpec:
    target: Path | None          # None only for an empty cdrom drive
    vdev: str                    # as written: xvda, hdc, sdb1, d0p1, ...
    devid: int                   # its xenstore device number
    format: str = "raw"
    access: str = "rw"           # "ro" or "rw"
    devtype: str = "disk"        # "disk" or "cdrom"
    backendtype: str | None = None
    backend: str | None = None
    script: str | None = None
    discard: bool | None = None
    direct_io_safe: bool = False

    @property
    def readonly(self) -> bool:
        return self.access == "ro"

    @property
    def is_cdrom(self) -> bool:
        return self.devtype == "cdrom"


@dataclass
class _Raw:
    """What the spec string said, before defaults and checks."""
    values: dict[str, object] = field(default_factory=dict)
    had_prefix: bool = False     # a deprecated prefix stands in for the format

    def set(self, name: str, value: object) -> None:
        old = self.values.get(name)
        if old not in (None, "") and old != value:
            raise SpecError(f"{name} given twice ({old!r} and {value!r})")
        self.values[name] = value

    def unset(self, name: str) -> bool:
        return name not in self.values


def parse_disk_spec(spec: str, base_dir: Path, check_files: bool = True) -> DiskSpec:
    """One DISKSPEC string -> DiskSpec (SpecError on anything wrong)."""
    raw = _Raw()
    for param in _split_params(spec):
        _take_param(raw, param)
    return _build(raw, base_dir, check_files)


def _split_params(spec: str) -> list[str]:
    """Comma separated parameters; `target=` swallows the rest of the spec."""
    params, rest = [], spec
    while rest:
        rest = rest.lstrip(" \t\n")
        if rest.startswith("target="):
            params.append(rest[:-1] if rest.endswith(",") else rest)
            break
        head, comma, rest = rest.partition(",")
        if head.strip() or comma:
            params.append(head.rstrip(" \t\n"))
    return params


def _take_param(raw: _Raw, param: str) -> None:
    if param in _FLAGS:
        raw.set(*_FLAGS[param])
    elif "=" in param:
        _take_keyword(raw, *param.split("=", 1))
    elif param in _UNSUPPORTED:
        raise SpecError(f"'{param}' is not supported by hv")
    else:
        _take_positional(raw, _strip_prefixes(raw, param))


def _take_keyword(raw: _Raw, key: str, value: str) -> None:
    if key in _VALUED:
        raw.set(key, value)
    elif key in _UNSUPPORTED:
        raise SpecError(f"'{key}=' is not supported by hv")
    elif _KEY.fullmatch(key):
        raise SpecError(f"unknown parameter '{key}'{_suggest(key)}")
    else:
        raise SpecError(f"bad parameter '{key}={value}'")


def _strip_prefixes(raw: _Raw, param: str) -> str:
    """Deprecated `raw:`, `phy:`, `tap:aio:`... prefixes before a target."""
    while True:
        match = (_FORMAT_PREFIX.match(param) or _SCRIPT_PREFIX.match(param)
                 or _IGNORED_PREFIX.match(param))
        if match is None:
            if _UNKNOWN_PREFIX.match(param):
                raise SpecError(f"unknown deprecated prefix '{param.split(':')[0]}:'")
            return param
        name = match.group(1)
        if match.re is _FORMAT_PREFIX:
            raw.set("format", name)
        elif match.re is _SCRIPT_PREFIX:
            raw.set("script", f"block-{name}")
        raw.had_prefix = True
        param = param[match.end():]


def _take_positional(raw: _Raw, param: str) -> None:
    """Fill the first positional slot not yet set (xl's order and quirks)."""
    if raw.unset("target"):
        raw.set("target", param)
    elif not raw.had_prefix and raw.unset("format"):
        if raw.values["target"] == "" and ":" in param:
            _take_vdev(raw, param)       # ',hdc:cdrom,r': an empty cdrom
            raw.set("format", "")
        else:
            raw.set("format", param)
    elif raw.unset("vdev"):
        _take_vdev(raw, param)
    elif raw.unset("access"):
        raw.set("access", param)
    else:
        raise SpecError(f"too many positional parameters at '{param}' "
                        f"(they are {', '.join(_POSITIONAL)})")


def _take_vdev(raw: _Raw, param: str) -> None:
    """A vdev, possibly with xend's `:cdrom` / `:disk` suffix."""
    vdev, colon, devtype = param.rpartition(":")
    if not colon:
        raw.set("vdev", param)
        return
    if devtype not in ("cdrom", "disk"):
        raise SpecError(f"unknown device type '{devtype}' in '{param}'")
    raw.set("vdev", vdev)
    raw.set("devtype", devtype)


def _suggest(word: str) -> str:
    known = list(_VALUED) + list(_FLAGS)
    close = difflib.get_close_matches(word, known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _build(raw: _Raw, base_dir: Path, check_files: bool) -> DiskSpec:
    values = {name: value for name, value in raw.values.items() if value != ""}
    devtype = _devtype(values.get("devtype", "disk"))
    vdev = values.get("vdev")
    if vdev is None:
        raise SpecError("no vdev given (the guest's name for the disk, e.g. xvda)")
    target = _target(values.get("target"), devtype, base_dir, check_files)
    return DiskSpec(target=target, vdev=vdev, devid=device_number(vdev),
                    format=_format(values.get("format", "raw")),
                    access=_access(values.get("access"), devtype), devtype=devtype,
                    backendtype=_backendtype(values.get("backendtype")),
                    backend=values.get("backend"), script=values.get("script"),
                    discard=values.get("discard"),
                    direct_io_safe=bool(values.get("direct_io_safe", False)))


def _devtype(devtype: str) -> str:
    if devtype not in ("disk", "cdrom"):
        raise SpecError(f"unknown devtype '{devtype}' (expected cdrom or disk)")
    return devtype


def _format(fmt: str) -> str:
    if fmt not in XL_FORMATS:
        raise SpecError(f"unknown format '{fmt}' (xl knows {', '.join(XL_FORMATS)})")
    if fmt not in SUPPORTED_FORMATS:
        raise SpecError(f"format '{fmt}' is not supported by hv (only raw)")
    return fmt


def _access(access: str | None, devtype: str) -> str:
    if access is None:
        return "ro" if devtype == "cdrom" else "rw"
    if access in ("r", "ro"):
        return "ro"
    if access not in ("w", "rw"):
        raise SpecError(f"unknown access '{access}' (expected ro, r, rw or w)")
    if devtype == "cdrom":
        raise SpecError("a cdrom cannot be read-write")
    return "rw"


def _backendtype(backendtype: str | None) -> str | None:
    if backendtype is not None and backendtype not in BACKEND_TYPES:
        raise SpecError(f"unknown backendtype '{backendtype}' "
                        f"(expected {', '.join(BACKEND_TYPES)})")
    return backendtype


def _target(target: str | None, devtype: str, base_dir: Path,
            check_files: bool) -> Path | None:
    if target is None:
        if devtype == "cdrom":
            return None
        raise SpecError("no target given (the image file backing the disk)")
    path = base_dir / target
    if check_files:
        check_regular_file("target", target, path)
    return path


def check_regular_file(what: str, written: str, path: Path) -> None:
    """SpecError unless `path` (written as `written`) is an existing file."""
    shown = f"'{written}'" if Path(written).is_absolute() else f"'{written}' ({path})"
    if not path.exists():
        raise SpecError(f"{what} {shown} does not exist")
    if path.is_dir():
        raise SpecError(f"{what} {shown} is a directory, not a file")
    if not path.is_file():
        raise SpecError(f"{what} {shown} is not a regular file")
