#!/bin/bash
# PID 1 of dom0 (via xt-init, xt.role=dom0), from the run's project disk mounted on /xt.
# Brings Xen's toolstack up by hand (what Debian's /etc/init.d/xen does, minus the dom0 QEMU that
# would serve qdisk entries), installs the project's build as on an XCP-ng host, then plays xapi
# (plugin calls) and xenopsd (the xenstore entries of a qdisk VBD) for the cases named by
# xt.cases=a,b,c. Results: "XT-CASE <name> PASS|FAIL <seconds> <detail>" lines on the console,
# then "XT-END", then power off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/lib/xen-4.17/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C
exec 2>&1
up() { cut -d' ' -f1 /proc/uptime; }
say() { echo "XT: $*"; }
section() { echo; echo "======== $* ========"; }
param() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^$1=//p" | tail -1; }
poweroff_now() { echo "XT-END dom0_uptime=$(up)"; sync; sleep 1; echo o > /proc/sysrq-trigger; sleep 30; }
trap poweroff_now EXIT

mountpoint -q /run || mount -t tmpfs -o mode=755 run /run
mount -o remount,rw / 2>/dev/null
mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts; mount -t tmpfs shm /dev/shm
mount -t tmpfs tmp /tmp
ln -sfn /run /var/run 2>/dev/null
hostname xt-dom0; ip link set lo up
echo "XT-MARK dom0-init uptime=$(up)"

CASES=$(param xt.cases); CASES=${CASES:-fio}
CASE_LIST=" ${CASES//[,:]/ } "
want() { [[ $CASE_LIST == *" $1 "* ]]; }

section "modules and toolstack"
for m in xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xen-blkback loop; do
  modprobe $m || say "modprobe $m FAILED"
done
mount -t xenfs xenfs /proc/xen
mkdir -p -m 700 /run/xen; mkdir -p /run/xenstored /var/log/xen/console /var/lib/xen
export XENSTORED_ROOTDIR=/run/xenstored
oxenstored --pid-file /run/xenstore.pid
for i in $(seq 1 300); do xenstore-read -s / >/dev/null 2>&1 && break; sleep 0.1; done
xen-init-dom0 >/dev/null && say "xen-init-dom0 ok"
xenconsoled --log=guest --log-dir=/var/log/xen/console --pid-file=/run/xenconsoled.pid
ls /dev/xen/
echo "XT-MARK dom0-ready uptime=$(up)"

section "install the project's build (as make install DESTDIR=/ on a host)"
cp -a /xt/root/. / || say "copy of the build FAILED"
say "node $(node --version 2>&1), xenblkd $(ls -l /usr/lib/xapi-storage-spdk/xenblkd | awk '{print $5}') bytes"
VOL=/usr/libexec/xapi-storage-script/volume/org.xen.xapi.storage.spdk
DP=/usr/libexec/xapi-storage-script/datapath/spdk
ls $VOL | tr '\n' ' '; echo; ls $DP | tr '\n' ' '; echo
unset XAPI_SPDK_PLATFORM

section "storage"
mkfs.ext4 -q -F -L xt-scratch /dev/vdd && mkdir -p /srv && mount /dev/vdd /srv && mkdir -p /srv/sr
df -h /srv
echo "XT-MARK storage-ready uptime=$(up)"

# ---------------------------------------------------------------- results
case_result() {  # name PASS|FAIL seconds detail...
  local n=$1 r=$2 s=$3; shift 3
  echo "XT-CASE $n $r $s $*"
}
case_begin() { section "CASE $1"; CASE_T0=$SECONDS; CASE_ERR=""; echo "XT-MARK case-$1 uptime=$(up)"; }
fail() { say "FAIL: $*"; CASE_ERR="${CASE_ERR:+$CASE_ERR; }$*"; }
case_end() {  # name detail
  if [ -z "$CASE_ERR" ]; then case_result $1 PASS $((SECONDS - CASE_T0)) "${2:-}"
  else case_result $1 FAIL $((SECONDS - CASE_T0)) "$CASE_ERR"; fi
}

# ---------------------------------------------------------------- xapi: plugin calls
# call volume|datapath Method JSON: the executable with --json, the argument object on stdin
call() {
  local dir=$VOL; [ $1 = datapath ] && dir=$DP
  local out rc
  out=$(printf '%s' "$3" | timeout 120 $dir/$2 --json 2>/tmp/call.err); rc=$?
  echo "$out" > /tmp/call.out
  if [ $rc != 0 ] || ! printf '%s' "$out" | node -e 'const r=JSON.parse(require("fs").readFileSync(0,"utf8")); process.exit(r && r.ErrorDescription ? 1 : 0)' 2>/dev/null; then
    say "$2 failed (rc $rc): $out $(tail -3 /tmp/call.err)" >&2; return 1
  fi
  printf '%s' "$out"
}
# js 'expression of r' < json
js() { node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8')); const v=($1); process.stdout.write(typeof v==='string'?v:JSON.stringify(v))"; }

SR=""
sr_setup() {
  local cfg
  cfg=$(call volume SR.create '{"dbg":"xt","uuid":"5a0e0000-0000-4000-8000-00000000000a","configuration":{"path":"/srv/sr"},"name":"xt","description":"real-Xen tier"}') || return 1
  SR=$(call volume SR.attach "{\"dbg\":\"xt\",\"configuration\":$cfg}" | js r) || return 1
  say "SR attached: $SR"
}
declare -A VKEY VURI VFILE
vol_create() {  # name size
  local v
  v=$(call volume Volume.create "{\"dbg\":\"xt\",\"sr\":\"$SR\",\"name\":\"$1\",\"description\":\"xt\",\"size\":$2,\"sharable\":false}") || return 1
  VKEY[$1]=$(echo "$v" | js r.key); VURI[$1]=$(echo "$v" | js 'r.uri[0]')
  VFILE[$1]=${VURI[$1]#spdk://file}
  say "volume $1: key=${VKEY[$1]} uri=${VURI[$1]} file=${VFILE[$1]}"
}
# VBD.plug: Datapath.attach + activate (xapi), then the xenstore entries (xenopsd)
declare -A PLUGGED
vbd_plug() {  # name domid devid
  local n=$1 d=$2 dev=$3 a params nbd disk
  a=$(call datapath Datapath.attach "{\"dbg\":\"xt\",\"uri\":\"${VURI[$n]}\",\"domain\":\"$d\"}") || return 1
  say "Datapath.attach -> $a"
  params=$(echo "$a" | js 'r.implementations.find(i=>i[0]==="XenDisk")[1].params')
  disk=$(echo "$a" | js 'r.implementations.find(i=>i[0]==="XenDisk")[1].extra["xenblkd-disk"]')
  nbd=$(echo "$a" | js 'r.implementations.find(i=>i[0]==="Nbd")[1].uri')
  call datapath Datapath.activate "{\"dbg\":\"xt\",\"uri\":\"${VURI[$n]}\",\"domain\":\"$d\"}" >/dev/null || return 1
  local t0=$SECONDS
  # xenopsd's Device.Vbd.add for a qdisk (both directories in one transaction), then it waits
  # for hotplug-status=connected: the project's own xenopsd stand-in does exactly that
  xenopsd-vbd --timeout 60 add-vbd $d $dev --kind qdisk --mode w --params "$nbd" \
    --backend-key "qemu-params=$params" --backend-key "sm-data/xenblkd-disk=$disk" \
    --backend-key "sm-data/backend-kind=qdisk" --wait-hotplug || { say "add-vbd rc=$?"; return 1; }
  say "hotplug-status=connected after $((SECONDS - t0)) s"
  PLUGGED[$n]="$d $dev"
}
vbd_unplug() {  # name [hard]
  local n=$1 d dev; read -r d dev <<< "${PLUGGED[$n]}"
  xenopsd-vbd --timeout 60 remove-vbd $d $dev --kind qdisk; local rc=$?
  [ $rc = 0 ] || say "remove-vbd rc=$rc"
  call datapath Datapath.deactivate "{\"dbg\":\"xt\",\"uri\":\"${VURI[$n]}\",\"domain\":\"$d\"}" >/dev/null || rc=1
  call datapath Datapath.detach "{\"dbg\":\"xt\",\"uri\":\"${VURI[$n]}\",\"domain\":\"$d\"}" >/dev/null || rc=1
  unset "PLUGGED[$n]"
  return $rc
}
daemons() { pgrep -x xenblkd | wc -l; }

# ---------------------------------------------------------------- guests
KVER=$(uname -r)
declare -A GDOM GN GLINES
guest_start() {  # name
  local n=$1
  cat > /tmp/$n.cfg <<EOF
name = "$n"
type = "pv"
kernel = "/boot/vmlinuz-$KVER"
ramdisk = "/boot/initrd.img-$KVER"
extra = "root=/dev/xvdb ro console=hvc0 init=/usr/local/sbin/xt-init xt.role=domu xen_blkfront.max_ring_page_order=2"
memory = 768
vcpus = 2
disk = [ 'format=raw, vdev=xvdb, access=ro, target=/dev/vdb', 'format=raw, vdev=xvdc, access=ro, target=/dev/vdc' ]
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "destroy"
EOF
  local t0=$SECONDS
  xl create /tmp/$n.cfg > /tmp/$n.xl.log 2>&1 || { cat /tmp/$n.xl.log; say "xl create $n FAILED"; return 1; }
  GDOM[$n]=$(xl domid $n); GN[$n]=0; GLINES[$n]=0
  local log=/var/log/xen/console/guest-$n.log t=$((SECONDS + 240))
  while [ $SECONDS -lt $t ]; do
    grep -q 'XT-DOMU domid=' $log 2>/dev/null && break
    xl domid $n >/dev/null 2>&1 || break
    guest_log $n
    sleep 1
  done
  guest_log $n
  grep -q 'XT-DOMU domid=' $log 2>/dev/null || { say "guest $n did not come up"; return 1; }
  say "guest $n is domain ${GDOM[$n]}, ready after $((SECONDS - t0)) s"
}
guest_log() {  # print the guest's console lines not printed yet
  local log=/var/log/xen/console/guest-$1.log
  [ -e $log ] || return 0
  local total; total=$(wc -l < $log)
  if [ $total -gt ${GLINES[$1]} ]; then
    tail -n +$((GLINES[$1] + 1)) $log | head -n $((total - GLINES[$1])) | tr -d '\r' | grep -v '^\s*$' | sed "s/^/[$1] /"
    GLINES[$1]=$total
  fi
}
gsend() {  # name command args: start a command in the guest
  local n=$1; shift
  GN[$n]=$((GN[$n] + 1))
  xenstore-write /local/domain/${GDOM[$n]}/data/xt-cmd "${GN[$n]} $*"
}
gwait() {  # name [timeout]: wait for the last command's rc
  local n=$1 t=$((SECONDS + ${2:-300})) r beat=$SECONDS diag=""
  while [ $SECONDS -lt $t ]; do
    r=$(xenstore-read /local/domain/${GDOM[$n]}/data/xt-rc 2>/dev/null)
    if [ "${r% *}" = "${GN[$n]}" ]; then guest_log $n; return ${r#* }; fi
    xl domid $n >/dev/null 2>&1 || { guest_log $n; say "guest $n is gone"; return 99; }
    if [ $((SECONDS - beat)) -ge 30 ]; then  # a heartbeat for the host's silence watchdog
      beat=$SECONDS; guest_log $n; say "waiting for $n, command ${GN[$n]} ($((SECONDS - t + ${2:-300}))s)"
      # slow (fio verify takes about a minute here): show where the disks are, once
      [ -n "$diag" ] || [ $((SECONDS - t + ${2:-300})) -lt 120 ] || { diag=1; diagnose; }
    fi
    sleep 0.5
  done
  guest_log $n; say "guest $n: command ${GN[$n]} timed out"; return 98
}
diagnose() {  # the state of every plugged disk: xenstore, the daemons' logs
  local k d dev
  for k in "${!PLUGGED[@]}"; do
    read -r d dev <<< "${PLUGGED[$k]}"
    say "diagnose $k: backend state=$(xenstore-read /local/domain/0/backend/qdisk/$d/$dev/state 2>&1) frontend state=$(xenstore-read /local/domain/$d/device/vbd/$dev/state 2>&1)"
  done
  for f in /var/log/xenblkd/*.log; do [ -e "$f" ] && { echo "--- $f"; tail -n 15 "$f"; }; done
  ps -eo pid,stat,wchan:20,args | grep '[x]enblkd'
}
gdo() { local n=$1; shift; gsend $n "$@"; gwait $n; }
glast() { grep -a "XT-DOMU $2" /var/log/xen/console/guest-$1.log | tail -1 | tr -d '\r'; }

# ---------------------------------------------------------------- checks
DEVID_A=51760   # xvdd
DEVID_B=51776   # xvde
features() {  # name: what blkfront and xenblkd negotiated, from xenstore
  local d dev; read -r d dev <<< "${PLUGGED[$1]}"
  local be=/local/domain/0/backend/qdisk/$d/$dev fe=/local/domain/$d/device/vbd/$dev
  xenstore-ls -f $be | grep -v 'sm-data\|params'; xenstore-ls -f $fe
  local nq ro ind per pfe dis
  nq=$(xenstore-read $fe/multi-queue-num-queues 2>/dev/null || echo 1)
  ro=$(xenstore-read $fe/ring-page-order 2>/dev/null || echo 0)
  ind=$(xenstore-read $be/feature-max-indirect-segments 2>/dev/null || echo 0)
  per=$(xenstore-read $be/feature-persistent 2>/dev/null); pfe=$(xenstore-read $fe/feature-persistent 2>/dev/null)
  dis=$(xenstore-read $be/feature-discard 2>/dev/null)
  FEAT="queues=$nq/$(xenstore-read $be/multi-queue-max-queues 2>/dev/null) ring-order=$ro/$(xenstore-read $be/max-ring-page-order 2>/dev/null) indirect=$ind persistent=$per/$pfe discard=$dis flush=$(xenstore-read $be/feature-flush-cache 2>/dev/null) state=$(xenstore-read $be/state)/$(xenstore-read $fe/state)"
  say "negotiated: $FEAT"
  [ "$(xenstore-read $be/state)" = 4 ] && [ "$(xenstore-read $fe/state)" = 4 ] || fail "not Connected"
  [ "$nq" -ge 2 ] || fail "one queue only"
  [ "$ro" -ge 1 ] || fail "single-page ring"
  [ "$ind" -gt 11 ] || fail "no indirect segments"
  [ "$per" = 1 ] && [ "$pfe" = 1 ] || fail "persistent grants not negotiated"
  [ "$dis" = 1 ] || fail "no discard"
}
file_sum() {  # file off_mib count_mib
  dd if=$1 bs=1M skip=$2 count=$3 iflag=direct status=none | sha256sum | cut -d' ' -f1
}
alloc_mib() { echo $(( $(stat -c '%b*%B' $1) / 1048576 )); }

# ================================================================ the run
section "SR"
sr_setup || { case_result setup FAIL 0 "SR.create/attach failed"; exit 1; }
G1=g1; G2=g2
guest_start $G1 || { case_result setup FAIL 0 "guest $G1 did not start"; exit 1; }
vol_create a $((1024 << 20)) || { case_result setup FAIL 0 "Volume.create failed"; exit 1; }

# -------- plug into the running guest, negotiated features, verified fio
case_begin plug
if vbd_plug a ${GDOM[$G1]} $DEVID_A && gdo $G1 wait-disk xvdd; then :; else fail "plug: the guest's blkfront did not connect"; fi
say "daemons running: $(daemons)"; ps -eo pid,rss,args | grep '[x]enblkd'
case_end plug "hotplug-status + guest sees xvdd"
PLUG_OK=$([ -z "$CASE_ERR" ] && echo 1)

if [ -n "$PLUG_OK" ]; then
  case_begin features; features a; case_end features "$FEAT"
  case_begin fio
  gdo $G1 fio-verify xvdd || fail "fio verify failed in the guest"
  gdo $G1 pattern xvdd 700 32 || fail "pattern write/read-back failed"
  g=$(glast $G1 'pattern sha256' | sed 's/.*=//'); f=$(file_sum ${VFILE[a]} 700 32)
  [ -n "$g" ] && [ "$g" = "$f" ] || fail "guest bytes not in the backing file ($g vs $f)"
  case_end fio "$(glast $G1 'fio randread ' | grep -o 'read_iops=[0-9]*') 4k randread; guest bytes found in the backing file"
fi

if [ -n "$PLUG_OK" ] && want discard; then
  case_begin discard
  gdo $G1 pattern xvdd 512 64 || fail "pattern write failed"
  before=$(alloc_mib ${VFILE[a]})
  gdo $G1 discard xvdd 512 64 || fail "blkdiscard failed"
  after=$(alloc_mib ${VFILE[a]})
  zero=$(dd if=${VFILE[a]} bs=1M skip=512 count=64 status=none | cmp -s - <(head -c $((64 << 20)) /dev/zero) && echo zeros || echo data)
  say "backing file allocated ${before} MiB -> ${after} MiB, discarded range reads $zero"
  [ $((before - after)) -ge 60 ] || fail "no hole punched (${before} -> ${after} MiB)"
  [ $zero = zeros ] || fail "discarded range still holds data"
  case_end discard "blkdiscard 64 MiB: allocated ${before} -> ${after} MiB"
fi

if [ -n "$PLUG_OK" ] && want resize; then
  case_begin resize
  gdo $G1 size xvdd
  call volume Volume.resize "{\"dbg\":\"xt\",\"sr\":\"$SR\",\"key\":\"${VKEY[a]}\",\"new_size\":$((1536 << 20))}" >/dev/null || fail "Volume.resize failed"
  say "backend sectors=$(xenstore-read /local/domain/0/backend/qdisk/${GDOM[$G1]}/$DEVID_A/sectors)"
  gdo $G1 wait-size xvdd $((1536 << 20)) || fail "the guest did not see the new size"
  gdo $G1 pattern xvdd 1400 32 || fail "I/O past the old end failed"
  case_end resize "1 GiB -> 1.5 GiB seen online by the guest"
fi

if [ -n "$PLUG_OK" ] && want replug; then
  case_begin replug
  before=$(file_sum ${VFILE[a]} 700 32)
  vbd_unplug a || fail "unplug not clean"
  gdo $G1 wait-gone xvdd || fail "the guest still has xvdd"
  sleep 1; [ "$(daemons)" = 0 ] || fail "daemon still running after detach"
  xenstore-read /local/domain/0/backend/qdisk/${GDOM[$G1]}/$DEVID_A/state 2>/dev/null && fail "backend dir left"
  vbd_plug a ${GDOM[$G1]} $DEVID_A || fail "plug again failed"
  gdo $G1 wait-disk xvdd || fail "the guest did not get xvdd back"
  gdo $G1 sum xvdd 700 32; g=$(glast $G1 'sum sha256' | sed 's/.*=//')
  [ "$g" = "$before" ] || fail "data changed across unplug/plug"
  gdo $G1 fio-verify xvdd || fail "fio verify after replug failed"
  case_end replug "unplug (daemon exits), plug again, data intact, fio verify"
fi

if [ -n "$PLUG_OK" ] && { want two || want destroy; }; then
  guest_start $G2 || fail "guest $G2 did not start"
  vol_create b $((1024 << 20))
fi
if [ -n "$PLUG_OK" ] && want two && [ -n "${GDOM[$G2]:-}" ]; then
  case_begin two
  vbd_plug b ${GDOM[$G2]} $DEVID_A && gdo $G2 wait-disk xvdd || fail "plug into $G2 failed"
  say "daemons running: $(daemons)"
  gsend $G1 fio-verify xvdd; gsend $G2 fio-verify xvdd
  gwait $G1 || fail "fio verify in $G1 failed"
  gwait $G2 || fail "fio verify in $G2 failed"
  case_end two "two guests, a disk each, verified fio at the same time ($(daemons) daemons)"
fi

if [ -n "$PLUG_OK" ] && want destroy && [ -n "${GDOM[$G2]:-}" ]; then
  case_begin destroy
  [ -n "${PLUGGED[b]:-}" ] || { vbd_plug b ${GDOM[$G2]} $DEVID_A && gdo $G2 wait-disk xvdd; } || fail "plug into $G2 failed"
  gdo $G2 fio-bg xvdd; sleep 5
  n0=$(daemons)
  xl destroy $G2; say "xl destroy $G2 done"
  vbd_unplug b || say "(unplug of a destroyed guest's disk reported a timeout)"
  sleep 2
  [ "$(daemons)" = $((n0 - 1)) ] || fail "the daemon of the destroyed guest's disk did not exit ($(daemons) running, $n0 before)"
  xenstore-ls /local/domain/0/backend/qdisk/${GDOM[$G2]} 2>/dev/null && fail "backend dir left"
  # the other guest's disk still serves
  gdo $G1 pattern xvdd 800 16 || fail "$G1's disk broken after $G2's destruction"
  case_end destroy "guest destroyed under fio: its daemon exits, the other disk still serves"
fi

if [ -n "$PLUG_OK" ] && want compare; then
  case_begin compare
  CMP_S=$(param xt.cmp_seconds); CMP_S=${CMP_S:-8}
  declare -A IOPS
  bench() {  # label dev
    gdo $G1 bench $2 $CMP_S || fail "bench on $1 failed"
    for w in randwrite randread; do IOPS[$1-$w]=$(glast $G1 "fio bench-$w " | grep -o "${w#rand}_iops=[0-9]*" | cut -d= -f2); done
    for w in seqwrite seqread; do IOPS[$1-$w]=$(glast $G1 "fio bench-$w " | grep -o "${w#seq}_kBps=[0-9]*" | cut -d= -f2); done
  }
  bench xenblkd xvdd
  truncate -s 1G /srv/cmp-blkback.img /srv/cmp-qdisk.img
  if xl block-attach $G1 "format=raw, vdev=xvde, access=rw, target=/srv/cmp-blkback.img" && gdo $G1 wait-disk xvde; then
    bench blkback xvde; xl block-detach $G1 xvde; gdo $G1 wait-gone xvde
  else fail "blkback attach failed"; fi
  # QEMU qdisk: xl cannot hot-plug a qdisk into a PV guest started without a device model, so
  # the toolstack part is played as for our disks (backend/qdisk entries, params aio:<file>) and
  # served by a QEMU for the guest (-xen-domid <g1>), what libxl starts for a PV guest with qdisk
  # disks. Debian's dom0 QEMU (-xen-domid 0) is started too, for this case only, to see what it
  # claims: our disk's entry must stay ours.
  QEMU_DM=/usr/libexec/xen-qemu-system-i386
  $QEMU_DM -xen-domid 0 -xen-attach -name dom0 -nographic -M xenpv -daemonize \
    -monitor none -serial none -parallel none -pidfile /run/qemu-dom0.pid && say "dom0 QEMU started"
  sleep 3
  xenopsd-vbd --timeout 60 add-vbd ${GDOM[$G1]} $DEVID_B --kind qdisk --mode w --params aio:/srv/cmp-qdisk.img \
    --backend-key device-type=disk || say "add-vbd (QEMU qdisk) rc=$?"
  q_be=/local/domain/0/backend/qdisk/${GDOM[$G1]}/$DEVID_B
  for i in $(seq 1 20); do [ "$(xenstore-read $q_be/state)" != 1 ] && break; sleep 0.5; done
  say "a guest's new qdisk entry with only the dom0 QEMU running: state=$(xenstore-read $q_be/state) after 10 s ($([ "$(xenstore-read $q_be/state)" = 1 ] && echo 'not claimed by the dom0 QEMU' || echo 'CLAIMED by the dom0 QEMU'))"
  $QEMU_DM -xen-domid ${GDOM[$G1]} -xen-attach -name $G1-dm -nographic -M xenpv -daemonize \
    -monitor none -serial none -parallel none -pidfile /run/qemu-$G1.pid && say "QEMU for $G1 started"
  if gdo $G1 wait-disk xvde 60; then
    xenstore-ls -f /local/domain/0/backend/qdisk/${GDOM[$G1]}/$DEVID_B | grep -v '^$' | head -30
    bench qdisk xvde
    xenopsd-vbd --timeout 60 remove-vbd ${GDOM[$G1]} $DEVID_B --kind qdisk || say "remove-vbd (QEMU qdisk) rc=$?"
    gdo $G1 wait-gone xvde
  else
    fail "QEMU qdisk: the guest got no xvde"
    xenstore-ls -f /local/domain/0/backend/qdisk/${GDOM[$G1]}/$DEVID_B
    xenopsd-vbd --timeout 20 remove-vbd ${GDOM[$G1]} $DEVID_B --kind qdisk
  fi
  # what the QEMUs did to our disk's entry: still ours, still connected, still serving
  a_be=/local/domain/0/backend/qdisk/${GDOM[$G1]}/$DEVID_A
  say "our entry after the QEMUs: state=$(xenstore-read $a_be/state) hotplug-status=$(xenstore-read $a_be/hotplug-status 2>&1) hotplug-error=$(xenstore-read $a_be/hotplug-error 2>&1)"
  [ "$(xenstore-read $a_be/state)" = 4 ] || fail "our disk's backend state changed while QEMU ran"
  gdo $G1 pattern xvdd 900 8 || fail "our disk broken while QEMU ran"
  for p in /run/qemu-$G1.pid /run/qemu-dom0.pid; do kill $(cat $p) 2>/dev/null; done
  sleep 1; say "QEMUs stopped ($(pgrep -c -f xen-qemu-system) left)"
  for w in randwrite randread seqwrite seqread; do
    x=${IOPS[xenblkd-$w]:-0} b=${IOPS[blkback-$w]:-0} q=${IOPS[qdisk-$w]:-0}
    unit=IOPS; [[ $w == seq* ]] && unit=KiB/s
    echo "XT-CMP $w $unit xenblkd=$x blkback=$b qdisk=$q vs_blkback=$(awk -v x=$x -v b=$b 'BEGIN{print (b>0 ? sprintf("%.2f", x/b) : "-")}') vs_qdisk=$(awk -v x=$x -v q=$q 'BEGIN{print (q>0 ? sprintf("%.2f", x/q) : "-")}')"
  done
  case_end compare "same workload on xenblkd, blkback, QEMU qdisk (see ratios)"
fi

# -------- teardown: every disk unplugged as xapi would, nothing left behind
case_begin teardown
for n in "${!PLUGGED[@]}"; do vbd_unplug $n || fail "unplug $n"; done
for n in "${!VKEY[@]}"; do call volume Volume.destroy "{\"dbg\":\"xt\",\"sr\":\"$SR\",\"key\":\"${VKEY[$n]}\"}" >/dev/null || fail "Volume.destroy $n"; done
call volume SR.detach "{\"dbg\":\"xt\",\"sr\":\"$SR\"}" >/dev/null || fail "SR.detach"
sleep 1
[ "$(daemons)" = 0 ] || fail "$(daemons) xenblkd left running"
left=$(ls /run/xapi-storage-spdk/datapath 2>/dev/null | tr '\n' ' ')
[ -z "$left" ] || fail "datapath state left: $left"
# every daemon started said "stopped" (a clean exit) and logged nothing above info
started=$(cat /var/log/xenblkd/*.log | grep -c ' info: serving on ')
stopped=$(cat /var/log/xenblkd/*.log | grep -c ' info: stopped$')
bad=$(cat /var/log/xenblkd/*.log | grep 'xenblkd\[' | grep -vc ' info: ')
say "daemons started $started, stopped cleanly $stopped, log lines above info: $bad"
[ "$started" = "$stopped" ] || fail "$((started - stopped)) daemon(s) did not stop cleanly"
[ "$bad" = 0 ] || { fail "$bad warning/error line(s) in the daemons' logs"; cat /var/log/xenblkd/*.log | grep 'xenblkd\[' | grep -v ' info: ' | head -20; }
case_end teardown "no daemon and no datapath state left; $started daemon(s) started, all stopped cleanly, no warning in their logs"
for g in $G1 $G2; do xl domid $g >/dev/null 2>&1 && { gsend $g poweroff; sleep 2; xl destroy $g 2>/dev/null; }; done

section "xenblkd logs"
for f in /var/log/xenblkd/*.log; do echo "--- $f"; tail -n 60 $f; done
section "plugin log"
tail -n 40 /var/log/xapi-storage-spdk.log 2>/dev/null
section "xl dmesg (warnings)"
xl dmesg | grep -iE 'warn|error|fail' | tail -10
exit 0
