// An SPDK SR on a PCIe NVMe drive: SPDK's user-space NVMe driver owns the
// controller (uio, hugepages, DMA from the daemon's buffers). These machines
// have no such drive, so this runs only inside the KVM guest of
// spec/spdk-pcie/run.sh (`make test-spdk-pcie`), which gives it QEMU's
// emulated NVMe controller at XAPI_SPDK_TEST_NVME_PCI and checks from QEMU's
// trace that NVMe Flush commands reached it.
import * as fs from 'node:fs';
import { T } from '../harness/rpclib';
import { bin } from '../harness/sim';
import { destroyAndDetach, MiB, snapshotCloneRun } from '../harness/spdk-sr';
import { XapiSim } from '../harness/xapi';

const PCI = process.env.XAPI_SPDK_TEST_NVME_PCI;
const RUN = PCI !== undefined && fs.existsSync(bin('xenblkd-spdk'));
if (!RUN) console.log('the PCIe NVMe SR test runs inside spec/spdk-pcie/run.sh (make test-spdk-pcie): skipped here');

(RUN ? describe : describe.skip)('an SPDK SR on a PCIe NVMe drive', () => {
  test('sr-create on the drive, a VM with verified I/O and flushes, snapshot and clone, then everything gone', async () => {
    const x = await XapiSim.start('spdk-pcie-', () => ({ nvme: PCI! }));
    try {
      expect(x.host.call<any>('volume', 'SR.stat', { dbg: 'test', sr: x.sr }, T.srStat).total_space).toBeGreaterThan(1024 * MiB);
      const run = await snapshotCloneRun(x, { domid: 41, size: 256 * MiB, verified: 128 * MiB, workload: ['--rw', 'randrw', '--bs', '64k', '--iodepth', '16', '--ios', '4000', '--queues', '2', '--flush-every', '50'] });
      console.log(`PCIe NVMe: ${JSON.stringify({ iops: Math.round(run.summary.iops), mb_s: run.summary.mb_s })}`);
      destroyAndDetach(x, run);
    } finally {
      await x.stop();
    }
  }, 300_000);
});
