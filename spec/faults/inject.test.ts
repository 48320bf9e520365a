// Fault injection into the engine (SPDK's error bdev, bdev_error_inject_error): I/O errors for a
// sector range, for N requests, for flushes, seen by a verifying guest as BLKIF_RSP_ERROR for
// exactly those requests; the daemon stays up, counts them, and serves normally once cleared.
import { SimHost, type SimDisk } from '../harness/sim';

const MiB = 1024 * 1024;
let host: SimHost;

beforeAll(async () => {
  host = await SimHost.start('xensim-faults-');
  await host.startDaemon(['--allow-fault-injection']);
}, 30_000);
afterAll(async () => {
  await host?.stop();
});

/** Runs a guest to its end; its exit status is not an error here (injected errors make it 1). */
async function guest(d: SimDisk, args: string[]) {
  const { done } = host.guest(d.domid, ['--domid', String(d.domid), '--no-progress', '--timeout', '10', ...args]);
  const r = await done;
  if (!r.summary) throw new Error(`guest printed no summary (${r.status ?? r.signal}): ${r.stderr}\n${host.daemonLog.slice(-2000)}`);
  return r;
}

async function drop(d: SimDisk) {
  host.toolstack('destroy-domain', String(d.domid));
  await host.rpc('disk_remove', { name: d.name }).catch(() => undefined);
}

const stats = (d: SimDisk) => host.rpc<any>('disk_stats', { name: d.name });

test('fault inject-range: every I/O touching the sector range fails, everything else verifies', async () => {
  const d = await host.addDisk();
  // Sectors [2048, 4096): the second MiB, 256 blocks of 4 KiB.
  const rule = await host.rpc<any>('disk_inject_error', { name: d.name, io_type: 'all', sector_from: 2048, sector_to: 4096 });
  expect(rule.rules).toEqual([expect.objectContaining({ io_type: 'all', sector_from: 2048, sector_to: 4096, count: null, errno: 5 })]);
  // One sequential pass writes each of the 1024 blocks once, then the verify pass reads each once.
  const r = await guest(d, ['--verify', '--rw', 'write', '--bs', '4k', '--iodepth', '8', '--size', `${4 * MiB}`]);
  const s = r.summary;
  expect(s.ops.write).toBe(1024);
  expect(s.io_errors).toBe(256);
  expect(s.phases.verify_pass.ops.read).toBe(1024);
  expect(s.phases.verify_pass.io_errors).toBe(256);
  expect(s.errors).toMatchObject({ io: 512, aborted: 0, timeout: 0, protocol: 0, verify: 0 });
  expect(s.verify.failures).toBe(0);
  expect(s.verify.sectors_known).toBe((3 * MiB) / 512); // the failed writes are unknown, the rest verified
  const st = await stats(d);
  expect(st.total.errors).toBe(512);
  expect(st.faults).toMatchObject({ injected: 512, rules: [expect.objectContaining({ hits: 512 })] });

  // Cleared: the same region, all of it, reads and writes, verified.
  const cleared = await host.rpc<any>('disk_clear_errors', { name: d.name });
  expect(cleared.rules).toEqual([]);
  const again = await guest(d, ['--verify', '--rw', 'randrw', '--bs', '4k', '--iodepth', '8', '--ios', '2000', '--size', `${4 * MiB}`, '--close']);
  expect(again.status).toBe(0);
  expect(again.summary.errors.total).toBe(0);
  expect(again.summary.verify.failures).toBe(0);
  expect((await stats(d)).total.errors).toBe(512);
  await drop(d);
});

test('fault inject-count: exactly N writes fail, then the rule is used up', async () => {
  const d = await host.addDisk();
  await host.rpc('disk_inject_error', { name: d.name, io_type: 'write', count: 5, errno: 'ENOSPC' });
  const r = await guest(d, ['--verify', '--rw', 'randrw', '--bs', '4k', '--iodepth', '16', '--queues', '2', '--ios', '3000', '--size', `${8 * MiB}`, '--close']);
  const s = r.summary;
  expect(s.io_errors).toBe(5);
  expect(s.errors).toMatchObject({ io: 5, total: 5, aborted: 0, verify: 0 });
  expect(s.verify.failures).toBe(0);
  const st = await stats(d);
  expect(st.total.errors).toBe(5);
  expect(st.faults.injected).toBe(5);
  expect(st.faults.rules[0]).toMatchObject({ io_type: 'write', count: 5, left: 0, hits: 5, errno: 28 });
  // Used up but still listed until cleared: the next guest sees no error.
  const again = await guest(d, ['--verify', '--rw', 'randrw', '--bs', '4k', '--iodepth', '16', '--ios', '1000', '--size', `${8 * MiB}`, '--close']);
  expect(again.summary.errors.total).toBe(0);
  await host.rpc('disk_clear_errors', { name: d.name });
  await drop(d);
});

test('fault inject-flush: FUA writes fail with BLKIF_RSP_ERROR, plain writes and reads verify', async () => {
  const d = await host.addDisk();
  await host.rpc('disk_inject_error', { name: d.name, io_type: 'flush' });
  const r = await guest(d, ['--verify', '--rw', 'randwrite', '--bs', '4k', '--iodepth', '8', '--ios', '600', '--fua-every', '3', '--size', `${4 * MiB}`]);
  const s = r.summary;
  const fua = Math.floor(s.ops.write / 3);
  expect(fua).toBeGreaterThan(100);
  expect(s.io_errors).toBe(fua); // every FUA write (its flush fails), nothing else
  expect(s.phases.verify_pass.io_errors).toBe(0);
  expect(s.verify.failures).toBe(0);
  const st = await stats(d);
  expect(st.total.errors).toBe(fua);
  expect(st.faults.injected).toBe(fua);
  await drop(d);
});

test('fault inject-empty-flush: a failed empty flush turns the guest\'s flushes off, as Linux blkfront does', async () => {
  const d = await host.addDisk();
  await host.rpc('disk_inject_error', { name: d.name, io_type: 'flush', count: 1 });
  const r = await guest(d, ['--verify', '--rw', 'randwrite', '--bs', '4k', '--iodepth', '1', '--ios', '200', '--flush-every', '10', '--size', `${4 * MiB}`]);
  const s = r.summary;
  // blkif_interrupt: BLKIF_RSP_ERROR on an empty flush means "no flush here", not an I/O error.
  expect(s.features.flush_disabled_by_backend).toBe(true);
  expect(s.flushes_dropped).toBeGreaterThan(0);
  expect(s.errors.total).toBe(0);
  expect(s.verify.failures).toBe(0);
  const st = await stats(d);
  expect(st.total.errors).toBe(1);
  expect(st.faults.injected).toBe(1);
  await drop(d);
});

test('fault inject-discard: discards in a range fail, the rest of the disk is untouched', async () => {
  const d = await host.addDisk();
  await host.rpc('disk_inject_error', { name: d.name, io_type: 'discard', sector_from: 0, sector_to: 2048, errno: 'EIO' });
  const r = await guest(d, ['--verify', '--rw', 'randwrite', '--bs', '64k', '--iodepth', '4', '--ios', '400', '--discard-every', '4', '--size', `${2 * MiB}`]);
  const s = r.summary;
  expect(s.ops.discard).toBeGreaterThan(0);
  expect(s.io_errors).toBeGreaterThan(0);
  expect(s.io_errors).toBeLessThanOrEqual(s.ops.discard); // only discards fail
  expect(s.verify.failures).toBe(0);
  expect((await stats(d)).total.errors).toBe(s.io_errors);
  await drop(d);
});

test('fault inject-params: bad rules are refused with clear messages; other disks are not affected', async () => {
  const d = await host.addDisk();
  const other = await host.addDisk();
  const bad: Array<[object, RegExp]> = [
    [{ name: d.name, io_type: 'bogus' }, /io_type must be/],
    [{ name: d.name }, /io_type must be/],
    [{ name: d.name, io_type: 'read', sector_from: 10, sector_to: 10 }, /sector_to must be above/],
    [{ name: d.name, io_type: 'read', count: 0 }, /count must be at least 1/],
    [{ name: d.name, io_type: 'read', errno: 'EWHAT' }, /errno must be/],
    [{ name: d.name, io_type: 'read', errno: 0 }, /errno must be/],
    [{ name: d.name, io_type: 'read', sector_from: -1 }, /sector_from must be/],
    [{ name: d.name, io_type: 'read', colour: 'red' }, /unknown parameter colour/],
    [{ name: 'nope', io_type: 'read' }, /no disk named nope/],
  ];
  for (const [params, msg] of bad) await expect(host.rpc('disk_inject_error', params)).rejects.toMatchObject({ code: -32602, message: expect.stringMatching(msg) });
  await expect(host.rpc('disk_clear_errors', { name: d.name, extra: 1 })).rejects.toThrow(/unknown parameter extra/);
  await host.rpc('disk_inject_error', { name: d.name, io_type: 'all' });
  const r = await guest(other, ['--verify', '--rw', 'randrw', '--bs', '4k', '--iodepth', '8', '--ios', '1000', '--size', `${4 * MiB}`, '--close']);
  expect(r.summary.errors.total).toBe(0);
  expect((await stats(other)).faults.injected).toBe(0);
  await host.rpc('disk_clear_errors', { name: d.name });
  await drop(d);
  await drop(other);
});

test('fault inject-refused: a daemon started without --allow-fault-injection refuses both methods', async () => {
  const plain = await SimHost.start('xensim-nofaults-');
  try {
    await plain.startDaemon();
    const d = await plain.addDisk();
    await expect(plain.rpc('disk_inject_error', { name: d.name, io_type: 'all' })).rejects.toMatchObject({
      code: -32000,
      message: expect.stringMatching(/not allowed.*--allow-fault-injection/),
    });
    await expect(plain.rpc('disk_clear_errors', { name: d.name })).rejects.toThrow(/--allow-fault-injection/);
    expect((await plain.rpc<any>('disk_stats', { name: d.name })).faults).toBeUndefined();
  } finally {
    await plain.stop();
  }
});
