// The daemon SIGKILLed under load: data acknowledged before an acknowledged flush is durable.
// The guest writes a verified pattern, flushes, saves the model of what the flush covered, then
// keeps writing elsewhere; the daemon is killed mid-I/O. The guest gives up within its timeout
// (no hang), the backing file holds exactly the flushed pattern, and a new daemon serves the same
// file to a new guest that verifies it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { processesUsing, SimHost, type SimDisk } from '../harness/sim';

const MiB = 1024 * 1024;
const REGION = 8 * MiB;
let host: SimHost;

beforeAll(async () => {
  host = await SimHost.start('xensim-kill-');
  await host.startDaemon();
}, 30_000);
afterAll(async () => {
  await host?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every sector of the region carries our verify header with its own LBA (read from the file itself). */
function headersInFile(file: string, bytes: number): { ours: number; misplaced: number } {
  const buf = Buffer.alloc(bytes);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, buf, 0, bytes, 0);
  } finally {
    fs.closeSync(fd);
  }
  let ours = 0;
  let misplaced = 0;
  for (let off = 0; off < bytes; off += 512) {
    if (buf.readUInt32LE(off) !== 0x46425658) continue; // "XVBF"
    ours++;
    if (buf.readBigUInt64LE(off + 8) !== BigInt(off / 512)) misplaced++;
  }
  return { ours, misplaced };
}

test('fault daemon-sigkill: what a flush covered survives a SIGKILL mid-I/O and a new daemon serves it', async () => {
  const d = await host.addDisk();
  const durable = path.join(host.dir, 'durable.model');
  const first = host.guest(d.domid, [
    '--domid', String(d.domid), '--no-progress', '--timeout', '3',
    '--verify', '--rw', 'write', '--bs', '64k', '--iodepth', '8', '--queues', '2', '--size', String(REGION), '--fua-every', '7',
    '--durable-state', durable, '--after-offset', String(32 * MiB), '--after-runtime', '30',
  ]);
  for (let i = 0; i < 200 && !fs.existsSync(durable); i++) await sleep(50);
  expect(fs.existsSync(durable)).toBe(true);
  // The writes after the checkpoint are under way: kill the daemon in the middle of them.
  const before = await host.rpc<any>('disk_stats', { name: d.name });
  await sleep(300);
  const during = await host.rpc<any>('disk_stats', { name: d.name });
  expect(during.total.writes).toBeGreaterThan(before.total.writes);
  const killed = host.daemon!;
  const exited = new Promise((r) => killed.once('exit', r));
  killed.kill('SIGKILL');
  await exited;

  // The guest ends on its own, with errors, within its timeout.
  const t0 = Date.now();
  const r = await first.done;
  expect(Date.now() - t0).toBeLessThan(10_000);
  expect(r.signal).toBeNull();
  expect(r.status).toBe(1);
  expect(r.summary.errors.timeout + r.summary.errors.aborted).toBeGreaterThan(0);
  expect(r.summary.phases.after.ops.write).toBeGreaterThan(0);
  expect(r.summary.verify.failures).toBe(0);
  expect(r.stderr).toMatch(/durable: 16384 sectors acknowledged before a flush/);

  // The file itself: every sector of the flushed region is ours, at its own LBA.
  expect(headersInFile(d.file, REGION)).toEqual({ ours: REGION / 512, misplaced: 0 });

  // A new daemon on the same file, for a new domain; a new guest checks the region against the model.
  await host.startDaemon();
  const domid = 90;
  host.toolstack('create-domain', String(domid));
  host.toolstack('add-vbd', String(domid), '51712', '--kind', 'vbd');
  await host.rpc('disk_add', { name: 'again', backend: `backend/vbd/${domid}/51712`, path: d.file });
  const again: SimDisk = { domid, name: 'again', file: d.file };
  const v = await host.guest(again.domid, ['--domid', String(domid), '--no-progress', '--verify', '--verify-state', durable, '--rw', 'read', '--bs', '64k', '--iodepth', '8', '--size', String(REGION), '--close']).done;
  expect(v.status).toBe(0);
  expect(v.summary.verify).toMatchObject({ failures: 0, sectors_known: REGION / 512 });
  expect(v.summary.verify.sectors_checked.ok).toBeGreaterThanOrEqual(REGION / 512);
  // Nothing of the killed daemon is left: only the new one (and the simulator's services) remain.
  expect(processesUsing(host.dir)).not.toContain(killed.pid);
  host.toolstack('destroy-domain', String(domid));
  await host.rpc('disk_remove', { name: 'again' }).catch(() => undefined);
});
