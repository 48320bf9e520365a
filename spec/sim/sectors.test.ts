// Sector sizes with backing stores of 4096-byte blocks (docs/backend.md "Sector sizes"): a
// frontend that writes feature-large-sector-size=1 gets sector-size 4096 and speaks in 4096-byte
// units; any other frontend gets sector-size 512 with physical-sector-size 4096, and its I/O that
// is not in whole 4 KiB blocks is answered with an error (counted as misaligned), never passed on.
// A file under the uring engine with block_size 4096 stands for a 4Kn disk and keeps the data,
// so the workloads are verified; the null engine takes block_size too.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { SimHost, type SimDisk as Disk } from '../harness/sim';

const MiB = 1024 * 1024;
let host: SimHost;

beforeAll(async () => {
  host = await SimHost.start();
  await host.startDaemon(['--queues', '2']);
}, 30_000);
afterAll(async () => {
  await host?.stop();
});

async function dropDisk(d: Disk): Promise<void> {
  host.toolstack('destroy-domain', String(d.domid));
  await host.rpc('disk_remove', { name: d.name }).catch(() => undefined);
}

async function runGuest(d: Disk, args: string[]) {
  const { done } = host.guest(d.domid, ['--domid', String(d.domid), '--no-progress', ...args]);
  const r = await done;
  if (r.status !== 0) throw new Error(`guest failed (${r.status ?? r.signal}): ${r.stdout.slice(-2000)} ${r.stderr.slice(-2000)}\n${host.daemonLog.slice(-2000)}`);
  return r.summary;
}

const be = (d: Disk, key: string) => host.xsRead(`/local/domain/0/backend/vbd/${d.domid}/51712/${key}`);
const verified = ['--verify', '--rw', 'randrw', '--bs', '4k', '--iodepth', '16', '--ios', '3000', '--size', `${16 * MiB}`, '--queues', '2', '--close'];
const big = ['--verify', '--rw', 'randrw', '--bs', '128k', '--indirect-segs', '32', '--iodepth', '8', '--ios', '400', '--size', `${32 * MiB}`, '--discard-every', '40', '--flush-every', '40', '--close'];

test('a 4096-byte disk with a large-sector frontend: sector-size 4096, everything in 4096-byte units, verified', async () => {
  const d = await host.addDisk({ features: { block_size: 4096 }, sizeMiB: 64 });
  const info = (await host.rpc<any[]>('disk_list')).find((x) => x.name === d.name);
  expect(info).toMatchObject({ block_size: 4096, sector_size: 512, sectors: (64 * MiB) / 512 });
  // Before any frontend said anything: 512-byte units.
  expect(be(d, 'sector-size')).toBe('512');
  const s = await runGuest(d, [...verified, '--large-sector']);
  expect(s.features).toMatchObject({ sector_size: 4096, physical_sector_size: 4096, wire_sector: 4096, large_sector: true, sectors: (64 * MiB) / 4096 });
  expect(s.errors.total).toBe(0);
  expect(s.verify.failures).toBe(0);
  // What the frontend read at Connected (left in place after it closed).
  expect([be(d, 'sector-size'), be(d, 'sectors'), be(d, 'physical-sector-size')]).toEqual(['4096', String((64 * MiB) / 4096), '4096']);
  const b = await runGuest(d, [...big, '--large-sector']);
  expect(b.features.discard_granularity).toBe(4096);
  expect(b.errors.total).toBe(0);
  expect(b.verify.failures).toBe(0);
  const stats = await host.rpc<any>('disk_stats', { name: d.name });
  expect(stats.total).toMatchObject({ errors: 0, misaligned: 0 });
  expect(stats.total.discards).toBeGreaterThan(0);

  // Online resize while it is connected: `sectors` in its unit.
  const { done } = host.guest(d.domid, ['--domid', String(d.domid), '--no-progress', '--large-sector', '--rw', 'randread', '--bs', '4k', '--ios', '0', '--resize-wait', String((128 * MiB) / 4096), '--timeout', '20']);
  await new Promise((r) => setTimeout(r, 1000));
  fs.truncateSync(d.file, 128 * MiB + 1000); // a partial last block is not served
  const resized = await host.rpc<any>('disk_resize', { name: d.name });
  expect(resized).toMatchObject({ sectors: (128 * MiB) / 512, sector_size: 4096 });
  expect(be(d, 'sectors')).toBe(String((128 * MiB) / 4096));
  const r = await done;
  expect(r.status).toBe(0);
  expect(r.summary.resize).toMatchObject({ seen: (128 * MiB) / 4096 });
  await dropDisk(d);
}, 60_000);

test('a 4096-byte disk with a plain frontend: sector-size 512, physical 4096; whole blocks verified, 512-byte I/O refused', async () => {
  const d = await host.addDisk({ features: { block_size: 4096 }, sizeMiB: 64 });
  const other = await host.addDisk({ sizeMiB: 64 });
  const s = await runGuest(d, verified);
  expect(s.features).toMatchObject({ sector_size: 512, physical_sector_size: 4096, wire_sector: 512, sectors: (64 * MiB) / 512 });
  expect(s.errors.total).toBe(0);
  expect(s.verify.failures).toBe(0);
  const b = await runGuest(d, big);
  expect(b.errors.total).toBe(0);
  expect(b.verify.failures).toBe(0);

  // 512-byte I/O (the guest does not refuse it: sector-size is 512) gets errors, not a crash.
  const { done } = host.guest(d.domid, ['--domid', String(d.domid), '--no-progress', '--rw', 'randrw', '--bs', '512', '--iodepth', '8', '--ios', '200', '--size', `${8 * MiB}`, '--close']);
  const bad = await done;
  expect(bad.signal).toBeNull();
  expect(bad.status).not.toBe(0);
  expect(bad.summary.errors.total).toBe(200);
  // Whole blocks at a misaligned offset too.
  const off = host.guest(d.domid, ['--domid', String(d.domid), '--no-progress', '--rw', 'write', '--bs', '4k', '--offset', '512', '--ios', '20', '--size', `${1 * MiB}`, '--close']);
  expect((await off.done).summary.errors.total).toBe(20);
  const stats = await host.rpc<any>('disk_stats', { name: d.name });
  expect(stats.total.errors).toBe(220);
  expect(stats.total.misaligned).toBe(220);
  expect(host.daemon!.exitCode).toBeNull();

  // The disk and its neighbour serve on.
  const again = await runGuest(d, verified);
  expect(again.verify.failures).toBe(0);
  const o = await runGuest(other, verified);
  expect(o.verify.failures).toBe(0);
  await dropDisk(d);
  await dropDisk(other);
}, 60_000);

test('a 512-byte disk with a large-sector frontend stays at sector-size 512', async () => {
  const d = await host.addDisk({ sizeMiB: 64 });
  const s = await runGuest(d, [...verified, '--large-sector']);
  expect(s.features).toMatchObject({ sector_size: 512, physical_sector_size: 4096, wire_sector: 512, sectors: (64 * MiB) / 512 });
  expect(s.verify.failures).toBe(0);
  const b = await runGuest(d, ['--rw', 'randrw', '--bs', '512', '--iodepth', '8', '--ios', '200', '--size', `${8 * MiB}`, '--large-sector', '--close']);
  expect(b.errors.total).toBe(0);
  await dropDisk(d);
}, 60_000);

test('the null engine with block_size 4096; block_size checked at disk_add', async () => {
  const domid = host.nextDomid++;
  host.toolstack('create-domain', String(domid));
  host.toolstack('add-vbd', String(domid), '51712', '--kind', 'vbd', '--mode', 'w');
  const backend = `backend/vbd/${domid}/51712`;
  await expect(host.rpc('disk_add', { name: 'n1', backend, engine: 'null', block_size: 1024 })).rejects.toThrow(/block_size must be 512 or 4096/);
  await expect(host.rpc('disk_add', { name: 'n1', backend, engine: 'null', block_size: 4096, size: 4096 * 100 + 512 })).rejects.toThrow(/multiple of block_size/);
  await expect(host.rpc('disk_add', { name: 'n1', backend, engine: 'spdk', path: 'x', block_size: 4096 })).rejects.toThrow(/block_size/);
  await host.rpc('disk_add', { name: 'n1', backend, engine: 'null', block_size: 4096, size: 256 * MiB });
  const d = { domid, name: 'n1', file: '' };
  const s = await runGuest(d, ['--rw', 'randrw', '--bs', '16k', '--iodepth', '8', '--ios', '500', '--large-sector', '--close']);
  expect(s.features).toMatchObject({ sector_size: 4096, sectors: (256 * MiB) / 4096 });
  expect(s.errors.total).toBe(0);
  const { done } = host.guest(domid, ['--domid', String(domid), '--no-progress', '--rw', 'randread', '--bs', '2k', '--ios', '10', '--close']);
  expect((await done).summary.errors.total).toBe(10);
  expect((await host.rpc<any>('disk_stats', { name: 'n1' })).total.misaligned).toBe(10);
  await dropDisk(d);
}, 60_000);

test('the NBD export of a 4096-byte disk advertises and enforces 4 KiB blocks', async () => {
  const file = `${host.dir}/nbd4k.img`;
  fs.writeFileSync(file, '');
  fs.truncateSync(file, 16 * MiB);
  const socket = `${host.dir}/nbd4k.sock`;
  await host.rpc('disk_add', { name: 'nbd4k', path: file, block_size: 4096, nbd_socket: socket });
  const uri = `nbd+unix:///nbd4k?socket=${socket}`;
  const info = JSON.parse(spawnSync('nbdinfo', ['--json', uri], { encoding: 'utf8', timeout: 30_000 }).stdout);
  expect(info.exports[0]).toMatchObject({ 'export-size': 16 * MiB, block_size_minimum: 4096 });
  // QEMU's client honours the minimum: a 512-byte write becomes its own read-modify-write of the
  // whole block, which lands right. (The server's refusal of a partial block: test_nbd_proto.)
  const io = (cmd: string) => spawnSync('qemu-io', ['-f', 'raw', '-c', cmd, uri], { encoding: 'utf8', timeout: 30_000 });
  expect(io('write -P 0x4b 8192 4096').status).toBe(0);
  expect(io('read -P 0x4b 8192 4096').stdout).not.toMatch(/Pattern verification failed|error/i);
  expect(io('write -P 0x11 512 512').status).toBe(0);
  const data = fs.readFileSync(file);
  expect(data.subarray(512, 1024).every((b) => b === 0x11)).toBe(true);
  expect(data.subarray(0, 512).every((b) => b === 0) && data.subarray(1024, 4096).every((b) => b === 0)).toBe(true);
  expect(data.subarray(8192, 12288).every((b) => b === 0x4b)).toBe(true);
  await host.rpc('disk_remove', { name: 'nbd4k' });
}, 60_000);
