// Bounded lock waits: with XAPI_SPDK_LOCK_TIMEOUT_MS small, a call that
// cannot get its lock (held here by a util-linux flock(1) helper, as another
// plugin process would hold it) fails with a well-formed Busy envelope after
// about that long, and changes nothing.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { srCreate, vdiCreate, type Volume } from '../harness/fixtures';
import { T, volumeList, type RpcType } from '../harness/rpclib';
import { Host } from '../harness/xss';
import { checkSrFiles, errorName, holdLock, judge, killAndWait, srRoot, type Outcome } from './helpers';

const MiB = 1024 * 1024;
const TIMEOUT_MS = 300;

describe('lock timeouts', () => {
  let host: Host;
  let sr: string;
  let root: string;
  let v: Volume;
  const holders: ChildProcess[] = [];

  beforeAll(() => {
    host = new Host('xss-locks-');
    ({ sr } = srCreate(host, { path: host.srsDir }));
    root = srRoot(sr);
    v = vdiCreate(host, sr, MiB, 'locked');
    host.call('volume', 'Volume.set', { dbg: 'setup', sr, key: v.key, k: 'a', v: '1' }, T.unit);
  });
  afterEach(async () => {
    for (const h of holders.splice(0)) await killAndWait(h);
  });
  afterAll(() => host?.cleanup());

  const img = () => path.join(root, 'volumes', `${v.key}.img`);
  const meta = () => path.join(root, 'volumes', `${v.key}.json`);
  const hold = async (file: string, mode: 'exclusive' | 'shared') => {
    const h = await holdLock(file, mode, 30);
    holders.push(h);
    return h;
  };

  /** A call with the short lock timeout in its environment; returns the outcome and how long it took. */
  function quick<T>(method: string, args: object, type: RpcType): { o: Outcome<T>; ms: number } {
    const start = Date.now();
    const raw = host.raw('volume', method, JSON.stringify({ dbg: 'lock-timeout', sr, ...args }), { XAPI_SPDK_LOCK_TIMEOUT_MS: String(TIMEOUT_MS) });
    return { o: judge<T>(method, raw, type), ms: Date.now() - start };
  }

  function expectBusy(r: { o: Outcome<unknown>; ms: number }, what: RegExp): void {
    if (r.o.ok) throw new Error(`expected Busy, got success: ${r.o.raw.stdout}`);
    expect(r.o.envelope.code).toBe('SR_BACKEND_FAILURE');
    expect(errorName(r.o.envelope)).toBe('Busy');
    expect(r.o.envelope.params[1]).toMatch(new RegExp(`timed out after ${TIMEOUT_MS} ms waiting for`));
    expect(r.o.envelope.params[1]).toMatch(what);
    expect(r.o.raw.status).not.toBe(0);
    // It waited for the lock about as long as it was told to, not the default 120 s.
    expect(r.ms).toBeGreaterThanOrEqual(TIMEOUT_MS);
    expect(r.ms).toBeLessThan(TIMEOUT_MS + 5000);
  }

  test('a volume locked elsewhere: metadata changes, resize and destroy time out and change nothing', async () => {
    const metaBefore = fs.readFileSync(meta());
    const sizeBefore = fs.statSync(img()).size;
    await hold(img(), 'exclusive');
    const volumeLock = new RegExp(`volume ${v.key}`);

    expectBusy(quick('Volume.set', { key: v.key, k: 'b', v: '2' }, T.unit), volumeLock);
    expectBusy(quick('Volume.unset', { key: v.key, k: 'a' }, T.unit), volumeLock);
    expectBusy(quick('Volume.set_name', { key: v.key, new_name: 'renamed' }, T.unit), volumeLock);
    expectBusy(quick('Volume.resize', { key: v.key, new_size: 2 * MiB }, T.unit), volumeLock);
    expectBusy(quick('Volume.destroy', { key: v.key }, T.unit), volumeLock);
    // A snapshot needs the source's shared lock, which an exclusive holder also refuses.
    expectBusy(quick('Volume.snapshot', { key: v.key }, T.volume), volumeLock);

    // Nothing changed, nothing was left behind.
    expect(fs.readFileSync(meta()).equals(metaBefore)).toBe(true);
    expect(fs.statSync(img()).size).toBe(sizeBefore);
    expect(fs.readdirSync(path.join(root, 'tmp'))).toEqual([]);
    expect(fs.readdirSync(path.join(root, 'volumes')).sort()).toEqual([`${v.key}.img`, `${v.key}.json`].sort());
    // Reading takes no lock and still answers.
    const stat = quick<Volume>('Volume.stat', { key: v.key }, T.volume);
    if (!stat.o.ok) throw new Error(stat.o.raw.stdout);
    expect(stat.o.value).toMatchObject({ name: 'locked', virtual_size: MiB, keys: { 'vdi-type': 'user', a: '1' } });
    // The plugin log says why.
    expect(host.log()).toMatch(/Busy.*timed out after 300 ms/);

    // Once the holder is gone the same call goes through.
    for (const h of holders.splice(0)) await killAndWait(h);
    const set = quick('Volume.set', { key: v.key, k: 'b', v: '2' }, T.unit);
    if (!set.o.ok) throw new Error(set.o.raw.stdout);
    expect(host.call<Volume>('volume', 'Volume.stat', { dbg: 'check', sr, key: v.key }, T.volume).keys).toEqual({ 'vdi-type': 'user', a: '1', b: '2' });
    host.call('volume', 'Volume.unset', { dbg: 'check', sr, key: v.key, k: 'b' }, T.unit);
    checkSrFiles(root);
  });

  test('a shared holder lets a snapshot through but not a metadata change', async () => {
    const metaBefore = fs.readFileSync(meta());
    await hold(img(), 'shared');
    expectBusy(quick('Volume.set', { key: v.key, k: 'c', v: '3' }, T.unit), new RegExp(`volume ${v.key}`));
    expect(fs.readFileSync(meta()).equals(metaBefore)).toBe(true);
    const snap = quick<Volume>('Volume.snapshot', { key: v.key }, T.volume);
    if (!snap.o.ok) throw new Error(snap.o.raw.stdout);
    expect(snap.o.value.read_write).toBe(false);
    expect(snap.ms).toBeLessThan(TIMEOUT_MS + 5000);
    host.call('volume', 'Volume.destroy', { dbg: 'check', sr, key: snap.o.value.key }, T.unit);
    checkSrFiles(root);
  });

  test('an SR locked exclusively elsewhere: Volume.create times out and makes nothing', async () => {
    const volumesBefore = fs.readdirSync(path.join(root, 'volumes')).sort();
    await hold(path.join(root, 'sr.lock'), 'exclusive');
    expectBusy(quick('Volume.create', { name: 'never', description: '', size: MiB, sharable: false }, T.volume), new RegExp(`SR ${sr}`));
    expectBusy(quick('SR.ls', {}, volumeList), new RegExp(`SR ${sr}`));
    expect(fs.readdirSync(path.join(root, 'volumes')).sort()).toEqual(volumesBefore);
    expect(fs.readdirSync(path.join(root, 'tmp'))).toEqual([]);
    for (const h of holders.splice(0)) await killAndWait(h);
    const made = quick<Volume>('Volume.create', { name: 'now', description: '', size: MiB, sharable: false }, T.volume);
    if (!made.o.ok) throw new Error(made.o.raw.stdout);
    host.call('volume', 'Volume.destroy', { dbg: 'check', sr, key: made.o.value.key }, T.unit);
    expect(host.call<Volume[]>('volume', 'SR.ls', { dbg: 'check', sr }, volumeList).map((x) => x.key)).toEqual([v.key]);
    checkSrFiles(root);
  });
});
