// The real backend daemon in the simulator, against the simulated blkfront,
// with verified data: queues, ring orders, indirect, persistent grants, both
// ABIs, discard, flush, online resize, pause/resume, removal and a guest
// vanishing mid-I/O. Every case runs on the io_uring engine and, where SPDK is
// installed, again on the SPDK engine (xenblkd-spdk, each disk's file behind
// an SPDK aio bdev), the results side by side.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bin, SimHost, type SimDisk as Disk } from '../harness/sim';

const MiB = 1024 * 1024;
const HAVE_SPDK = fs.existsSync(bin('xenblkd-spdk'));
if (!HAVE_SPDK) console.log('xenblkd-spdk was not built (no SPDK found by pkg-config): the datapath cases run on the io_uring engine only');
const ENGINES: [string, 'uring' | 'spdk'][] = [['io_uring engine', 'uring'], ...(HAVE_SPDK ? [['SPDK engine, aio bdev', 'spdk'] as [string, 'spdk']] : [])];

describe.each(ENGINES)('%s', (_label, engine) => {
  let host: SimHost;

  beforeAll(async () => {
    host = await SimHost.start();
    if (engine === 'spdk') await host.startSpdkDaemon(['--queues', '4']);
    else await host.startDaemon(['--queues', '4']);
  }, 60_000);
  afterAll(async () => {
    await host?.stop();
  });

  const newDisk = (features: object = {}, sizeMiB = 64): Promise<Disk> => host.addDisk({ features, sizeMiB });

  async function dropDisk(d: Disk): Promise<void> {
    host.toolstack('destroy-domain', String(d.domid));
    await host.rpc('disk_remove', { name: d.name }).catch(() => undefined); // may be gone already
  }

  async function runGuest(d: Disk, args: string[]) {
    const { done } = host.guest(d.domid, ['--domid', String(d.domid), '--no-progress', ...args]);
    const r = await done;
    if (r.status !== 0) throw new Error(`guest failed (${r.status ?? r.signal}): ${r.stdout.slice(-2000)} ${r.stderr.slice(-2000)}\n${host.daemonLog.slice(-2000)}`);
    return r.summary;
  }

  const verified = ['--verify', '--rw', 'randrw', '--bs', '4k', '--iodepth', '16', '--ios', '3000', '--size', `${16 * MiB}`, '--close'];

  test.each([
    [1, 0],
    [2, 1],
    [4, 2],
    [4, 3],
  ])('%i queue(s), ring order %i: verified random read/write', async (queues, order) => {
    const d = await newDisk();
    const s = await runGuest(d, [...verified, '--queues', String(queues), '--ring-order', String(order)]);
    expect(s.features).toMatchObject({ queues, ring_order: order, ring_entries: 32 << order });
    expect(s.errors.total).toBe(0);
    expect(s.verify.failures).toBe(0);
    const stats = await host.rpc<any>('disk_stats', { name: d.name });
    expect(stats.queues.filter((q: any) => q.reads + q.writes > 0)).toHaveLength(queues);
    expect(stats.total.errors).toBe(0);
    await dropDisk(d);
  });

  test.each([
    ['indirect on', ['--indirect-segs', '32', '--bs', '128k'], 32],
    ['indirect off', ['--indirect-segs', '0', '--bs', '128k'], 0],
  ])('%s: 128 KiB requests verified', async (_what, args, segs) => {
    const d = await newDisk();
    const s = await runGuest(d, ['--verify', '--rw', 'randrw', '--iodepth', '8', '--ios', '600', '--size', `${32 * MiB}`, '--close', ...args]);
    expect(s.features.indirect_segs).toBe(segs);
    expect(s.errors.total).toBe(0);
    expect(s.verify.failures).toBe(0);
    await dropDisk(d);
  });

  test.each([
    ['persistent grants, zero copy', '1', true, {}],
    ['persistent grants, bounce buffers and memcpy', '1', true, { zero_copy: false }],
    ['grant copy only', '0', false, {}],
  ])('%s', async (_what, flag, persistent, features) => {
    const d = await newDisk(features);
    const s = await runGuest(d, [...verified, '--persistent', flag]);
    expect(s.features.persistent).toBe(persistent);
    const list = await host.rpc<any[]>('disk_list');
    expect(list.find((x) => x.name === d.name)).toBeDefined();
    const stats = await host.rpc<any>('disk_stats', { name: d.name });
    const hits = stats.queues.reduce((n: number, q: any) => n + q.persistent_hits, 0);
    if (persistent) expect(hits).toBeGreaterThan(0);
    else expect(hits).toBe(0);
    await dropDisk(d);
  });

  test('persistent grants past what a queue keeps mapped: requests part zero copy, part bounce pages, verified', async () => {
    // 32 requests of 192 pages in flight use 6144 persistent grants; a queue maps the first 4096 it
    // sees, which ends inside a request (4096 / 192 is not whole), and the guest reuses its pages
    // last in, first out: some requests mix mapped pages (the engine's I/O lands in the guest's
    // page) and grant-copied ones, the rest are one or the other.
    const d = await newDisk();
    const s = await runGuest(d, ['--verify', '--rw', 'randrw', '--bs', '768k', '--indirect-segs', '256', '--iodepth', '32', '--ring-order', '2',
      '--ios', '400', '--size', `${48 * MiB}`, '--close']);
    expect(s.features).toMatchObject({ persistent: true, indirect_segs: 256 });
    expect(s.errors.total).toBe(0);
    expect(s.verify.failures).toBe(0);
    const stats = await host.rpc<any>('disk_stats', { name: d.name });
    const sum = (k: string) => stats.queues.reduce((n: number, q: any) => n + q[k], 0);
    expect(sum('persistent_hits')).toBeGreaterThan(0);
    // One indirect page per request is always copied; more than that is data past the mapped grants.
    expect(sum('grant_copy_segments')).toBeGreaterThan(stats.total.reads + stats.total.writes);
    await dropDisk(d);
  });

  test('a null engine that costs CPU (null_cpu_us, for benchmarks): each request takes that long in the backend', async () => {
    const d = await newDisk({ engine: 'null', size: 64 * MiB, null_cpu_us: 300 });
    const s = await runGuest(d, ['--rw', 'randread', '--bs', '4k', '--iodepth', '1', '--ios', '200']);
    expect(s.errors.total).toBe(0);
    const stats = await host.rpc<any>('disk_stats', { name: d.name });
    expect(stats.total.reads).toBe(200);
    expect(stats.queues[0].latency_avg_us).toBeGreaterThanOrEqual(300);
    await dropDisk(d);
    // Refused while the parameters are read, before any device is looked at.
    const at = { name: 'cpu', backend: `backend/vbd/${d.domid}/51712` };
    await expect(host.rpc('disk_add', { ...at, path: d.file, null_cpu_us: 5 })).rejects.toThrow(/null_cpu_us is for the null engine/);
    await expect(host.rpc('disk_add', { ...at, engine: 'null', null_cpu_us: 5000 })).rejects.toThrow(/null_cpu_us/);
    expect((await host.rpc<any[]>('disk_list')).find((x) => x.name === 'cpu')).toBeUndefined();
  });

  (engine === 'uring' ? test : test.skip)('domain after domain: the daemon keeps no destroyed domain mapped, and serves more than 64 over time', async () => {
    const vmKiB = () => Number(/VmSize:\s+(\d+)/.exec(fs.readFileSync(`/proc/${host.daemon!.pid}/status`, 'utf8'))![1]);
    let after4 = 0;
    for (let i = 0; i < 70; i++) {
      const d = await newDisk({}, 4);
      await runGuest(d, ['--ios', '0', '--close']);
      await dropDisk(d);
      fs.rmSync(d.file);
      if (i === 4) after4 = vmKiB();
    }
    // Each simulated domain has 256 MiB of memory: one kept mapping would show.
    expect(vmKiB()).toBeLessThan(after4 + 64 * 1024);
  }, 120_000);

  test('x86_32 ABI', async () => {
    const d = await newDisk();
    const s = await runGuest(d, [...verified, '--abi', 'x86_32', '--queues', '2']);
    expect(s.features.abi).toBe('x86_32');
    expect(s.verify.failures).toBe(0);
    await dropDisk(d);
  });

  test('discard punches holes in the backing file; flush reaches the engine', async () => {
    const d = await newDisk({}, 64);
    const w = await runGuest(d, ['--rw', 'write', '--bs', '64k', '--iodepth', '4', '--size', `${32 * MiB}`, '--flush-every', '4', '--fua-every', '5']);
    const full = fs.statSync(d.file).blocks * 512;
    expect(w.bytes.write).toBeGreaterThan(16 * MiB); // one pass, flushes taking some of its I/Os
    expect(full).toBeGreaterThanOrEqual(w.bytes.write);
    const s = await runGuest(d, ['--rw', 'randwrite', '--bs', '1m', '--iodepth', '4', '--ios', '64', '--size', `${32 * MiB}`, '--discard-every', '1', '--close']);
    expect(s.features.discard).toBe(true);
    const after = fs.statSync(d.file).blocks * 512;
    expect(after).toBeLessThan(full - 8 * MiB);
    const stats = await host.rpc<any>('disk_stats', { name: d.name });
    expect(stats.total.discards).toBeGreaterThan(0);
    expect(stats.total.flushes).toBeGreaterThan(0);
    await dropDisk(d);
  });

  test('online resize is seen by the running guest', async () => {
    const d = await newDisk({}, 64);
    const { done } = host.guest(d.domid, ['--domid', String(d.domid), '--no-progress', '--rw', 'randread', '--bs', '4k', '--ios', '0', '--resize-wait', String((128 * MiB) / 512), '--timeout', '20']);
    await new Promise((r) => setTimeout(r, 1500));
    fs.truncateSync(d.file, 128 * MiB);
    await host.fileGrew(d);
    const disk = await host.rpc<any>('disk_resize', { name: d.name });
    expect(disk.sectors).toBe((128 * MiB) / 512);
    expect(host.xsRead(`/local/domain/0/backend/vbd/${d.domid}/51712/sectors`)).toBe(String((128 * MiB) / 512));
    const r = await done;
    expect(r.status).toBe(0);
    expect(r.summary.resize).toMatchObject({ seen: (128 * MiB) / 512 });
    await dropDisk(d);
  });

  test('pause holds new I/O and resume lets it go on, data intact', async () => {
    const d = await newDisk();
    const { done } = host.guest(d.domid, ['--domid', String(d.domid), '--no-progress', '--verify', '--rw', 'randrw', '--bs', '4k', '--iodepth', '8', '--runtime', '4', '--size', `${8 * MiB}`, '--close']);
    await new Promise((r) => setTimeout(r, 1000));
    await host.rpc('disk_pause', { name: d.name });
    const a = await host.rpc<any>('disk_stats', { name: d.name });
    await new Promise((r) => setTimeout(r, 500));
    const b = await host.rpc<any>('disk_stats', { name: d.name });
    expect(b.total.reads + b.total.writes).toBe(a.total.reads + a.total.writes);
    await host.rpc('disk_resume', { name: d.name });
    const r = await done;
    expect(r.status).toBe(0);
    expect(r.summary.verify.failures).toBe(0);
    const c = await host.rpc<any>('disk_stats', { name: d.name });
    expect(c.total.reads + c.total.writes).toBeGreaterThan(b.total.reads + b.total.writes);
    await dropDisk(d);
  });

  test('a disk removed while I/O is in flight: the guest sees it go, the daemon serves on', async () => {
    const d = await newDisk();
    const other = await newDisk();
    const { done } = host.guest(d.domid, ['--domid', String(d.domid), '--no-progress', '--rw', 'randrw', '--bs', '4k', '--iodepth', '16', '--runtime', '10', '--timeout', '5']);
    await new Promise((r) => setTimeout(r, 800));
    await host.rpc('disk_remove', { name: d.name });
    const r = await done;
    expect(r.signal).toBeNull(); // it ended on its own, no hang
    expect(host.xsRead(`/local/domain/0/backend/vbd/${d.domid}/51712/state`)).toBe('6');
    const s = await runGuest(other, [...verified]);
    expect(s.verify.failures).toBe(0);
    await dropDisk(other);
    host.toolstack('destroy-domain', String(d.domid));
  });

  test('a guest vanishing mid-I/O: the daemon disconnects its disk and serves on', async () => {
    const d = await newDisk();
    const { child, done } = host.guest(d.domid, ['--domid', String(d.domid), '--no-progress', '--rw', 'randrw', '--bs', '4k', '--iodepth', '16', '--runtime', '10']);
    await new Promise((r) => setTimeout(r, 800));
    child.kill('SIGKILL');
    await done;
    host.toolstack('destroy-domain', String(d.domid));
    // The daemon notices (frontend gone / domain released) and drops the connection.
    for (let i = 0; i < 50; i++) {
      const list = await host.rpc<any[]>('disk_list');
      const disk = list.find((x) => x.name === d.name);
      if (!disk || !disk.connected) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const list = await host.rpc<any[]>('disk_list');
    expect(list.find((x) => x.name === d.name)?.connected ?? false).toBe(false);
    const other = await newDisk();
    const s = await runGuest(other, [...verified]);
    expect(s.verify.failures).toBe(0);
    await dropDisk(other);
    await host.rpc('disk_remove', { name: d.name }).catch(() => undefined);
  });

  test('reconnection: a frontend that closed and comes back finds its data', async () => {
    const d = await newDisk();
    const state = path.join(host.dir, `verify-${d.domid}.state`);
    const first = await runGuest(d, [...verified, '--verify-state', state, '--queues', '2', '--ring-order', '1']);
    expect(first.verify.failures).toBe(0);
    expect(host.xsRead(`/local/domain/0/backend/vbd/${d.domid}/51712/state`)).toBe('6');
    // A guest reboot: the frontend starts again from Initialising, with other ring parameters.
    const second = await runGuest(d, [...verified, '--verify-state', state, '--queues', '4', '--ring-order', '3', '--abi', 'x86_32']);
    expect(second.features).toMatchObject({ queues: 4, ring_order: 3, abi: 'x86_32' });
    expect(second.verify.failures).toBe(0);
    expect(second.verify.sectors_known).toBeGreaterThan(0);
    await dropDisk(d);
  });

  test('a small bounce pool with large indirect requests: backpressure, never over-commit', async () => {
    // 300 pages hold one 1 MiB request (256 segments) at a time; the guest keeps 8 in flight.
    const d = await newDisk({ pool_pages: 300, zero_copy: false });
    const s = await runGuest(d, ['--verify', '--rw', 'randrw', '--bs', '1m', '--indirect-segs', '256', '--iodepth', '8', '--ios', '200', '--size', `${32 * MiB}`, '--close']);
    expect(s.features.indirect_segs).toBe(256);
    expect(s.verify.failures).toBe(0);
    expect(s.errors.total).toBe(0);
    await dropDisk(d);
  });
});
