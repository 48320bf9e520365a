#!/bin/bash
# PID 1 (through the image's xt-init, xt.role=spdk) of the VM that gives SPDK a PCIe NVMe drive
# (QEMU's emulated NVMe controller): this machine's own file tree, read-only over 9p with a
# writable layer in memory, so the project, node and the SPDK installation are the host's; then
# the drive handed to user space and the jest suite spec/sim/spdk-pcie.test.ts run against it.
# Its result line, SPDK-PCIE-RESULT <rc>, is what run.sh reads from the console.
set -u
say() { echo "SPDK-PCIE: $*"; }
finish() { echo "SPDK-PCIE-RESULT $1"; sync; echo o > /proc/sysrq-trigger; sleep 30; }
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^$1=//p" | tail -1; }
PCI=$(arg xt.pci)
TEST=$(arg xt.test)

modprobe 9pnet_virtio && modprobe 9p && modprobe overlay || { say "no 9p/overlay modules"; finish 2; }
mkdir -p /host /layer /merged
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose hostroot /host || { say "cannot mount the host's tree"; finish 2; }
mount -t tmpfs -o size=3G tmpfs /layer && mkdir -p /layer/up /layer/work
mount -t overlay overlay -o lowerdir=/host,upperdir=/layer/up,workdir=/layer/work /merged || { say "overlay failed"; finish 2; }
mount -t proc proc /merged/proc && mount -t sysfs sys /merged/sys && mount -t devtmpfs dev /merged/dev ||
  { say "cannot mount proc, sys, dev in the merged tree"; finish 2; }
mount -t tmpfs tmpfs /merged/tmp
mount -t tmpfs tmpfs /merged/run
mkdir -p /merged/dev/hugepages /merged/dev/shm
mount -t hugetlbfs nodev /merged/dev/hugepages
mount -t tmpfs tmpfs /merged/dev/shm

# The drive: away from the kernel's nvme driver, to user space (no IOMMU in this VM: uio, physical addresses).
echo 1024 > /proc/sys/vm/nr_hugepages
say "hugepages: $(cat /proc/sys/vm/nr_hugepages) of 2 MiB"
modprobe uio_pci_generic || { say "no uio_pci_generic"; finish 2; }
[ -e /sys/bus/pci/devices/$PCI/driver ] && echo "$PCI" > /sys/bus/pci/devices/$PCI/driver/unbind
echo uio_pci_generic > /sys/bus/pci/devices/$PCI/driver_override
echo "$PCI" > /sys/bus/pci/drivers_probe
say "drive $PCI: $(basename "$(readlink /sys/bus/pci/devices/$PCI/driver)")"

ip link set lo up 2>/dev/null
# What SPDK's own tool makes of the drive, where the installation has it (evidence in the log).
IDENTIFY=$(chroot /merged sh -c 'for d in /opt/spdk /usr/local; do [ -x $d/bin/spdk_nvme_identify ] && echo $d && break; done')
if [ -n "$IDENTIFY" ]; then
  say "spdk_nvme_identify:"
  chroot /merged env LD_LIBRARY_PATH=$IDENTIFY/lib $IDENTIFY/bin/spdk_nvme_identify -r "trtype:PCIe traddr:$PCI" 2>&1 | grep -a -i -E "error|fail|Model Number|Volatile Write Cache|Namespace ID:1|Size \(in LBAs\)|EAL" | head -20 | sed 's/^/  /'
fi
say "running $TEST"
chroot /merged /bin/bash -c "cd '$(arg xt.repo)' && XAPI_SPDK_TEST_NVME_PCI='$PCI' HOME=/root node_modules/.bin/jest --ci --runInBand '$TEST' 2>&1"
rc=$?
say "jest exited $rc"
finish $rc
