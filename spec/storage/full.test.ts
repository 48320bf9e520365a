// A path SR on a full filesystem (a small tmpfs, which has no reflink):
// snapshots and clones fall back to a full copy, which must hit ENOSPC and
// fail with SR_BACKEND_FAILURE_44 "Insufficient space", leaving nothing
// half-made; metadata updates either work or fail cleanly with the old
// metadata intact.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { T, volumeList } from '../harness/rpclib';
import { Host, interpret, PluginError, type Envelope } from '../harness/xss';
import { srCreate, vdiCreate, type SrStat, type Volume } from '../harness/fixtures';
import { attachLoop, cleanupDir, describeIf, imageOf, listDir, loopUnavailable, mountAt, must, sha256, sharedBytes, tmpfsUnavailable, writeAt } from './helpers';

const MiB = 1 << 20;
const unavailable = tmpfsUnavailable();

/** Writes `file` until the filesystem says ENOSPC; returns the bytes written. */
function fillUp(file: string): number {
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(256 * 1024, 0xee);
  let written = 0;
  try {
    for (;;) {
      try {
        written += fs.writeSync(fd, chunk);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw e;
      }
    }
    // Then byte by byte-ish, so that not even a page is left.
    for (const size of [65536, 4096, 512, 1]) {
      const small = Buffer.alloc(size, 0xee);
      for (;;) {
        try {
          written += fs.writeSync(fd, small);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw e;
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return written;
}

/** A call that may fail; an answer or a well-formed envelope, nothing else. */
function attempt<T>(host: Host, method: string, args: object, type: Parameters<Host['call']>[3]): { ok: true; value: T } | { ok: false; envelope: Envelope } {
  const out = host.raw('volume', method, JSON.stringify(args));
  try {
    return { ok: true, value: interpret(method, out, type) as T };
  } catch (e) {
    if (e instanceof PluginError) return { ok: false, envelope: e.envelope };
    throw e;
  }
}

describeIf(unavailable, 'path SR on a full tmpfs', () => {
  let host: Host;
  let fsDir: string;
  let sr: string;
  let root: string;
  let vol: Volume;
  let sum: string;
  let before: { volumes: string[]; tmp: string[]; keys: string[] };

  const snapshotOf = () => ({ volumes: listDir(path.join(root, 'volumes')), tmp: listDir(path.join(root, 'tmp')) });
  const lsKeys = () =>
    host
      .call<Volume[]>('volume', 'SR.ls', { dbg: 'test', sr }, volumeList)
      .map((v) => v.key)
      .sort();

  beforeAll(() => {
    host = new Host('xss-storage-full-');
    fsDir = path.join(host.dir, 'small');
    fs.mkdirSync(fsDir);
    must(['mount', '-t', 'tmpfs', '-o', 'size=8m,mode=0755', 'tmpfs', fsDir]);
  });

  afterAll(() => {
    if (host) cleanupDir(host.dir);
  });

  test('setup: a path SR with a volume holding data, then the filesystem filled up', () => {
    expect(mountAt(fsDir)?.fstype).toBe('tmpfs');
    ({ sr } = srCreate(host, { path: fsDir }));
    root = new URL(sr).pathname;
    expect(path.dirname(root)).toBe(fsDir);
    vol = vdiCreate(host, sr, 16 * MiB, 'data');
    host.call('volume', 'Volume.set', { dbg: 'test', sr, key: vol.key, k: 'keep', v: 'me' }, T.unit);
    writeAt(imageOf(vol), 0, Buffer.alloc(3 * MiB, 0x42));
    sum = sha256(imageOf(vol));

    const written = fillUp(path.join(fsDir, 'filler'));
    expect(written).toBeGreaterThan(2 * MiB);
    expect(written).toBeLessThan(6 * MiB);
    const s = fs.statfsSync(fsDir);
    expect(s.bavail).toBe(0);
    const stat = host.call<SrStat>('volume', 'SR.stat', { dbg: 'test', sr }, T.srStat);
    expect(stat.free_space).toBe(0);
    expect(stat.total_space).toBe(8 * MiB);

    before = { ...snapshotOf(), keys: lsKeys() };
    expect(before.keys).toEqual([vol.key]);
    expect(before.volumes).toEqual([`${vol.key}.img`, `${vol.key}.json`].sort());
    expect(before.tmp).toEqual([]);
  });

  test.each(['Volume.snapshot', 'Volume.clone'])('%s needs a full copy there and fails with SR_BACKEND_FAILURE_44, leaving nothing behind', (method) => {
    const e = host.fail('volume', method, { dbg: 'test', sr, key: vol.key });
    expect(e.code).toBe('SR_BACKEND_FAILURE_44');
    expect(e.params[0]).toBe('Insufficient space');
    expect(e.params[1]).toMatch(/space/i);
    expect(e.backtrace.files.length).toBe(e.backtrace.lines.length);
    expect(host.log()).toMatch(/reflink of .* not possible/);
    // Nothing half-made: the directories as before, before any SR.ls could tidy up.
    expect(snapshotOf()).toEqual({ volumes: before.volumes, tmp: before.tmp });
    expect(lsKeys()).toEqual(before.keys);
    expect(sha256(imageOf(vol))).toBe(sum);
    expect(fs.statfsSync(fsDir).bavail).toBe(0); // the partial copy's space was given back, no more
  });

  test('Volume.set on the full filesystem works or fails cleanly, with the metadata intact', () => {
    const r = attempt<null>(host, 'Volume.set', { dbg: 'test', sr, key: vol.key, k: 'new-key', v: 'x'.repeat(8192) }, T.unit);
    const st = host.call<Volume>('volume', 'Volume.stat', { dbg: 'test', sr, key: vol.key }, T.volume);
    if (r.ok) {
      expect(st.keys).toEqual({ 'vdi-type': 'user', keep: 'me', 'new-key': 'x'.repeat(8192) });
    } else {
      expect(r.envelope.code).toBe('SR_BACKEND_FAILURE_44');
      expect(r.envelope.params[0]).toBe('Insufficient space');
      expect(st.keys).toEqual({ 'vdi-type': 'user', keep: 'me' });
      expect(st.name).toBe('data');
    }
    expect(snapshotOf()).toEqual({ volumes: before.volumes, tmp: before.tmp });
  });

  test('SR.set_name on the full filesystem works or fails cleanly, with the SR metadata intact', () => {
    const r = attempt<null>(host, 'SR.set_name', { dbg: 'test', sr, new_name: 'n'.repeat(8192) }, T.unit);
    const stat = host.call<SrStat>('volume', 'SR.stat', { dbg: 'test', sr }, T.srStat);
    if (r.ok) {
      expect(stat.name).toBe('n'.repeat(8192));
    } else {
      expect(r.envelope.code).toBe('SR_BACKEND_FAILURE_44');
      expect(r.envelope.params[0]).toBe('Insufficient space');
      expect(stat.name).toBe('test SR');
    }
    expect(fs.readdirSync(root).sort()).toEqual(['sr.json', 'sr.lock', 'tmp', 'volumes']);
    expect(snapshotOf()).toEqual({ volumes: before.volumes, tmp: before.tmp });
  });

  test('Volume.create on the full filesystem works or fails with SR_BACKEND_FAILURE_44 and leaves nothing', () => {
    const r = attempt<Volume>(host, 'Volume.create', { dbg: 'test', sr, name: 'more', description: '', size: 4 * MiB, sharable: false }, T.volume);
    if (r.ok) {
      expect(lsKeys()).toEqual([...before.keys, r.value.key].sort());
      host.call('volume', 'Volume.destroy', { dbg: 'test', sr, key: r.value.key }, T.unit);
    } else {
      expect(r.envelope.code).toBe('SR_BACKEND_FAILURE_44');
    }
    expect(snapshotOf()).toEqual({ volumes: before.volumes, tmp: before.tmp });
    expect(lsKeys()).toEqual(before.keys);
  });

  test('with space freed again, the snapshot is a full copy with the same data', () => {
    fs.rmSync(path.join(fsDir, 'filler'));
    const snap = host.call<Volume>('volume', 'Volume.snapshot', { dbg: 'test', sr, key: vol.key }, T.volume);
    expect(snap.read_write).toBe(false);
    expect(host.log()).toContain(`snapshot of ${vol.key} by full copy`);
    expect(sha256(imageOf(snap))).toBe(sum);
    // A sparse copy: about the 3 MiB of data, not the 16 MiB of virtual size.
    expect(snap.physical_utilisation).toBeLessThan(4 * MiB);
    expect(lsKeys()).toEqual([...before.keys, snap.key].sort());
    expect(listDir(path.join(root, 'tmp'))).toEqual([]);
    host.call('volume', 'SR.detach', { dbg: 'test', sr }, T.unit);
    expect(mountAt(fsDir)?.fstype).toBe('tmpfs'); // a path SR never unmounts what holds it
  });
});

// The same on a full XFS (the smallest mkfs.xfs makes, on a loop device):
// reflinks are possible, but a full XFS has no room even for a new inode or
// a metadata file, so every creating call must fail with
// SR_BACKEND_FAILURE_44 (or work) and leave nothing behind.
const noLoop = loopUnavailable(['mkfs.xfs']);

describeIf(noLoop, 'path SR on a full XFS (loop device)', () => {
  let host: Host;
  let dev: string;
  let fsDir: string;
  let sr: string;
  let root: string;
  let vol: Volume;
  let snap: Volume;
  let sum: string;
  let before: { volumes: string[]; tmp: string[] };

  const dirs = () => ({ volumes: listDir(path.join(root, 'volumes')), tmp: listDir(path.join(root, 'tmp')) });
  const volumes = () => host.call<Volume[]>('volume', 'SR.ls', { dbg: 'test', sr }, volumeList);

  beforeAll(() => {
    host = new Host('xss-storage-fullxfs-');
    dev = attachLoop(path.join(host.dir, 'disk.img'), 300 * MiB);
    must(['mkfs.xfs', '-f', '-q', '-m', 'reflink=1,crc=1', dev]);
    fsDir = path.join(host.dir, 'xfs');
    fs.mkdirSync(fsDir);
    must(['mount', '-t', 'xfs', dev, fsDir]);
  });

  afterAll(() => {
    if (host) cleanupDir(host.dir, dev ? [dev] : []);
  });

  test('setup: a volume with data and a reflink snapshot, then the filesystem filled up', () => {
    expect(mountAt(fsDir)?.fstype).toBe('xfs');
    ({ sr } = srCreate(host, { path: fsDir }));
    root = new URL(sr).pathname;
    vol = vdiCreate(host, sr, 16 * MiB, 'data');
    writeAt(imageOf(vol), 0, Buffer.alloc(4 * MiB, 0x17));
    sum = sha256(imageOf(vol));
    snap = host.call<Volume>('volume', 'Volume.snapshot', { dbg: 'test', sr, key: vol.key }, T.volume);
    expect(host.log()).toContain(`snapshot of ${vol.key} by reflink`);

    const written = fillUp(path.join(fsDir, 'filler'));
    expect(written).toBeGreaterThan(200 * MiB);
    must(['sync', '-f', fsDir]);
    // Not even an empty file fits any more.
    expect(() => fs.writeFileSync(path.join(fsDir, 'probe'), '')).toThrow(/ENOSPC/);
    const stat = host.call<SrStat>('volume', 'SR.stat', { dbg: 'test', sr }, T.srStat);
    expect(stat.free_space).toBeLessThan(MiB);
    before = dirs();
    expect(volumes().map((v) => v.key).sort()).toEqual([vol.key, snap.key].sort());
  });

  test.each([
    ['Volume.snapshot', () => ({ key: vol.key })],
    ['Volume.clone', () => ({ key: snap.key })],
    ['Volume.create', () => ({ name: 'new', description: '', size: MiB, sharable: false })],
  ] as [string, () => object][])('%s on the full XFS fails with SR_BACKEND_FAILURE_44 or works, and leaves nothing half-made', (method, args) => {
    const r = attempt<Volume>(host, method, { dbg: 'test', sr, ...args() }, T.volume);
    if (r.ok) {
      // Worked after all: a complete volume that can be listed and removed.
      expect(volumes().map((v) => v.key)).toContain(r.value.key);
      host.call('volume', 'Volume.destroy', { dbg: 'test', sr, key: r.value.key }, T.unit);
    } else {
      expect(r.envelope.code).toBe('SR_BACKEND_FAILURE_44');
      expect(r.envelope.params[0]).toBe('Insufficient space');
      expect(r.envelope.backtrace.files.length).toBe(r.envelope.backtrace.lines.length);
    }
    expect(dirs()).toEqual(before);
    expect(volumes().map((v) => v.key).sort()).toEqual([vol.key, snap.key].sort());
    expect(sha256(imageOf(vol))).toBe(sum);
  });

  test('Volume.set on the full XFS works or fails cleanly, with the metadata intact', () => {
    const r = attempt<null>(host, 'Volume.set', { dbg: 'test', sr, key: vol.key, k: 'big', v: 'y'.repeat(65536) }, T.unit);
    const st = host.call<Volume>('volume', 'Volume.stat', { dbg: 'test', sr, key: vol.key }, T.volume);
    if (r.ok) {
      expect(st.keys).toEqual({ 'vdi-type': 'user', big: 'y'.repeat(65536) });
    } else {
      expect(r.envelope.code).toBe('SR_BACKEND_FAILURE_44');
      expect(st.keys).toEqual({ 'vdi-type': 'user' });
    }
    expect(dirs()).toEqual(before);
  });

  test('with space freed, snapshot works again by reflink and Volume.destroy frees the SR', () => {
    fs.rmSync(path.join(fsDir, 'filler'));
    const again = host.call<Volume>('volume', 'Volume.snapshot', { dbg: 'test', sr, key: vol.key }, T.volume);
    expect(sha256(imageOf(again))).toBe(sum);
    expect(sharedBytes(imageOf(again))).toBeGreaterThanOrEqual(4 * MiB);
    for (const key of [again.key, snap.key, vol.key]) host.call('volume', 'Volume.destroy', { dbg: 'test', sr, key }, T.unit);
    expect(volumes()).toEqual([]);
    expect(listDir(path.join(root, 'volumes'))).toEqual([]);
    expect(listDir(path.join(root, 'tmp'))).toEqual([]);
  });
});
