"""Small C helpers the engine needs where Python would be too slow (built on first use).

`preempt.c`: the block hook that stops a vCPU at a block boundary when its time slice
is over (see the file's comment for why a stop must never come from another thread).
"""
from __future__ import annotations

import ctypes
import functools
import os
import subprocess
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_SOURCE = _HERE / "preempt.c"
_LIBRARY = _HERE / "build" / "libhvpreempt.so"


class NativeBuildError(Exception):
    """The C helper could not be compiled (gcc missing?)."""


def _build() -> None:
    _LIBRARY.parent.mkdir(exist_ok=True)
    tmp = _LIBRARY.with_suffix(f".{os.getpid()}.tmp")
    cmd = ["gcc", "-O2", "-shared", "-fPIC", "-o", str(tmp), str(_SOURCE)]
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as err:
        raise NativeBuildError(f"cannot build {_SOURCE.name}: {err}") from None
    os.replace(tmp, _LIBRARY)     # atomic: concurrent builders never see half a file


@functools.lru_cache(maxsize=1)
def preempt_library() -> ctypes.CDLL:
    if not _LIBRARY.exists() or _LIBRARY.stat().st_mtime < _SOURCE.stat().st_mtime:
        _build()
    lib = ctypes.CDLL(str(_LIBRARY))
    lib.hv_preempt_register.restype = ctypes.POINTER(ctypes.c_int32)
    lib.hv_preempt_register.argtypes = [ctypes.c_void_p]
    lib.hv_preempt_unregister.argtypes = [ctypes.c_void_p]
    from unicorn.unicorn_py3.unicorn import uclib
    stop_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
    lib.hv_preempt_init.argtypes = [stop_type]
    lib._stop = stop_type(("uc_emu_stop", uclib))   # keep it alive
    lib.hv_preempt_init(lib._stop)
    return lib
