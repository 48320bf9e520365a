// xenblkd-spdk, the daemon with the SPDK engine (docs/spdk.md), against the
// simulated blkfront: bdevs made by SPDK from a JSON configuration (malloc,
// aio and uring over files, no hugepages) serve verified workloads on several
// queues with indirect requests, persistent grants, discard and flush; the
// guest's data is found in the aio bdev's file. Built only where an installed
// SPDK is found: elsewhere these tests are skipped and say so. Plain xenblkd
// refuses an SPDK configuration with a clear message everywhere. SPDK's own
// RPC server in the daemon makes an lvol store, thin lvols, a snapshot and a
// clone, and resizes and deletes them while guests use them. A malloc bdev of 4096-byte blocks
// serves a large-sector frontend in 4096-byte sectors and another in 512-byte ones (whole blocks).
// The queues' bounce pages come from SPDK's DMA allocator (spdk_dma_zmalloc), as user-space NVMe needs.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { SimHost, bin, rpcOn } from '../harness/sim';

const MiB = 1024 * 1024;
const HAVE_SPDK = fs.existsSync(bin('xenblkd-spdk'));
if (!HAVE_SPDK) console.log('xenblkd-spdk was not built (no SPDK found by pkg-config): the SPDK engine tests are skipped');

test('plain xenblkd refuses --spdk-config and an spdk disk with clear messages', () => {
  const r = spawnSync(bin('xenblkd'), ['--platform', 'sim', '--socket', '/nonexistent/x.sock', '--spdk-config', '/dev/null'], { encoding: 'utf8', timeout: 10_000 });
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/no SPDK; xenblkd-spdk has/);
});

(HAVE_SPDK ? describe : describe.skip)('xenblkd-spdk', () => {
  let host: SimHost;
  let aioFile: string;
  let uringFile: string;

  beforeAll(async () => {
    host = await SimHost.start();
    aioFile = path.join(host.dir, 'aio.img');
    uringFile = path.join(host.dir, 'uring.img');
    for (const f of [aioFile, uringFile]) {
      fs.writeFileSync(f, '');
      fs.truncateSync(f, 64 * MiB);
    }
    const config = {
      subsystems: [
        {
          subsystem: 'bdev',
          config: [
            { method: 'bdev_malloc_create', params: { name: 'malloc0', num_blocks: (64 * MiB) / 512, block_size: 512 } },
            { method: 'bdev_malloc_create', params: { name: 'malloc4k', num_blocks: (64 * MiB) / 4096, block_size: 4096 } },
            { method: 'bdev_aio_create', params: { name: 'aio0', filename: aioFile, block_size: 512 } },
            { method: 'bdev_uring_create', params: { name: 'uring0', filename: uringFile, block_size: 512 } },
          ],
        },
      ],
    };
    const configFile = path.join(host.dir, 'spdk.json');
    fs.writeFileSync(configFile, JSON.stringify(config));
    await host.startDaemon(['--queues', '4', '--spdk-config', configFile, '--spdk-rpc', spdkSocket()], 'xenblkd-spdk');
  }, 60_000);
  afterAll(async () => {
    await host?.stop();
  });

  const spdkSocket = () => path.join(host.dir, 'spdk.sock');

  /** One call of SPDK's own JSON-RPC methods on the daemon's SPDK socket. */
  const spdkRpc = <T = unknown>(method: string, params?: object) => rpcOn<T>(spdkSocket(), method, params);

  /** A domain with a qdisk-less vbd served by `bdev` through the SPDK engine. */
  async function spdkDisk(bdev: string, features: object = {}) {
    const domid = host.nextDomid++;
    host.toolstack('create-domain', String(domid));
    host.toolstack('add-vbd', String(domid), '51712', '--kind', 'vbd', '--mode', 'w');
    const name = `spdk-${bdev}-${domid}`;
    await host.rpc('disk_add', { name, backend: `backend/vbd/${domid}/51712`, engine: 'spdk', path: bdev, ...features });
    return { domid, name };
  }

  async function runGuest(domid: number, args: string[]) {
    const { done } = host.guest(domid, ['--domid', String(domid), '--no-progress', ...args]);
    const r = await done;
    if (r.status !== 0) throw new Error(`guest failed (${r.status ?? r.signal}): ${r.stdout.slice(-2000)} ${r.stderr.slice(-2000)}\n${host.daemonLog.slice(-3000)}`);
    return r.summary;
  }

  test('reactors: $XENBLKD_SPDK_REACTORS when set (the suites run with 1 and 0 too), else one per CPU, at most 8', async () => {
    const { reactors } = await host.rpc<any>('reactor_stats');
    const knob = process.env.XENBLKD_SPDK_REACTORS;
    if (knob) expect(reactors.length).toBe(Number(knob));
    else expect(reactors.length).toBe(Math.min(8, os.availableParallelism()));
    expect(host.daemonLog).toMatch(new RegExp(`SPDK reactors: ${reactors.length}`));
  });

  test.each(['malloc0', 'aio0', 'uring0'])('%s: verified random read/write on 2 queues with indirect requests, persistent grants, discard and flush', async (bdev) => {
    const d = await spdkDisk(bdev);
    const s = await runGuest(d.domid, ['--verify', '--rw', 'randrw', '--bs', '4k', '--iodepth', '16', '--ios', '3000', '--size', `${16 * MiB}`, '--queues', '2', '--close']);
    expect(s.errors.total).toBe(0);
    expect(s.verify.failures).toBe(0);
    const big = await runGuest(d.domid, ['--verify', '--rw', 'randrw', '--bs', '128k', '--indirect-segs', '32', '--iodepth', '8', '--ios', '400', '--size', `${32 * MiB}`, '--discard-every', '50', '--flush-every', '50', '--close']);
    expect(big.errors.total).toBe(0);
    expect(big.verify.failures).toBe(0);
    const info = (await host.rpc<any[]>('disk_list')).find((x) => x.name === d.name);
    expect(info).toMatchObject({ engine: 'spdk', path: bdev });
    const stats = await host.rpc<any>('disk_stats', { name: d.name });
    expect(stats.total.errors).toBe(0);
    expect(stats.queues.filter((q: any) => q.reads + q.writes > 0).length).toBeGreaterThanOrEqual(2);
    host.toolstack('destroy-domain', String(d.domid));
    await host.rpc('disk_remove', { name: d.name }).catch(() => undefined);
  }, 90_000);

  test('a bdev of 4096-byte blocks: sector-size 4096 for a large-sector frontend, 512 with whole-block I/O for another', async () => {
    const d = await spdkDisk('malloc4k');
    const info = (await host.rpc<any[]>('disk_list')).find((x) => x.name === d.name);
    expect(info).toMatchObject({ block_size: 4096, sectors: (64 * MiB) / 512 });
    const verified = ['--verify', '--rw', 'randrw', '--iodepth', '8', '--size', `${16 * MiB}`, '--queues', '2', '--close'];
    const large = await runGuest(d.domid, [...verified, '--large-sector', '--bs', '4k', '--ios', '2000']);
    expect(large.features).toMatchObject({ sector_size: 4096, physical_sector_size: 4096, wire_sector: 4096, sectors: (64 * MiB) / 4096 });
    expect(large.errors.total).toBe(0);
    expect(large.verify.failures).toBe(0);
    const largeBig = await runGuest(d.domid, [...verified, '--large-sector', '--bs', '128k', '--indirect-segs', '32', '--ios', '300', '--discard-every', '30', '--flush-every', '30']);
    expect(largeBig.errors.total).toBe(0);
    expect(largeBig.verify.failures).toBe(0);
    const plain = await runGuest(d.domid, [...verified, '--bs', '4k', '--ios', '2000']);
    expect(plain.features).toMatchObject({ sector_size: 512, physical_sector_size: 4096, wire_sector: 512, sectors: (64 * MiB) / 512 });
    expect(plain.errors.total).toBe(0);
    expect(plain.verify.failures).toBe(0);
    // 512-byte I/O: errors from the backend (SPDK never sees it), the daemon serves on.
    const { done } = host.guest(d.domid, ['--domid', String(d.domid), '--no-progress', '--rw', 'randrw', '--bs', '512', '--iodepth', '8', '--ios', '100', '--size', `${8 * MiB}`, '--close']);
    const bad = await done;
    expect(bad.signal).toBeNull();
    expect(bad.summary.errors.total).toBe(100);
    const stats = await host.rpc<any>('disk_stats', { name: d.name });
    expect(stats.total).toMatchObject({ errors: 100, misaligned: 100 });
    const again = await runGuest(d.domid, [...verified, '--bs', '4k', '--ios', '500']);
    expect(again.verify.failures).toBe(0);
    host.toolstack('destroy-domain', String(d.domid));
    await host.rpc('disk_remove', { name: d.name }).catch(() => undefined);
  }, 90_000);

  test.each([
    ['bounce pages and memcpy', { zero_copy: false }, '1'],
    ['grant copy', {}, '0'],
  ])('bounce pages from SPDK\'s DMA allocator (%s): verified on malloc and aio bdevs', async (_what, features, persistent) => {
    for (const bdev of ['malloc0', 'aio0']) {
      const d = await spdkDisk(bdev, features);
      const s = await runGuest(d.domid, ['--verify', '--rw', 'randrw', '--bs', '64k', '--indirect-segs', '32', '--iodepth', '8', '--ios', '400', '--size', `${16 * MiB}`, '--queues', '2', '--persistent', persistent, '--close']);
      expect(s.errors.total).toBe(0);
      expect(s.verify.failures).toBe(0);
      host.toolstack('destroy-domain', String(d.domid));
      await host.rpc('disk_remove', { name: d.name }).catch(() => undefined);
    }
  }, 90_000);

  test('the guest\'s writes through the aio bdev are in its file', async () => {
    const fd = fs.openSync(aioFile, 'r');
    const buf = Buffer.alloc(16 * MiB);
    fs.readSync(fd, buf, 0, buf.length, 0);
    fs.closeSync(fd);
    expect(buf.some((b) => b !== 0)).toBe(true);
  });

  test('a disk on a bdev SPDK does not have is refused, and the daemon serves on', async () => {
    const domid = host.nextDomid++;
    host.toolstack('create-domain', String(domid));
    host.toolstack('add-vbd', String(domid), '51712', '--kind', 'vbd', '--mode', 'w');
    await expect(host.rpc('disk_add', { name: 'nobdev', backend: `backend/vbd/${domid}/51712`, engine: 'spdk', path: 'no-such-bdev' })).rejects.toThrow(/no such SPDK bdev/);
    // The namespace a flush must reach (flush_nvme) has to be an NVMe bdev, and is for spdk only.
    const onAio = { name: 'badflush', backend: `backend/vbd/${domid}/51712`, engine: 'spdk', path: 'aio0' };
    await expect(host.rpc('disk_add', { ...onAio, flush_nvme: 'no-such-bdev' })).rejects.toThrow(/flush_nvme: no such SPDK bdev/);
    await expect(host.rpc('disk_add', { ...onAio, flush_nvme: 'aio0' })).rejects.toThrow(/flush_nvme: not an NVMe namespace bdev/);
    await expect(host.rpc('disk_add', { ...onAio, flush_nvme: 7 })).rejects.toThrow(/flush_nvme must name/);
    await expect(host.rpc('disk_add', { ...onAio, engine: 'null', size: 1 << 20, flush_nvme: 'aio0' })).rejects.toThrow(/flush_nvme is for the spdk engine/);
    expect((await host.rpc<any[]>('disk_list')).map((d) => d.name)).not.toContain('badflush');
    expect(host.daemon!.exitCode).toBeNull();
  });

  test('an lvol store on a bdev: thin lvols, a snapshot and a clone through SPDK\'s RPC, with the data a guest flushed', async () => {
    await spdkRpc('bdev_malloc_create', { name: 'lvbase', num_blocks: (128 * MiB) / 512, block_size: 512 });
    const lvs = await spdkRpc<string>('bdev_lvol_create_lvstore', { bdev_name: 'lvbase', lvs_name: 'lvs0', cluster_sz: 1 * MiB });
    expect(lvs).toMatch(/^[0-9a-f-]{36}$/);
    const vol = await spdkRpc<string>('bdev_lvol_create', { lvs_name: 'lvs0', lvol_name: 'vol0', size_in_mib: 32, thin_provision: true });
    const [info] = await spdkRpc<any[]>('bdev_get_bdevs', { name: vol });
    expect(info.driver_specific.lvol).toMatchObject({ thin_provision: true });
    const block = info.block_size as number;

    // A guest writes a verified pattern and flushes; what it made durable is saved as a model.
    const d = await spdkDisk(vol);
    const model = path.join(host.dir, 'lvol.model');
    const w = await runGuest(d.domid, ['--verify', '--rw', 'write', '--bs', '64k', '--iodepth', '8', '--size', `${8 * MiB}`, '--durable-state', model, '--close']);
    expect(w.errors.total).toBe(0);
    host.toolstack('destroy-domain', String(d.domid));
    await host.rpc('disk_remove', { name: d.name }).catch(() => undefined); // gone with its domain already

    // Thin: only what was written is allocated (1 MiB clusters).
    const [after] = await spdkRpc<any[]>('bdev_get_bdevs', { name: vol });
    expect(after.num_blocks * block).toBe(32 * MiB);
    const stores = await spdkRpc<any[]>('bdev_lvol_get_lvstores', { lvs_name: 'lvs0' });
    const usedMiB = ((stores[0].total_data_clusters - stores[0].free_clusters) * stores[0].cluster_size) / MiB;
    expect(usedMiB).toBeGreaterThanOrEqual(8);
    expect(usedMiB).toBeLessThan(16);

    // Snapshot, clone of the snapshot, the clone grown: a guest on the clone finds the data.
    const snap = await spdkRpc<string>('bdev_lvol_snapshot', { lvol_name: vol, snapshot_name: 'snap0' });
    const clone = await spdkRpc<string>('bdev_lvol_clone', { snapshot_name: snap, clone_name: 'clone0' });
    await spdkRpc('bdev_lvol_resize', { name: clone, size_in_mib: 48 });
    const c = await spdkDisk(clone);
    const r = await runGuest(c.domid, ['--verify', '--verify-state', model, '--rw', 'read', '--bs', '64k', '--iodepth', '8', '--size', `${8 * MiB}`, '--close']);
    expect(r.verify).toMatchObject({ failures: 0, sectors_known: (8 * MiB) / 512 });
    expect(r.errors.total).toBe(0);
    expect((await host.rpc<any[]>('disk_list')).find((x) => x.name === c.name).sectors * 512).toBe(48 * MiB);
    host.toolstack('destroy-domain', String(c.domid));
    await host.rpc('disk_remove', { name: c.name }).catch(() => undefined);

    // Deleting: the clone, then the original, then the snapshot nobody depends on any more.
    for (const name of [clone, vol, snap]) await spdkRpc('bdev_lvol_delete', { name });
    const left = await spdkRpc<any[]>('bdev_lvol_get_lvstores', { lvs_name: 'lvs0' });
    expect(left[0].free_clusters).toBe(left[0].total_data_clusters);
  }, 90_000);
});

/** The names of the daemon's threads (/proc/<pid>/task/<tid>/comm). */
function threadNames(pid: number): string[] {
  return fs.readdirSync(`/proc/${pid}/task`).map((t) => {
    try {
      return fs.readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim();
    } catch {
      return ''; // a thread that just ended
    }
  });
}

// The SPDK reactors drive the queues (docs/spdk.md "Reactors"): with one reactor every queue of
// every disk runs as a poller on it and no queue has a thread of its own; with none, each has.
(HAVE_SPDK ? describe : describe.skip).each([1, 0])('xenblkd-spdk --spdk-reactors %i', (reactors) => {
  let host: SimHost;
  beforeAll(async () => {
    host = await SimHost.start();
    const config = {
      subsystems: [
        {
          subsystem: 'bdev',
          config: ['m0', 'm1'].map((name) => ({ method: 'bdev_malloc_create', params: { name, num_blocks: (32 * MiB) / 512, block_size: 512 } })),
        },
      ],
    };
    const configFile = path.join(host.dir, 'spdk.json');
    fs.writeFileSync(configFile, JSON.stringify(config));
    await host.startDaemon(['--queues', '4', '--spdk-config', configFile, '--spdk-reactors', String(reactors)], 'xenblkd-spdk');
  }, 60_000);
  afterAll(async () => {
    await host?.stop();
  });

  test('two disks of 4 queues under load: who polls them', async () => {
    const disks: { domid: number; name: string }[] = [];
    for (const bdev of ['m0', 'm1']) {
      const domid = host.nextDomid++;
      host.toolstack('create-domain', String(domid));
      host.toolstack('add-vbd', String(domid), '51712', '--kind', 'vbd', '--mode', 'w');
      const name = `r-${bdev}`;
      await host.rpc('disk_add', { name, backend: `backend/vbd/${domid}/51712`, engine: 'spdk', path: bdev });
      disks.push({ domid, name });
    }
    const guests = disks.map((d) =>
      host.guest(d.domid, ['--domid', String(d.domid), '--no-progress', '--verify', '--rw', 'randrw', '--bs', '4k', '--iodepth', '16', '--runtime', '3', '--size', `${16 * MiB}`, '--queues', '4', '--close']),
    );
    // Both guests connected and doing I/O: look at the daemon's threads then.
    const busy = async () => {
      for (const d of disks) {
        const s = await host.rpc<any>('disk_stats', { name: d.name });
        if (s.queues.length !== 4 || s.queues.some((q: any) => q.reads + q.writes === 0)) return false;
      }
      return true;
    };
    const until = Date.now() + 20_000;
    while (!(await busy()) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    const pid = host.daemon!.pid!;
    const names = threadNames(pid);
    const stats = await host.rpc<any>('reactor_stats');
    const before = stats.reactors.map((r: any) => r.passes);
    await new Promise((r) => setTimeout(r, 200));
    const later = await host.rpc<any>('reactor_stats');
    for (const { done } of guests) {
      const r = await done;
      if (r.status !== 0) throw new Error(`guest failed (${r.status ?? r.signal}): ${r.stdout.slice(-2000)} ${r.stderr.slice(-2000)}`);
      expect(r.summary.errors.total).toBe(0);
      expect(r.summary.verify.failures).toBe(0);
    }
    const queueThreads = names.filter((n) => /^xenblkd-q\d+$/.test(n)).length;
    const reactorThreads = names.filter((n) => /^xenblkd-r\d+$/.test(n)).length;
    if (reactors > 0) {
      expect(reactorThreads).toBe(reactors);
      expect(queueThreads).toBe(0);
      expect(stats.reactors.length).toBe(reactors);
      expect(stats.reactors.reduce((a: number, r: any) => a + r.threads, 0)).toBe(8);
      // The reactors keep polling under load.
      later.reactors.forEach((r: any, i: number) => expect(r.passes).toBeGreaterThan(before[i]));
    } else {
      expect(reactorThreads).toBe(0);
      expect(queueThreads).toBe(8);
      expect(stats.reactors).toEqual([]);
    }
    for (const d of disks) {
      host.toolstack('destroy-domain', String(d.domid));
      await host.rpc('disk_remove', { name: d.name }).catch(() => undefined);
    }
    // Removed queues leave the reactors; an idle reactor sleeps.
    const after = await host.rpc<any>('reactor_stats');
    for (const r of after.reactors) expect(r.threads).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    const idle = await host.rpc<any>('reactor_stats');
    idle.reactors.forEach((r: any, i: number) => expect(r.sleeps).toBeGreaterThan(after.reactors[i].sleeps));
    expect(threadNames(pid).filter((n) => /^xenblkd-q\d+$/.test(n)).length).toBe(0);
  }, 90_000);
});
