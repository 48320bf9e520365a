#!/bin/bash
# PID 1 of a test guest (via xt-init, xt.role=domu). Root: the cached image, read-only (xvdb);
# this script comes from the run's project disk (xvdc). The guest obeys dom0: dom0 writes
# "<n> <command> <args>" to /local/domain/<us>/data/xt-cmd, we run it, print its output on the
# console (hvc0, which dom0 collects) and answer "<n> <rc>" in data/xt-rc.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C
mountpoint -q /run || mount -t tmpfs run /run
mount -t tmpfs tmp /tmp
say() { echo "XT-DOMU $*"; }
XS=data
say "init kernel=$(uname -r) cpus=$(nproc) mem=$(awk '/MemTotal/{print $2" kB"}' /proc/meminfo)"
for i in $(seq 1 100); do xenstore-read domid >/dev/null 2>&1 && break; sleep 0.1; done
say "domid=$(xenstore-read domid 2>&1)"

# ---- commands ----
disk_info() {  # DEV
  local d=$1 q=/sys/block/$1/queue
  say "disk $d size=$(blockdev --getsize64 /dev/$d) hw_queues=$(ls /sys/block/$d/mq 2>/dev/null | wc -l)" \
      "max_sectors_kb=$(cat $q/max_sectors_kb) max_segments=$(cat $q/max_segments) nr_requests=$(cat $q/nr_requests)" \
      "discard_max_bytes=$(cat $q/discard_max_bytes) discard_granularity=$(cat $q/discard_granularity)" \
      "write_cache=$(cat $q/write_cache) fua=$(cat $q/fua 2>/dev/null) ro=$(cat /sys/block/$d/ro)"
}
cmd_wait_disk() {  # DEV [SECONDS]
  local t=$((SECONDS + ${2:-90}))
  while [ $SECONDS -lt $t ]; do [ -b /dev/$1 ] && [ "$(blockdev --getsize64 /dev/$1 2>/dev/null || echo 0)" != 0 ] && break; sleep 0.2; done
  [ -b /dev/$1 ] || { say "no /dev/$1"; return 1; }
  disk_info $1
}
cmd_wait_gone() {  # DEV
  local t=$((SECONDS + ${2:-90}))
  while [ $SECONDS -lt $t ]; do [ -e /sys/block/$1 ] || { say "/dev/$1 gone"; return 0; }; sleep 0.2; done
  say "/dev/$1 still there"; return 1
}
FIO="fio --direct=1 --ioengine=libaio --group_reporting --output-format=terse --terse-version=3"
fio_line() {  # name rc file: "name rc read_iops read_kBps write_iops write_kBps"
  # terse v3: 7 read bw KiB/s, 8 read iops, 48 write bw, 49 write iops
  awk -F';' -v n="$1" -v rc="$2" '$1=="3"{printf "fio %s rc=%s read_iops=%s read_kBps=%s write_iops=%s write_kBps=%s\n", n, rc, $8, $7, $49, $48}' "$3"
}
run_fio() {  # name args...
  local n=$1; shift
  $FIO --name=$n "$@" > /tmp/fio-$n.txt 2>/tmp/fio-$n.err; local rc=$?
  say "$(fio_line $n $rc /tmp/fio-$n.txt)"
  [ $rc = 0 ] || { sed 's/^/  fio-err: /' /tmp/fio-$n.err | tail -5; grep -i verify /tmp/fio-$n.txt | head -3; }
  return $rc
}
cmd_fio_verify() {  # DEV: random and sequential writes with crc32c verify, then reads
  local f=/dev/$1 rc=0
  run_fio randwrite-verify --filename=$f --rw=randwrite --bs=4k --iodepth=32 --offset=0 --size=16M \
    --verify=crc32c --do_verify=1 --verify_fatal=1 || rc=1
  run_fio seqwrite-verify --filename=$f --rw=write --bs=1M --iodepth=8 --offset=128M --size=64M \
    --verify=crc32c --do_verify=1 --verify_fatal=1 || rc=1
  run_fio randrw-verify --filename=$f --rw=randrw --bs=16k --iodepth=16 --offset=320M --size=8M \
    --verify=md5 --do_verify=1 --verify_fatal=1 || rc=1
  run_fio randread --filename=$f --rw=randread --bs=4k --iodepth=32 --offset=0 --size=16M --runtime=5 --time_based || rc=1
  run_fio seqread --filename=$f --rw=read --bs=1M --iodepth=8 --offset=128M --size=64M || rc=1
  return $rc
}
cmd_bench() {  # DEV SECONDS: the comparison workload
  local f=/dev/$1 s=${2:-10} rc=0
  run_fio bench-randwrite --filename=$f --rw=randwrite --bs=4k --iodepth=32 --size=256M --runtime=$s --time_based || rc=1
  run_fio bench-randread --filename=$f --rw=randread --bs=4k --iodepth=32 --size=256M --runtime=$s --time_based || rc=1
  run_fio bench-seqwrite --filename=$f --rw=write --bs=1M --iodepth=8 --size=256M --runtime=$s --time_based || rc=1
  run_fio bench-seqread --filename=$f --rw=read --bs=1M --iodepth=8 --size=256M --runtime=$s --time_based || rc=1
  return $rc
}
cmd_pattern() {  # DEV OFF_MIB COUNT_MIB: random data written and read back; prints its sha256
  local f=/dev/$1
  dd if=/dev/urandom of=/tmp/pattern bs=1M count=$3 status=none
  dd if=/tmp/pattern of=$f bs=1M seek=$2 oflag=direct conv=fsync status=none || return 1
  dd if=$f of=/tmp/readback bs=1M skip=$2 count=$3 iflag=direct status=none || return 1
  cmp -s /tmp/pattern /tmp/readback || { say "pattern read back differs"; return 1; }
  say "pattern sha256=$(sha256sum < /tmp/pattern | cut -d' ' -f1)"
  rm -f /tmp/pattern /tmp/readback
}
cmd_discard() {  # DEV OFF_MIB LEN_MIB
  blkdiscard -o $(($2 << 20)) -l $(($3 << 20)) /dev/$1 && say "blkdiscard ${3}MiB at ${2}MiB ok"
}
cmd_fstrim() {  # DEV: ext4 on it, a file written and removed, fstrim
  mkfs.ext4 -q -F -E nodiscard /dev/$1 || return 1
  mkdir -p /mnt/t && mount -o nodiscard /dev/$1 /mnt/t || return 1
  dd if=/dev/urandom of=/mnt/t/junk bs=1M count=96 conv=fsync status=none
  rm /mnt/t/junk; sync
  local out; out=$(fstrim -v /mnt/t 2>&1); local rc=$?
  say "fstrim: $out"
  umount /mnt/t; return $rc
}
cmd_sum() {  # DEV OFF_MIB COUNT_MIB: sha256 of a region
  say "sum sha256=$(dd if=/dev/$1 bs=1M skip=$2 count=$3 iflag=direct status=none | sha256sum | cut -d' ' -f1)"
}
cmd_size() { say "size $1=$(blockdev --getsize64 /dev/$1)"; }
cmd_wait_size() {  # DEV BYTES
  local t=$((SECONDS + 60))
  while [ $SECONDS -lt $t ]; do
    [ "$(cat /sys/block/$1/size 2>/dev/null)" = $(($2 / 512)) ] && { say "size $1=$2 (seen online)"; dmesg | grep -i "$1.*capacity\|$1.*size" | tail -2; return 0; }
    sleep 0.2
  done
  say "size $1 still $(($(cat /sys/block/$1/size) * 512)), wanted $2"; return 1
}
cmd_fio_bg() {  # DEV: endless verified random writes in the background
  $FIO --name=bg --filename=/dev/$1 --rw=randrw --bs=4k --iodepth=32 --size=256M --runtime=600 --time_based \
    > /tmp/fio-bg.txt 2>&1 &
  sleep 2; say "background fio pid $! running"
}
cmd_poweroff() { say "poweroff"; sync; echo o > /proc/sysrq-trigger; }

last=""
while :; do
  c=$(xenstore-read $XS/xt-cmd 2>/dev/null)
  if [ -n "$c" ] && [ "$c" != "$last" ]; then
    last=$c; set -- $c; n=$1; shift
    say "cmd $n: $* (uptime $(cut -d' ' -f1 /proc/uptime))"
    name=cmd_${1//-/_}; shift
    if declare -F $name >/dev/null; then $name "$@"; rc=$?; else say "unknown command"; rc=127; fi
    say "cmd $n rc=$rc"
    xenstore-write $XS/xt-rc "$n $rc"
  fi
  sleep 0.2
done
