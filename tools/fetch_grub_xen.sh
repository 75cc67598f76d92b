#!/usr/bin/env bash
# Debian's PV and PVH GRUB images (grub-x86_64-xen.bin, grub-i386-xen.bin,
# grub-i386-xen_pvh.bin), fetched from the
# grub-xen-host package and unpacked into .cache/grub-xen/ (never committed).
# Safe to run again: nothing is fetched when the images are there.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cache/grub-xen
if [ -f "$dest/grub-x86_64-xen.bin" ] && [ -f "$dest/grub-i386-xen.bin" ] \
        && [ -f "$dest/grub-i386-xen_pvh.bin" ]; then
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "setup: fetching Debian's grub-xen-host (PV GRUB images)"
# apt drops privileges to _apt for downloads; let it write into the scratch folder
chmod 777 "$work"
(cd "$work" && apt-get download -qq grub-xen-host 2>/dev/null) || {
    [ "$(id -u)" -eq 0 ] || { echo "setup: cannot download grub-xen-host" >&2; exit 1; }
    apt-get update -qq && (cd "$work" && apt-get download -qq grub-xen-host)
}
dpkg -x "$work"/grub-xen-host_*.deb "$work/root"
mkdir -p "$dest"
cp "$work"/root/usr/lib/grub-xen/grub-x86_64-xen.bin "$work"/root/usr/lib/grub-xen/grub-i386-xen.bin \
    "$work"/root/usr/lib/grub-xen/grub-i386-xen_pvh.bin "$dest/"
