#!/usr/bin/env bash
# One-time set-up of a checkout: Debian packages the build needs, then .venv with the project.
# Safe to run again: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
[ -f /usr/include/xen/xen.h ] || need_pkgs+=(libxen-dev)
echo 'int x;' | gcc -m32 -x c -c - -o /dev/null 2>/dev/null || need_pkgs+=(gcc-multilib)
command -v gdb >/dev/null || need_pkgs+=(gdb)
command -v mke2fs >/dev/null || [ -x /sbin/mke2fs ] || need_pkgs+=(e2fsprogs)   # test disk images
command -v chromium >/dev/null || need_pkgs+=(chromium)    # renders hv trace timelines in tests
if [ ${#need_pkgs[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${need_pkgs[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
    .venv/bin/python -m pip install -q -e '.[test]'
    touch "$stamp"
fi

tools/fetch_grub_xen.sh      # Debian's PV GRUB, for its boot tests and the demo

# Byte-compile the project once: every `hv` command and domain process is a fresh Python
# that would otherwise compile ~70 modules from source when bytecode writing is off
# (PYTHONDONTWRITEBYTECODE, as on some CI machines): ~0.1 s per process. Stale .pyc
# files are ignored by Python (it checks the source's mtime), so this is only a cache.
.venv/bin/python -m compileall -q -j 0 hvcore loaders tools >/dev/null
