"""Small C helpers where Python would be too slow or cannot do the job (built on first use).

`preempt.c`: the block hook that stops a vCPU at a block boundary when its time slice
is over (see the file's comment for why a stop must never come from another thread);
and the instruction hook that stops right after a watched access (gdb watchpoints).
`atomic.c`: locked cmpxchg on words shared with guests and other processes.
`exits.c`: the hooks of the busiest exits (hypercalls, traps), so no Python runs in them.
`trace.c`: the per-instruction/per-block trace hook (only while a trace asks for it).
"""
from __future__ import annotations

import ctypes
import functools
import os
import subprocess
from pathlib import Path

_HERE = Path(__file__).resolve().parent


class NativeBuildError(Exception):
    """A C helper could not be compiled (gcc missing?)."""


def _build(source: Path, library: Path) -> None:
    library.parent.mkdir(exist_ok=True)
    tmp = library.with_suffix(f".{os.getpid()}.tmp")
    cmd = ["gcc", "-O2", "-shared", "-fPIC", "-o", str(tmp), str(source)]
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as err:
        raise NativeBuildError(f"cannot build {source.name}: {err}") from None
    os.replace(tmp, library)     # atomic: concurrent builders never see half a file


def _load(name: str) -> ctypes.CDLL:
    """hvcore/native/NAME.c as a shared library, rebuilt when the source is newer."""
    source = _HERE / f"{name}.c"
    library = _HERE / "build" / f"libhv{name}.so"
    if not library.exists() or library.stat().st_mtime < source.stat().st_mtime:
        _build(source, library)
    return ctypes.CDLL(str(library))


@functools.lru_cache(maxsize=1)
def preempt_library() -> ctypes.CDLL:
    lib = _load("preempt")
    lib.hv_preempt_register.restype = ctypes.POINTER(ctypes.c_int32)
    lib.hv_preempt_register.argtypes = [ctypes.c_void_p]
    lib.hv_preempt_unregister.argtypes = [ctypes.c_void_p]
    lib.hv_preempt_set_doorbell.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.hv_stop_next_flag.restype = ctypes.POINTER(ctypes.c_int32)
    lib.hv_stop_next_flag.argtypes = [ctypes.c_void_p]
    _give_emu_stop(lib, lib.hv_preempt_init)
    return lib


def _give_emu_stop(lib: ctypes.CDLL, init) -> None:
    """Hand the library unicorn's uc_emu_stop (so it need not link against unicorn)."""
    from unicorn.unicorn_py3.unicorn import uclib
    stop_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
    init.argtypes = [stop_type]
    lib._stop = stop_type(("uc_emu_stop", uclib))   # keep it alive
    init(lib._stop)


@functools.lru_cache(maxsize=1)
def exits_library() -> ctypes.CDLL:
    """exits.c: the syscall and interrupt hooks that record an exit and stop."""
    return _load("exits")


@functools.lru_cache(maxsize=1)
def atomic_library() -> ctypes.CDLL:
    lib = _load("atomic")
    lib.hv_cmpxchg32.restype = ctypes.c_uint32
    lib.hv_cmpxchg32.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32]
    lib.hv_clear_bits16.restype = ctypes.c_uint16
    lib.hv_clear_bits16.argtypes = [ctypes.c_void_p, ctypes.c_uint16]
    return lib


@functools.lru_cache(maxsize=1)
def trace_library() -> ctypes.CDLL:
    """trace.c: the instruction/block trace hook and its buffers (hvcore/trace/native.py)."""
    lib = _load("trace")
    lib.hv_trace_new.restype = ctypes.c_void_p
    lib.hv_trace_new.argtypes = [ctypes.c_uint32, ctypes.c_uint32]
    lib.hv_trace_free.argtypes = [ctypes.c_void_p]
    _give_emu_stop(lib, lib.hv_trace_init)
    return lib
