// The backing filesystem fills up: a sparse backing file larger than the free space of a small
// ext4 (on a loop device). Writes past the free space fail cleanly with BLKIF_RSP_ERROR (no hang,
// no crash, a partly written request is a failure too), data written before reads back verified,
// another disk of the same daemon is not affected, and once space is freed writes succeed again.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SimHost, type SimDisk } from '../harness/sim';

const MiB = 1024 * 1024;
let host: SimHost | undefined;
let work = '';
let mnt = '';
let loop = '';
let mounted = false;

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.stdout || r.error}`);
  return r.stdout.trim();
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'xenblkd-enospc-'));
  mnt = path.join(work, 'mnt');
  fs.mkdirSync(mnt);
  const image = path.join(work, 'fs.img');
  fs.writeFileSync(image, '');
  fs.truncateSync(image, 64 * MiB);
  loop = run('losetup', ['--find', '--show', image]);
  run('mkfs.ext4', ['-q', '-F', '-b', '4096', '-m', '0', loop]);
  run('mount', [loop, mnt]);
  mounted = true;
  // Ballast, to be deleted later to free space.
  run('dd', ['if=/dev/zero', `of=${path.join(mnt, 'ballast')}`, 'bs=1M', 'count=16', 'conv=fsync', 'status=none']);
  host = await SimHost.start('xensim-enospc-');
  await host.startDaemon();
}, 30_000);

afterAll(async () => {
  // The daemon holds the backing file open: stop it before unmounting. Each step runs even if one before failed.
  const errors: unknown[] = [];
  try {
    await host?.stop();
  } catch (e) {
    errors.push(e);
  }
  if (mounted) {
    const r = spawnSync('umount', [mnt]);
    if (r.status !== 0) spawnSync('umount', ['-l', mnt]);
  }
  if (loop) spawnSync('losetup', ['-d', loop]);
  if (work) fs.rmSync(work, { recursive: true, force: true });
  if (errors.length) throw errors[0];
}, 30_000);

/** A domain whose vbd the daemon serves from `file`. */
async function diskOn(file: string, sizeMiB: number, name: string, domid: number): Promise<SimDisk> {
  fs.writeFileSync(file, '');
  fs.truncateSync(file, sizeMiB * MiB);
  host!.toolstack('create-domain', String(domid));
  host!.toolstack('add-vbd', String(domid), '51712', '--kind', 'vbd');
  await host!.rpc('disk_add', { name, backend: `backend/vbd/${domid}/51712`, path: file });
  return { domid, name, file };
}

async function guest(d: SimDisk, args: string[]) {
  const { done } = host!.guest(d.domid, ['--domid', String(d.domid), '--no-progress', '--timeout', '10', ...args]);
  const r = await done;
  if (!r.summary) throw new Error(`guest printed no summary (${r.status ?? r.signal}): ${r.stderr}\n${host!.daemonLog.slice(-2000)}`);
  return r;
}

test('fault enospc: writes past the free space fail cleanly, written data verifies, other disks and later writes are fine', async () => {
  const full = await diskOn(path.join(mnt, 'disk.img'), 256, 'full', 40);
  const other = await diskOn(path.join(host!.dir, 'other.img'), 64, 'other', 41);
  const free = Number(run('df', ['-B1', '--output=avail', mnt]).split('\n')[1]);
  expect(free).toBeLessThan(48 * MiB);

  // 128 MiB written sequentially in 1 MiB requests (one blkif request each: 256 indirect segments) into ~40 MiB of free space, while another disk runs.
  const [r, o] = await Promise.all([
    guest(full, ['--verify', '--rw', 'write', '--bs', '1m', '--indirect-segs', '256', '--iodepth', '4', '--size', `${128 * MiB}`]),
    guest(other, ['--verify', '--rw', 'randrw', '--bs', '4k', '--iodepth', '16', '--ios', '4000', '--size', `${16 * MiB}`, '--close']),
  ]);
  const s = r.summary;
  expect(r.signal).toBeNull();
  expect(s.ops.write).toBe(128);
  expect(s.io_errors).toBeGreaterThan(64); // most of it did not fit
  expect(s.io_errors).toBeLessThan(128); // what fitted was written
  expect(s.errors).toMatchObject({ aborted: 0, timeout: 0, protocol: 0, verify: 0 });
  // The verify pass reads all of it: what was acknowledged reads back, the rest reads as holes.
  expect(s.phases.verify_pass.io_errors).toBe(0);
  expect(s.verify.failures).toBe(0);
  expect(s.verify.sectors_known).toBe(((128 - s.io_errors) * MiB) / 512);
  expect(o.summary.errors.total).toBe(0);
  expect(o.summary.verify.failures).toBe(0);

  const st = await host!.rpc<any>('disk_stats', { name: 'full' });
  expect(st.total.errors).toBe(s.io_errors);
  expect(host!.daemonLog).not.toMatch(/cannot|broke/);
  expect((await host!.rpc<any>('disk_get', { name: 'full' })).connected).toBe(true);

  // Space freed: writes to parts of the disk never allocated succeed, verified.
  fs.unlinkSync(path.join(mnt, 'ballast'));
  run('sync', ['-f', mnt]);
  const after = await guest(full, ['--verify', '--rw', 'write', '--bs', '1m', '--iodepth', '4', '--offset', `${160 * MiB}`, '--size', `${8 * MiB}`, '--close']);
  expect(after.status).toBe(0);
  expect(after.summary.errors.total).toBe(0);
  expect(after.summary.verify.sectors_known).toBe((8 * MiB) / 512);
  expect((await host!.rpc<any>('disk_stats', { name: 'full' })).total.errors).toBe(s.io_errors);

  host!.toolstack('destroy-domain', '40');
  host!.toolstack('destroy-domain', '41');
  await host!.rpc('disk_remove', { name: 'full' }).catch(() => undefined);
  await host!.rpc('disk_remove', { name: 'other' }).catch(() => undefined);
});
