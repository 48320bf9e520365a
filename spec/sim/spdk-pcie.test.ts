// An SPDK SR on a PCIe NVMe drive: SPDK's user-space NVMe driver owns the
// controller (uio, hugepages, DMA from the daemon's buffers). These machines
// have no such drive, so this runs only inside the KVM guest of
// spec/spdk-pcie/run.sh (`make test-spdk-pcie`), which gives it QEMU's
// emulated NVMe controller at XAPI_SPDK_TEST_NVME_PCI and checks from QEMU's
// trace that NVMe Flush commands reached it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { T } from '../harness/rpclib';
import type { Volume } from '../harness/fixtures';
import { bin } from '../harness/sim';
import { XapiSim } from '../harness/xapi';

const MiB = 1024 * 1024;
const PCI = process.env.XAPI_SPDK_TEST_NVME_PCI;
const RUN = PCI !== undefined && fs.existsSync(bin('xenblkd-spdk'));
if (!RUN) console.log('the PCIe NVMe SR test runs inside spec/spdk-pcie/run.sh (make test-spdk-pcie): skipped here');

(RUN ? describe : describe.skip)('an SPDK SR on a PCIe NVMe drive', () => {
  test('sr-create on the drive, a VM with verified I/O and flushes, snapshot and clone, then everything gone', async () => {
    const x = await XapiSim.start('spdk-pcie-', () => ({ nvme: PCI! }));
    try {
      const call = <R>(method: string, args: object, type = T.unit) => x.host.call<R>('volume', method, { dbg: 'test', sr: x.sr, ...args }, type);
      const sr = call<any>('SR.stat', {}, T.srStat);
      expect(sr.total_space).toBeGreaterThan(1024 * MiB);
      const vol = call<Volume>('Volume.create', { name: 'on-pcie', description: '', size: 256 * MiB, sharable: false }, T.volume);
      const domid = 41;
      const vm = x.vmStart(vol.key, domid);
      const state = path.join(x.host.dir, 'pcie.state');
      const r = await x.sim.guest(domid, ['--domid', String(domid), '--devid', '51712', '--no-progress', '--verify', '--verify-state', state, '--rw', 'randrw', '--bs', '64k', '--iodepth', '16', '--ios', '4000', '--size', `${128 * MiB}`, '--queues', '2', '--flush-every', '50', '--close']).done;
      if (r.status !== 0) throw new Error(`guest failed: ${r.stdout.slice(-1500)} ${r.stderr.slice(-1500)}\n${x.daemonLogs().slice(-3000)}`);
      expect(r.summary.errors.total).toBe(0);
      expect(r.summary.features.flush).toBe(true);
      console.log(`PCIe NVMe: ${JSON.stringify({ iops: Math.round(r.summary.iops), mb_s: r.summary.mb_s })}`);
      // The daemon drove the controller itself: SPDK probed the drive and no other PCI device.
      expect(x.daemonLogs()).toMatch(/SPDK started/);
      const snap = call<Volume>('Volume.snapshot', { key: vol.key }, T.volume);
      x.vmShutdown(vol.key, vm);
      const clone = call<Volume>('Volume.clone', { key: snap.key }, T.volume);
      const vm2 = x.vmStart(clone.key, domid + 1);
      const again = await x.sim.guest(domid + 1, ['--domid', String(domid + 1), '--devid', '51712', '--no-progress', '--verify', '--verify-state', state, '--rw', 'randread', '--bs', '4k', '--ios', '2000', '--size', `${128 * MiB}`, '--close']).done;
      expect(again.summary.errors.total).toBe(0);
      x.vmShutdown(clone.key, vm2);
      for (const key of [clone.key, snap.key, vol.key]) call('Volume.destroy', { key });
      const after = call<any>('SR.stat', {}, T.srStat);
      expect(after.free_space).toBe(after.total_space);
      x.host.call('volume', 'SR.detach', { dbg: 'test', sr: x.sr }, T.unit);
      expect(x.leftovers()).toEqual({ daemons: [], files: [] });
    } finally {
      await x.stop();
    }
  }, 300_000);
});
