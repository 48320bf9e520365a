#!/bin/bash
# SPDK on a PCIe NVMe drive, which these machines lack: a QEMU guest (the real-Xen tier's Debian
# image and kernel, no Xen; TCG, as KVM guests hang here) with QEMU's emulated NVMe controller, running this machine's own tree
# (spdk-init.sh), where the SR test spec/sim/spdk-pcie.test.ts drives the drive through SPDK's
# user-space NVMe driver: uio, hugepages, DMA from our buffers, and NVMe Flush commands, which
# QEMU's trace shows reaching the controller. Run as root from the checkout, after `make all`:
#   bash spec/spdk-pcie/run.sh          (or: make test-spdk-pcie)
# Needs xenblkd-spdk (an installed SPDK, docs/spdk.md) and the tier's image (built here
# if missing: spec/xen/build-images.sh). Exits 0 only if the suite passed and flushes were seen.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${XEN_CACHE:-/var/cache/xapi-storage-spdk-xen}
TIMEOUT=${TIMEOUT:-1800}
PCI=0000:00:04.0   # the NVMe controller's slot below
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
[ -x "$REPO/native/build/xenblkd-spdk" ] || { echo "spdk-pcie: no xenblkd-spdk (SPDK not installed): skipped"; exit 0; }
bash "$REPO/spec/xen/build-images.sh" || { echo "image build failed" >&2; exit 2; }

RUN=$(mktemp -d /tmp/spdk-pcie.XXXXXX)
QPID=""
cleanup() {
  [ -n "$QPID" ] && kill "$QPID" 2>/dev/null
  rm -f "$RUN/project.ext4" "$RUN/nvme.img"
}
trap cleanup EXIT
mkdir -p "$RUN/stage/spec"
install -m 755 "$HERE/spdk-init.sh" "$RUN/stage/spec/spdk-init.sh"
mkfs.ext4 -q -L xt-project -d "$RUN/stage" "$RUN/project.ext4" 16M || exit 2
truncate -s 2G "$RUN/nvme.img"

# KVM where it works (ACCEL=kvm); on these machines a KVM guest prints nothing: TCG by default.
if [ "${ACCEL:-tcg}" = kvm ]; then ACCEL=(-accel kvm -cpu host,-arch-capabilities); else ACCEL=(-accel tcg,thread=multi -cpu max); fi
# vda: the image (a snapshot), vdb: unused, vdc: the project disk xt-init looks for.
QEMU=(qemu-system-x86_64 -machine q35 "${ACCEL[@]}" -m 6G -smp 2 -display none -serial stdio -no-reboot
  -kernel "$CACHE/vmlinuz" -initrd "$CACHE/initrd.img"
  -append "root=/dev/vda rw console=ttyS0 init=/usr/local/sbin/xt-init xt.role=spdk xt.pci=$PCI xt.repo=$REPO xt.test=spec/sim/spdk-pcie.test.ts"
  -drive "file=$CACHE/rootfs.ext4,if=virtio,format=raw,snapshot=on"
  -drive "file=$CACHE/rootfs.ext4,if=virtio,format=raw,readonly=on"
  -drive "file=$RUN/project.ext4,if=virtio,format=raw,readonly=on"
  -virtfs "local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap"
  -drive "file=$RUN/nvme.img,if=none,id=nvm,format=raw,cache=writeback"
  -device "nvme,drive=nvm,serial=XAPISPDK1,addr=04.0"
  -trace "enable=pci_nvme_io_cmd,file=$RUN/nvme-trace.log")
echo "spdk-pcie: booting a guest with an NVMe controller at $PCI (log: $RUN/console.log)"
timeout --foreground -k 10 "$TIMEOUT" "${QEMU[@]}" < /dev/null > "$RUN/console.log" 2>&1 &
QPID=$!
wait "$QPID"; QPID=""
grep -a "SPDK-PCIE\|PCIe NVMe:\|Tests:\|✓\|✕\|●" "$RUN/console.log" | sed 's/^/  /'
rc=$(sed -n 's/.*SPDK-PCIE-RESULT \([0-9]*\).*/\1/p' "$RUN/console.log" | tail -1)
flushes=$(grep -ac "NVME_NVM_CMD_FLUSH" "$RUN/nvme-trace.log" 2>/dev/null)
writes=$(grep -ac "NVME_NVM_CMD_WRITE" "$RUN/nvme-trace.log" 2>/dev/null)
echo "spdk-pcie: the controller saw ${writes:-0} writes and ${flushes:-0} flushes"
[ "${rc:-x}" = 0 ] || { echo "spdk-pcie: FAILED (suite: ${rc:-no result}; console: $RUN/console.log)"; exit 1; }
[ "${flushes:-0}" -gt 0 ] || { echo "spdk-pcie: FAILED: no NVMe Flush reached the controller"; exit 1; }
echo "spdk-pcie: passed"
rm -rf "$RUN"
