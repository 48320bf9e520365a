#!/bin/bash
# Real-Xen tier: build (once, cached) what boots Xen 4.17 + a Debian bookworm dom0 inside QEMU.
# Only Debian packages. Run as root. Output in $XEN_CACHE (default /var/cache/xapi-storage-spdk-xen):
#   xen (the gunzipped hypervisor, multiboot1 ELF), vmlinuz, initrd.img, rootfs.ext4.
# The rootfs holds no project code: a stub init (xt-init) mounts the per-run project disk
# (made by spec/xen/run.sh) and runs the init found there, so code changes never rebuild this.
# Rebuilt only when the package list or the stub changes, or with FORCE=1.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${XEN_CACHE:-/var/cache/xapi-storage-spdk-xen}
ROOT=$CACHE/rootfs
APT="apt-get -o DPkg::Lock::Timeout=900"
mkdir -p "$CACHE"
T0=$SECONDS
say() { echo "[build-images +$((SECONDS - T0))s] $*"; }

# Host tools the tier needs (Debian packages only), installed when missing.
need=()
for p in qemu-system-x86 qemu-utils debootstrap e2fsprogs socat; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  say "installing host packages: ${need[*]}"
  $APT update >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive $APT install -y --no-install-recommends "${need[@]}" >/dev/null
fi

host_mirror() {
  local u
  u=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$u" ] || u=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  echo "${u:-http://deb.debian.org/debian}"
}
MIRROR=${MIRROR:-$(host_mirror)}

# dom0 and guests share this root filesystem (guests get it read-only).
PKGS="linux-image-amd64 xen-hypervisor-4.17-amd64 xen-utils-4.17 xenstore-utils qemu-system-xen
  fio kmod iproute2 procps e2fsprogs xfsprogs util-linux busybox liburing2 libjansson4 bc"
STUB=$HERE/xt-init
KEY=$( (echo "$PKGS"; cat "$STUB") | sha256sum | cut -c1-16)

if [ "${FORCE:-0}" = 1 ] || [ "$(cat "$CACHE/key" 2>/dev/null)" != "$KEY" ] || [ ! -s "$CACHE/rootfs.ext4" ]; then
  if [ "${FORCE:-0}" = 1 ] || [ "$(cat "$ROOT/.pkgs" 2>/dev/null)" != "$PKGS" ]; then
    say "debootstrap bookworm ($MIRROR) -> $ROOT"
    for m in dev/pts dev sys proc; do umount "$ROOT/$m" 2>/dev/null || true; done
    rm -rf "$ROOT"
    debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" > "$CACHE/debootstrap.log" 2>&1 \
      || { tail -20 "$CACHE/debootstrap.log"; exit 1; }
    cat > "$ROOT/etc/apt/sources.list" <<SRC
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${MIRROR%/debian}/debian-security bookworm-security main
SRC
    printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"; chmod +x "$ROOT/usr/sbin/policy-rc.d"
    cleanup() { for m in dev/pts dev sys proc; do umount "$ROOT/$m" 2>/dev/null || true; done; }
    trap cleanup EXIT
    mount -t proc proc "$ROOT/proc"; mount -t sysfs sys "$ROOT/sys"
    mount --bind /dev "$ROOT/dev"; mount --bind /dev/pts "$ROOT/dev/pts"
    say "apt-get install in the rootfs"
    chroot "$ROOT" apt-get update > "$CACHE/chroot-apt.log" 2>&1
    DEBIAN_FRONTEND=noninteractive chroot "$ROOT" apt-get install -y --no-install-recommends $PKGS \
      >> "$CACHE/chroot-apt.log" 2>&1 || { tail -30 "$CACHE/chroot-apt.log"; exit 1; }
    chroot "$ROOT" apt-get clean
    cleanup; trap - EXIT
    echo "$PKGS" > "$ROOT/.pkgs"
  fi
  say "customise rootfs"
  echo xt-dom0 > "$ROOT/etc/hostname"
  : > "$ROOT/etc/fstab"
  install -m 755 "$STUB" "$ROOT/usr/local/sbin/xt-init"
  mkdir -p "$ROOT/xt"
  KVER=$(ls "$ROOT/lib/modules" | sort -V | tail -1)
  cp "$ROOT/boot/vmlinuz-$KVER" "$CACHE/vmlinuz"
  cp "$ROOT/boot/initrd.img-$KVER" "$CACHE/initrd.img"
  gunzip -c "$(ls "$ROOT"/boot/xen-4.17*-amd64.gz | sort -V | tail -1)" > "$CACHE/xen"
  echo "$KVER" > "$CACHE/kernel-version"
  chroot "$ROOT" dpkg-query -W > "$CACHE/rootfs-packages.txt"
  rm -f "$CACHE/rootfs.ext4.new"
  mkfs.ext4 -q -L xt-root -d "$ROOT" "$CACHE/rootfs.ext4.new" 3G
  mv "$CACHE/rootfs.ext4.new" "$CACHE/rootfs.ext4"
  echo "$KEY" > "$CACHE/key"
  say "images built (kernel $KVER)"
else
  say "images cached in $CACHE (kernel $(cat "$CACHE/kernel-version"))"
fi
