// An SPDK SR on an NVMe drive, through SPDK's NVMe driver: the drive is a
// namespace that SPDK's own NVMe-oF target (nvmf_tgt, from the same SPDK
// installation) serves over TCP, since these machines have no NVMe device
// to hand to user space. `device-config:nvme=tcp://...` makes the SR's
// daemon attach the controller (bdev_nvme_attach_controller) and put the lvol
// store on its first namespace; a VM then runs on an lvol of it with
// verified data. The namespace sits on an error bdev, so the target can fail
// flushes on demand: that shows a guest's flush reaching the namespace, which
// the lvol above it would not pass down (docs/spdk.md "Flush on lvols").
// What this does not reach: PCIe, vfio and hugepage DMA.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { T } from '../harness/rpclib';
import { bin, rpcOn, terminate } from '../harness/sim';
import { destroyAndDetach, snapshotCloneRun } from '../harness/spdk-sr';
import { XapiSim } from '../harness/xapi';

const MiB = 1024 * 1024;
const HAVE_SPDK = fs.existsSync(bin('xenblkd-spdk'));

/** nvmf_tgt of the SPDK installation pkg-config finds (the prefix native/Makefile builds against). */
function findNvmfTgt(): { tgt: string; libdir: string } | undefined {
  const env = { ...process.env, PKG_CONFIG_PATH: [process.env.PKG_CONFIG_PATH, '/usr/local/lib/pkgconfig', '/opt/spdk/lib/pkgconfig'].filter(Boolean).join(':') };
  // SPDK's .pc files name no prefix: its library directory's parent is one.
  const r = spawnSync('pkg-config', ['--libs-only-L', 'spdk_bdev'], { env, encoding: 'utf8' });
  const libdir = r.status === 0 ? /-L(\S+)/.exec(r.stdout)?.[1] : undefined;
  const tgt = libdir ? path.join(path.dirname(libdir), 'bin', 'nvmf_tgt') : '';
  return libdir && fs.existsSync(tgt) ? { tgt, libdir } : undefined;
}
const NVMF_TGT = HAVE_SPDK ? findNvmfTgt() : undefined;
if (!NVMF_TGT) console.log('no xenblkd-spdk or no SPDK nvmf_tgt: the NVMe SR test is skipped');

(NVMF_TGT ? describe : describe.skip)('an SPDK SR on an NVMe namespace (NVMe/TCP from SPDK nvmf_tgt)', () => {
  const nqn = 'nqn.2026-12.io.xapi-storage-spdk:test';
  const port = 20000 + (process.pid % 10000);
  const NAMESPACE_BDEV = 'EE_ns0'; // bdev_error_create's name for the error bdev over ns0
  let dir: string;
  let tgt: ChildProcess;
  const tgtRpc = (method: string, params?: object) => rpcOn(path.join(dir, 'tgt.sock'), method, params);

  beforeAll(async () => {
    dir = fs.mkdtempSync('/tmp/nvmf-');
    const sock = path.join(dir, 'tgt.sock');
    // Its binaries carry no run path to SPDK's libraries; no PCI probing, no core locks.
    tgt = spawn(NVMF_TGT!.tgt, ['--no-huge', '--no-pci', '-s', '1024', '-m', '0x1', '-r', sock, '--disable-cpumask-locks'], {
      stdio: 'ignore',
      env: { ...process.env, LD_LIBRARY_PATH: NVMF_TGT!.libdir },
    });
    for (let i = 0; i < 200 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
    const rpc = (method: string, params?: object) => rpcOn(sock, method, params);
    await rpc('nvmf_create_transport', { trtype: 'TCP' });
    await rpc('bdev_malloc_create', { name: 'ns0', num_blocks: (256 * MiB) / 512, block_size: 512 });
    await rpc('bdev_error_create', { base_name: 'ns0' });
    await rpc('nvmf_create_subsystem', { nqn, allow_any_host: true, serial_number: 'XAPI0001' });
    await rpc('nvmf_subsystem_add_ns', { nqn, namespace: { bdev_name: NAMESPACE_BDEV } });
    await rpc('nvmf_subsystem_add_listener', { nqn, listen_address: { trtype: 'tcp', adrfam: 'ipv4', traddr: '127.0.0.1', trsvcid: String(port) } });
  }, 60_000);

  afterAll(async () => {
    if (tgt) await terminate(tgt, 10_000);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('sr-create on the namespace, a VM with verified I/O and flushes, snapshot and clone, then everything gone', async () => {
    const nvme = `tcp://127.0.0.1:${port}/${nqn}`;
    const x = await XapiSim.start('spdk-nvme-', () => ({ nvme }));
    try {
      expect(x.host.call<any>('volume', 'SR.stat', { dbg: 'test', sr: x.sr }, T.srStat).total_space).toBeGreaterThan(200 * MiB);
      const domid = 31;
      const run = await snapshotCloneRun(x, { domid, size: 64 * MiB, verified: 32 * MiB, workload: ['--rw', 'randrw', '--bs', '16k', '--iodepth', '8', '--ios', '1500', '--queues', '2', '--flush-every', '20'] });
      expect(x.daemonLogs()).not.toMatch(/PCI device/); // over TCP, SPDK probes no PCI device

      // The target now fails every flush: a guest's flush reaches the namespace, so it fails, and
      // blkfront takes an error on an empty flush as "no flush here" (not an I/O error).
      await tgtRpc('bdev_error_inject_error', { name: NAMESPACE_BDEV, io_type: 'flush', error_type: 'failure', num: 1000 });
      const vm3 = x.vmStart(run.vol.key, domid + 2);
      const failing = await x.sim.guest(domid + 2, ['--domid', String(domid + 2), '--devid', '51712', '--no-progress', '--rw', 'randwrite', '--bs', '4k', '--ios', '200', '--size', `${32 * MiB}`, '--flush-every', '10', '--close']).done;
      expect(failing.summary.features.flush_disabled_by_backend).toBe(true);
      expect(failing.summary.errors.total).toBe(0);
      await tgtRpc('bdev_error_inject_error', { name: NAMESPACE_BDEV, io_type: 'clear', error_type: 'failure' });
      x.vmShutdown(run.vol.key, vm3);
      destroyAndDetach(x, run);
    } finally {
      await x.stop();
    }
  }, 180_000);
});
