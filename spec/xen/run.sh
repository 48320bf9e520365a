#!/bin/bash
# The real-Xen tier: our plugins and xenblkd in a Debian dom0 on Xen 4.17 inside QEMU (TCG),
# against the xen-blkfront of running PV guests. Run as root from the checkout:
#   bash spec/xen/run.sh                   (or: make test-xen / make test-xen-quick)
# Knobs: CASES (comma list, default all: plug,features,fio,discard,resize,replug,two,destroy,compare;
# plug/features/fio always run), XEN_CACHE (images, default /var/cache/xapi-storage-spdk-xen),
# XEN_RUN_DIR (logs; default a new folder under $XEN_CACHE/runs), TIMEOUT (whole run, s),
# SILENCE (s without console output = hang), MEM (QEMU memory), CMP_SECONDS (per comparison job).
# Prints a table; exits 0 only if every case passed.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${XEN_CACHE:-/var/cache/xapi-storage-spdk-xen}
CASES=${CASES:-plug,features,fio,discard,resize,replug,two,destroy,compare}
TIMEOUT=${TIMEOUT:-1500}
SILENCE=${SILENCE:-240}
MEM=${MEM:-6G}
CMP_SECONDS=${CMP_SECONDS:-8}
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
T0=$SECONDS
say() { echo "[xen-tier +$((SECONDS - T0))s] $*"; }

bash "$HERE/build-images.sh" || { echo "image build failed" >&2; exit 2; }

RUN=${XEN_RUN_DIR:-$CACHE/runs/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RUN"
# only the last 5 runs' logs are kept
ls -1dt "$CACHE"/runs/*/ 2>/dev/null | tail -n +6 | xargs -r rm -rf
STAGE=$(mktemp -d /tmp/xt-stage.XXXXXX)
QPID=""
cleanup() {
  if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then kill "$QPID" 2>/dev/null; sleep 1; kill -9 "$QPID" 2>/dev/null; fi
  [ -s "$RUN/qemu.pid" ] && kill -9 "$(cat "$RUN/qemu.pid")" 2>/dev/null
  rm -rf "$STAGE"
  rm -f "$RUN/project.ext4" "$RUN/scratch.img"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the project's build, as `make install` lays it out, plus node 20, on a small disk ----
say "building the project"
make -C "$REPO" all > "$RUN/make.log" 2>&1 || { tail -30 "$RUN/make.log"; exit 2; }
make -C "$REPO" install DESTDIR="$STAGE/root" >> "$RUN/make.log" 2>&1 || { tail -30 "$RUN/make.log"; exit 2; }
install -D -m 755 "$(readlink -f "$(command -v node)")" "$STAGE/root/usr/local/bin/node"
# xenopsd's part (the qdisk VBD's xenstore entries, the hotplug wait, the unplug): the
# toolstack stand-in the simulator tests use, on the real xenstored here
install -D -m 755 "$REPO/native/build/xensim-toolstack" "$STAGE/root/usr/local/bin/xenopsd-vbd"
install -D -m 755 "$HERE/dom0-init.sh" "$STAGE/spec/dom0-init.sh"
install -D -m 755 "$HERE/domu-init.sh" "$STAGE/spec/domu-init.sh"
mkfs.ext4 -q -L xt-project -d "$STAGE" "$RUN/project.ext4" 512M || exit 2
truncate -s 6G "$RUN/scratch.img"   # dom0 /dev/vdd: the SR's filesystem

# ---- boot ----
CMDL_CASES=${CASES//,/:}   # QEMU -initrd splits its argument on commas
XEN_APPEND="dom0_mem=2048M,max:2048M dom0_max_vcpus=2 console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all noreboot smap=0"
DOM0_CMD="root=/dev/vda rw console=hvc0 earlyprintk=xen init=/usr/local/sbin/xt-init xt.role=dom0 xt.cases=$CMDL_CASES xt.cmp_seconds=$CMP_SECONDS"
# TCG only (KVM here cannot run Xen); -xsave and smap=0 are needed under TCG (see README)
QEMU=(qemu-system-x86_64 -machine q35 -accel tcg,thread=multi -cpu max,-xsave -m "$MEM" -smp 2
  -display none -monitor "unix:$RUN/monitor.sock,server=on,wait=off" -serial stdio -no-reboot
  -pidfile "$RUN/qemu.pid"
  -kernel "$CACHE/xen" -append "$XEN_APPEND"
  -initrd "$CACHE/vmlinuz $DOM0_CMD,$CACHE/initrd.img"
  -drive "file=$CACHE/rootfs.ext4,if=virtio,format=raw,snapshot=on"
  -drive "file=$CACHE/rootfs.ext4,if=virtio,format=raw,readonly=on"
  -drive "file=$RUN/project.ext4,if=virtio,format=raw,readonly=on"
  -drive "file=$RUN/scratch.img,if=virtio,format=raw,cache=none,aio=native")
printf '%q ' "${QEMU[@]}" > "$RUN/qemu-cmdline.txt"
say "booting Xen + dom0 (cases: $CASES; log: $RUN/serial.log)"

# Console lines get the seconds since boot; milestones are echoed live. A silent console for
# $SILENCE s or a dead dom0 stops QEMU; so does the overall $TIMEOUT.
START=$SECONDS
coproc QEMU_CO { exec timeout --foreground -k 10 "$TIMEOUT" "${QEMU[@]}" < /dev/null 2>&1; }
QPID=$QEMU_CO_PID
exec {QFD}<&"${QEMU_CO[0]}"   # bash drops QEMU_CO when the coprocess ends: keep our own fd
STOPPED=""
stop_qemu() { STOPPED=$1; echo "[xen-tier] stopping QEMU: $1" | tee -a "$RUN/serial.log"; kill "$(cat "$RUN/qemu.pid" 2>/dev/null)" 2>/dev/null; }
: > "$RUN/serial.log"
while :; do
  IFS= read -r -t "$SILENCE" line <&$QFD; rc=$?
  if [ $rc -gt 128 ]; then
    printf 'info registers -a\n' | timeout 5 socat - "UNIX-CONNECT:$RUN/monitor.sock" > "$RUN/hang-registers.txt" 2>&1
    stop_qemu "no console output for ${SILENCE}s (registers in $RUN/hang-registers.txt)"; continue
  fi
  [ $rc -ne 0 ] && [ -z "$line" ] && break
  line=${line//$'\r'/}
  printf '[%4ds] %s\n' $((SECONDS - START)) "$line" >> "$RUN/serial.log"
  case $line in
    XT-CASE*|XT-CMP*|XT-MARK*|XT-END*|*"XT: FAIL"*|*"Kernel panic"*|*"(XEN) Panic"*|*segfault*|*"traps:"*)
      printf '[xen-tier +%ds] %s\n' $((SECONDS - T0)) "$line" ;;
  esac
  case $line in
    "[g"*) ;;   # a guest's console, as dom0 prints it: dom0 judges those
    *"Hardware Dom0 crashed"*|*"(XEN) Reboot in five seconds"*|*"(XEN) Manual reset required"*|*"Kernel panic - not syncing"*)
      sleep 2; stop_qemu "crash: $line" ;;
  esac
done
wait "$QPID"; qrc=$?; QPID=""
say "QEMU exited ($qrc; 124 = whole-run timeout ${TIMEOUT}s)"

# ---- table ----
LOG=$RUN/serial.log
fails=0
printf '\n%-10s %-6s %8s  %s\n' case result seconds detail | tee "$RUN/results.txt"
printf '%-10s %-6s %8s  %s\n' ---------- ------ -------- ------ | tee -a "$RUN/results.txt"
expected="setup,plug,features,fio,${CASES},teardown"
seen=" "
while read -r _ _ name res secs detail; do
  [[ $seen == *" $name "* ]] && continue; seen+="$name "
  printf '%-10s %-6s %8s  %s\n' "$name" "$res" "$secs" "$detail" | tee -a "$RUN/results.txt"
  [ "$res" = PASS ] || fails=$((fails + 1))
done < <(sed -n 's/^\[ *[0-9]*s\] \(XT-CASE .*\)/x \1/p' "$LOG")
for c in ${expected//,/ }; do
  [ "$c" = setup ] && continue
  [[ $seen == *" $c "* ]] && continue
  printf '%-10s %-6s %8s  %s\n' "$c" "MISSING" "-" "did not run (see $LOG)" | tee -a "$RUN/results.txt"
  fails=$((fails + 1)); seen+="$c "
done
if grep -q 'XT-CMP' "$LOG"; then
  echo | tee -a "$RUN/results.txt"
  echo "same fio workload in the same guest (4k QD32 IOPS, 1M QD8 KiB/s), ratios xenblkd/other:" | tee -a "$RUN/results.txt"
  sed -n 's/^\[ *[0-9]*s\] XT-CMP /  /p' "$LOG" | tee -a "$RUN/results.txt"
fi
if ! grep -q 'XT-END' "$LOG"; then
  echo "dom0 did not finish (${STOPPED:-QEMU exit $qrc}); last console lines:" | tee -a "$RUN/results.txt"
  tail -n 15 "$LOG" | cut -c1-240
  fails=$((fails + 1))
fi
say "total ${SECONDS}s, $fails failure(s); logs in $RUN"
[ $fails = 0 ]
