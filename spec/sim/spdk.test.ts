// xenblkd-spdk, the daemon with the SPDK engine (docs/spdk.md), against the
// simulated blkfront: bdevs made by SPDK from a JSON configuration (malloc,
// aio and uring over files, no hugepages) serve verified workloads on several
// queues with indirect requests, persistent grants, discard and flush; the
// guest's data is found in the aio bdev's file. Built only where an installed
// SPDK is found: elsewhere these tests are skipped and say so. Plain xenblkd
// refuses an SPDK configuration with a clear message everywhere.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { SimHost, bin } from '../harness/sim';

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
            { method: 'bdev_aio_create', params: { name: 'aio0', filename: aioFile, block_size: 512 } },
            { method: 'bdev_uring_create', params: { name: 'uring0', filename: uringFile, block_size: 512 } },
          ],
        },
      ],
    };
    const configFile = path.join(host.dir, 'spdk.json');
    fs.writeFileSync(configFile, JSON.stringify(config));
    await host.startDaemon(['--queues', '4', '--spdk-config', configFile], 'xenblkd-spdk');
  }, 60_000);
  afterAll(async () => {
    await host?.stop();
  });

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
    expect(host.daemon!.exitCode).toBeNull();
  });
});
