"""Domain configuration files for `hv create CONFIG [key=value ...]` / `hv run CONFIG`.

The syntax is xl.cfg(5)'s (see `cfgparse.py`); the keys and their meanings are
xl's, for the part of xl that hv implements:

    name = "web"                     required; not empty, no '/', not all digits
    type = "pv"                      pv (default), pvh or hvm; `builder` is the old
                                     spelling ("generic" = pv, "hvm")
    kernel = "vmlinuz"               needed by pv and pvh guests (hv has no
    ramdisk = "initrd.img"           bootloader); must be existing files
    cmdline = "console=hvc0"         or root= and extra=: without cmdline, xl's
    root = "/dev/xvda1"              rule makes it "root=<root> <extra>"
    extra = "quiet"
    memory = 256                     MiB; default 32 (libxl's default)
    maxmem = 512                     MiB, >= memory; default: memory (if only
                                     maxmem is given, memory defaults to it)
    vcpus = 2                        default 1
    maxvcpus = 4                     >= vcpus; default: vcpus
    on_poweroff / on_reboot / on_crash / on_watchdog / on_soft_reset
                                     destroy, restart, rename-restart, preserve,
                                     coredump-destroy, coredump-restart or
                                     soft-reset; defaults destroy / restart /
                                     destroy / destroy / soft-reset
    disk = [ 'web.img,raw,xvda,rw' ] see disk.py (xl-disk-configuration(5))
    vif = [ 'bridge=hvbr0' ]         see vif.py (xl-network-configuration(5))
    serial = "pty"                   a string or a list of strings, kept as given
    uuid = "..."                     optional, 8-4-4-4-12 hex digits

Relative paths (kernel, ramdisk, disk targets) are taken relative to the
config file's folder; in a command-line `key=value` they are taken relative to
the current folder.  A command-line argument has the config file syntax (and
may hold several `;`-separated settings); its keys override the file's.

A handful of xl keys hv does not implement (display, pinning, ...) are
accepted and ignored, with a warning in `DomainConfig.warnings`; any other
key is an error.  Every error is a `ConfigError` whose str() is one line:

    web.cfg:7: unknown key 'memroy' (did you mean 'memory'?)
    web.cfg:3: memory: expected a positive integer, got "lots"
    web.cfg: missing required key 'name'
    web.cfg:4: kernel '/x/y' does not exist

Nothing here starts anything: it reads, parses and checks.
"""
from __future__ import annotations

import difflib
import re
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from hvcore.arch.x86.pv.layout import HYPERVISOR_PHYS_BASE

from .cfgparse import Atom, ListValue, Setting, Value, parse_text
from .disk import DiskSpec, check_regular_file, parse_disk_spec
from .errors import ConfigError, SpecError
from .vif import VifSpec, parse_vif_spec

# a PV domain's RAM ends below the hypervisor's own frames (loaders/pv_builder.py)
PV_MEMORY_LIMIT_MIB = HYPERVISOR_PHYS_BASE >> 20

__all__ = ["ConfigError", "DomainConfig", "DiskSpec", "VifSpec", "load_config",
           "parse_config", "KNOWN_KEYS", "ACTIONS", "GUEST_TYPES"]

GUEST_TYPES = ("pv", "pvh", "hvm")
ACTIONS = ("destroy", "restart", "rename-restart", "preserve", "coredump-destroy",
           "coredump-restart", "soft-reset")
DEFAULT_MEMORY_MIB = 32          # libxl: max_memkb defaults to 32 MiB, target to max
_ACTION_DEFAULTS = {"on_poweroff": "destroy", "on_reboot": "restart",
                    "on_crash": "destroy", "on_watchdog": "destroy",
                    "on_soft_reset": "soft-reset"}
KNOWN_KEYS = ("name", "type", "builder", "kernel", "ramdisk", "cmdline", "root",
              "extra", "memory", "maxmem", "vcpus", "maxvcpus", *_ACTION_DEFAULTS,
              "disk", "vif", "serial", "uuid")
# xl keys hv accepts and ignores (with a warning): nothing in hv they could change
IGNORED_XL_KEYS = ("pool", "cpus", "cpus_soft", "cpu_weight", "cap", "vnc",
                   "vnclisten", "vncdisplay", "vncunused", "vncpasswd", "sdl",
                   "opengl", "keymap", "nographic", "localtime", "claim_mode",
                   "seclabel", "init_seclabel")
_BUILDERS = {"generic": "pv", "hvm": "hvm"}
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_HEX = re.compile(r"0[xX][0-9A-Fa-f]+")
_OCTAL = re.compile(r"0[0-7]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class DomainConfig:
    """A checked domain configuration: what `hv create` needs to build the domain."""
    name: str
    type: str = "pv"
    kernel: Path | None = None
    ramdisk: Path | None = None
    cmdline: str = ""                # what the guest gets (from cmdline or root/extra)
    root: str | None = None
    extra: str | None = None
    memory: int = DEFAULT_MEMORY_MIB         # MiB
    maxmem: int = DEFAULT_MEMORY_MIB         # MiB
    vcpus: int = 1
    maxvcpus: int = 1
    on_poweroff: str = "destroy"
    on_reboot: str = "restart"
    on_crash: str = "destroy"
    on_watchdog: str = "destroy"
    on_soft_reset: str = "soft-reset"
    disk: tuple[DiskSpec, ...] = ()
    vif: tuple[VifSpec, ...] = ()
    serial: tuple[str, ...] = ()
    uuid: str | None = None          # canonical lower case, or None: make one up
    source: Path | None = None       # the config file, when there is one
    warnings: tuple[str, ...] = ()   # one line each; nothing is printed here


def load_config(path: str | Path, overrides: Sequence[str] = (),
                check_files: bool = True) -> DomainConfig:
    """Read, parse and check a config file, with command-line `key=value`s."""
    path = Path(path)
    label = str(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(label, "no such config file") from None
    except IsADirectoryError:
        raise ConfigError(label, "is a directory, not a config file") from None
    except UnicodeDecodeError:
        raise ConfigError(label, "is not a text file") from None
    except OSError as err:
        raise ConfigError(label, f"cannot read it: {err.strerror}") from None
    return parse_config(text, label, path.resolve().parent, overrides, check_files,
                        source=path)


def parse_config(text: str, label: str = "<config>", base_dir: Path | None = None,
                 overrides: Sequence[str] = (), check_files: bool = True,
                 source: Path | None = None) -> DomainConfig:
    """Parse config text (named `label` in errors) and build a DomainConfig."""
    warnings: list[str] = []
    file_origin = _Origin(label, base_dir or Path.cwd(), True)
    entries = _collect([(parse_text(text, label), file_origin)], warnings)
    entries.update(_collect(_parse_overrides(overrides), warnings))
    return _Builder(_Reader(entries, label), check_files, warnings).build(source)


# --- gathering settings ---------------------------------------------------------

@dataclass(frozen=True)
class _Origin:
    label: str           # "web.cfg", or "argument 'memory=256'"
    base_dir: Path       # where relative paths start
    has_lines: bool      # whether line numbers mean anything to the user


@dataclass(frozen=True)
class _Entry:
    setting: Setting
    origin: _Origin

    def error(self, message: str, line: int | None = None) -> ConfigError:
        line = line or self.setting.line
        return ConfigError(self.origin.label, message,
                           line if self.origin.has_lines else None, self.setting.key)

    def location(self) -> str:
        if self.origin.has_lines:
            return f"{self.origin.label}:{self.setting.line}"
        return self.origin.label

    def where(self) -> str:
        if self.origin.has_lines:
            return f"line {self.setting.line}"
        return self.origin.label


def _parse_overrides(overrides: Sequence[str]) -> list[tuple[list[Setting], _Origin]]:
    parsed = []
    for arg in overrides:
        origin = _Origin(f"argument {arg!r}", Path.cwd(), False)
        try:
            parsed.append((parse_text(arg, origin.label), origin))
        except ConfigError as err:
            raise ConfigError(origin.label, err.message) from None
    return parsed


def _collect(groups: Iterable[tuple[list[Setting], _Origin]],
             warnings: list[str]) -> dict[str, _Entry]:
    """Known keys -> their entry; unknown and duplicate keys are errors."""
    entries: dict[str, _Entry] = {}
    for settings, origin in groups:
        for setting in settings:
            entry = _Entry(setting, origin)
            if setting.key in IGNORED_XL_KEYS:
                warnings.append(f"{entry.location()}: hv ignores '{setting.key}' "
                                f"(an xl option it does not implement)")
                continue
            if setting.key not in KNOWN_KEYS:
                raise entry.error(f"unknown key '{setting.key}'{_suggest(setting.key)}")
            if setting.key in entries:
                raise entry.error(f"duplicate key '{setting.key}' (first set "
                                  f"{'on ' if origin.has_lines else 'in '}"
                                  f"{entries[setting.key].where()})")
            entries[setting.key] = entry
    return entries


def _suggest(key: str) -> str:
    close = difflib.get_close_matches(key.lower(), KNOWN_KEYS, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


# --- typed access to the settings --------------------------------------------------

def xl_integer(text: str) -> int | None:
    """xl's number syntax: decimal, 0x hex or 0-prefixed octal; None if not one."""
    if _DECIMAL.fullmatch(text):
        return int(text)
    if _HEX.fullmatch(text):
        return int(text, 16)
    if _OCTAL.fullmatch(text):
        return int(text, 8)
    return None


class _Reader:
    """The merged settings, read as the types the keys want."""

    def __init__(self, entries: dict[str, _Entry], label: str):
        self.entries = entries
        self.label = label

    def has(self, key: str) -> bool:
        return key in self.entries

    def error(self, key: str, message: str, line: int | None = None,
              what: str | None = None) -> ConfigError:
        """An error about `key` (shown as `what`, e.g. disk[1]) at its line."""
        return self.entries[key].error(f"{what or key}: {message}", line)

    def missing(self, key: str, why: str = "") -> ConfigError:
        return ConfigError(self.label, f"missing required key '{key}'{why}", key=key)

    def atom(self, key: str) -> Atom | None:
        if key not in self.entries:
            return None
        value = self.entries[key].setting.value
        if isinstance(value, ListValue):
            raise self.error(key, "expected a single value, got a list")
        return value

    def string(self, key: str, default: str | None = None) -> str | None:
        atom = self.atom(key)
        return default if atom is None else atom.text

    def positive(self, key: str, default: int | None = None) -> int | None:
        atom = self.atom(key)
        if atom is None:
            return default
        number = xl_integer(atom.text.strip())
        if number is None or number <= 0:
            raise self.error(key, f"expected a positive integer, got {atom.shown()}")
        return number

    def choice(self, key: str, choices: Sequence[str], default: str) -> str:
        value = self.string(key, default)
        if value not in choices:
            raise self.error(key, f"\"{value}\" is not one of {', '.join(choices)}")
        return value

    def strings(self, key: str, single_ok: bool = False) -> list[tuple[str, int]]:
        """A list of strings -> [(text, line)]; a lone string if `single_ok`."""
        if key not in self.entries:
            return []
        value = self.entries[key].setting.value
        if isinstance(value, Atom):
            if single_ok:
                return [(value.text, value.line)]
            raise self.error(key, f"expected a list like [ '...' ], got {value.shown()}")
        return [(self._item_text(key, item), item.line) for item in value.items]

    def _item_text(self, key: str, item: Value) -> str:
        if isinstance(item, ListValue):
            raise self.error(key, "expected strings in the list, got a nested list",
                             item.line)
        return item.text

    def path(self, key: str, check: bool) -> Path | None:
        text = self.string(key)
        if text is None:
            return None
        if text == "":
            raise self.error(key, "must not be empty")
        path = self.entries[key].origin.base_dir / text
        if check:
            try:
                check_regular_file(key, text, path)
            except SpecError as err:
                raise self.entries[key].error(str(err)) from None
        return path


# --- from settings to a DomainConfig -----------------------------------------------

class _Builder:
    def __init__(self, reader: _Reader, check_files: bool, warnings: list[str]):
        self.r = reader
        self.check_files = check_files
        self.warnings = warnings

    def build(self, source: Path | None) -> DomainConfig:
        r = self.r
        name = self.name()
        guest_type = self.guest_type()
        memory, maxmem = self.memory()
        if guest_type == "pv" and memory > PV_MEMORY_LIMIT_MIB:
            raise r.error("memory", f"{memory} MiB is more than a PV domain can have here "
                                    f"({PV_MEMORY_LIMIT_MIB} MiB)")
        vcpus, maxvcpus = self.vcpus()
        return DomainConfig(
            name=name, type=guest_type, **self.boot(guest_type),
            memory=memory, maxmem=maxmem, vcpus=vcpus, maxvcpus=maxvcpus,
            **{key: r.choice(key, ACTIONS, default)
               for key, default in _ACTION_DEFAULTS.items()},
            disk=self.disks(), vif=self.vifs(guest_type == "hvm"),
            serial=tuple(text for text, _ in r.strings("serial", single_ok=True)),
            uuid=self.uuid(), source=source, warnings=tuple(self.warnings))

    def name(self) -> str:
        name = self.r.string("name")
        if name is None:
            raise self.r.missing("name")
        if name == "":
            raise self.r.error("name", "must not be empty")
        if "/" in name:
            raise self.r.error("name", f"\"{name}\" contains '/' (names are xenstore "
                                       f"path components)")
        if name.isdigit():
            raise self.r.error("name", f"\"{name}\" is all digits (it would read as a "
                                       f"domain id)")
        if not name.isprintable():
            raise self.r.error("name", f"{name!r} contains control characters")
        return name

    def guest_type(self) -> str:
        if self.r.has("type") or not self.r.has("builder"):
            return self.r.choice("type", GUEST_TYPES, "pv")
        return _BUILDERS[self.r.choice("builder", tuple(_BUILDERS), "generic")]

    def boot(self, guest_type: str) -> dict:
        kernel = self.r.path("kernel", self.check_files)
        if kernel is None and guest_type != "hvm":
            raise self.r.missing("kernel", f" (a {guest_type} guest boots a kernel: "
                                           f"hv has no bootloader)")
        cmdline, root, extra = (self.r.string(key) for key in ("cmdline", "root", "extra"))
        if cmdline is not None and (root is not None or extra is not None):
            self.warnings.append(f"{self.r.label}: ignoring root= and extra= "
                                 f"in favour of cmdline=")
        return dict(kernel=kernel, ramdisk=self.r.path("ramdisk", self.check_files),
                    cmdline=_command_line(cmdline, root, extra), root=root, extra=extra)

    def memory(self) -> tuple[int, int]:
        memory = self.r.positive("memory")
        maxmem = self.r.positive("maxmem")
        if memory is None:
            memory = maxmem or DEFAULT_MEMORY_MIB
        if maxmem is None:
            maxmem = memory
        if maxmem < memory:
            raise self.r.error("maxmem", f"{maxmem} is less than memory ({memory})")
        return memory, maxmem

    def vcpus(self) -> tuple[int, int]:
        vcpus = self.r.positive("vcpus", 1)
        maxvcpus = self.r.positive("maxvcpus", vcpus)
        if maxvcpus < vcpus:
            raise self.r.error("maxvcpus", f"{maxvcpus} is less than vcpus ({vcpus})")
        return vcpus, maxvcpus

    def uuid(self) -> str | None:
        text = self.r.string("uuid")
        if text is None:
            return None
        if not _UUID.fullmatch(text):
            raise self.r.error("uuid", f"\"{text}\" is not a UUID "
                                       f"(8-4-4-4-12 hex digits)")
        return str(uuidlib.UUID(text))

    def disks(self) -> tuple[DiskSpec, ...]:
        disks: list[DiskSpec] = []
        base_dir = self.r.entries["disk"].origin.base_dir if self.r.has("disk") else None
        for index, (spec, line) in enumerate(self.r.strings("disk")):
            try:
                disk = parse_disk_spec(spec, base_dir, self.check_files)
            except SpecError as err:
                raise self.r.error("disk", str(err), line, f"disk[{index}]") from None
            for earlier, other in enumerate(disks):
                if other.devid == disk.devid:
                    raise self.r.error("disk", f"vdev '{disk.vdev}' is already used by "
                                               f"disk[{earlier}]", line, f"disk[{index}]")
            disks.append(disk)
        return tuple(disks)

    def vifs(self, hvm: bool) -> tuple[VifSpec, ...]:
        vifs: list[VifSpec] = []
        for index, (spec, line) in enumerate(self.r.strings("vif")):
            try:
                vif = parse_vif_spec(spec, hvm=hvm)
            except SpecError as err:
                raise self.r.error("vif", str(err), line, f"vif[{index}]") from None
            for earlier, other in enumerate(vifs):
                if other.mac == vif.mac:
                    raise self.r.error("vif", f"mac {vif.mac} is already used by "
                                              f"vif[{earlier}]", line, f"vif[{index}]")
            vifs.append(vif)
        return tuple(vifs)


def _command_line(cmdline: str | None, root: str | None, extra: str | None) -> str:
    """xl's rule: cmdline wins; else "root=<root> <extra>", or either alone."""
    if cmdline is not None:
        return cmdline
    if root is not None and extra is not None:
        return f"root={root} {extra}"
    if root is not None:
        return f"root={root}"
    return extra or ""
