#!/bin/sh
# Installs what the project needs on Debian 12, as root: Debian packages that
# are missing, then the npm packages from the lock file. Safe to run again.
set -eu
cd "$(dirname "$0")/.."

# Tools the plugins call at run time, and what builds, tests and benchmarks (fio) need.
PACKAGES="xfsprogs e2fsprogs util-linux coreutils make python3 gcc libc6-dev pkg-config libxen-dev liburing-dev libjansson-dev zlib1g-dev xenstore-utils qemu-utils libnbd-bin clang-14 libclang-rt-14-dev fio"

missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if ! command -v node >/dev/null 2>&1; then missing="$missing nodejs npm"; fi
if [ -n "$missing" ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "setup: need root to install:$missing" >&2; exit 1; fi
  echo "setup: installing Debian packages:$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "setup: Node.js $major found; this project needs Node.js 20" >&2
  exit 1
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi
