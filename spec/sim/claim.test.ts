// Claim disks: the daemon is told only the guest's domid and a value, and
// claims the backend/qdisk/<domid>/<devid> entry xenopsd writes later (with
// the value under sm-data/), as the datapath plugin needs it. Also the
// toolstack's `mode`, shutdown-request teardown, a disk paused from the
// start, an NBD-only disk and the strict checking of claim parameters.
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bin, SimHost } from '../harness/sim';

const MiB = 1024 * 1024;
const KEY = 'sm-data/xenblkd-disk';
const BOOT_DOMID = 30;
let host: SimHost;
let nextDomid = BOOT_DOMID + 1;

function image(name: string, sizeMiB = 32): string {
  const file = path.join(host.dir, `${name}.img`);
  fs.writeFileSync(file, '');
  fs.truncateSync(file, sizeMiB * MiB);
  return file;
}

beforeAll(async () => {
  host = await SimHost.start();
  // Started with a claim disk before xenstore has any entry for its domain.
  const disk = { name: 'boot', path: image('boot'), claim: { domid: BOOT_DOMID, value: 'vdi-boot' } };
  await host.startDaemon(['--disk', JSON.stringify(disk)]);
}, 30_000);
afterAll(async () => {
  await host?.stop();
});

const be = (domid: number, devid = 51712) => `/local/domain/0/backend/qdisk/${domid}/${devid}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function newDomain(): number {
  const domid = nextDomid++;
  host.toolstack('create-domain', String(domid));
  return domid;
}

/** The toolstack, for commands expected to fail. */
function toolstackRaw(...args: string[]) {
  return spawnSync(bin('xensim-toolstack'), args, { env: host.env, encoding: 'utf8', timeout: 30_000 });
}

/** What xenopsd writes for a qdisk VBD of an SMAPIv3 XenDisk, then (by default) waits for hotplug-status. */
function plug(domid: number, value: string, opts: { devid?: number; mode?: 'w' | 'r'; wait?: boolean; keys?: string[] } = {}): string {
  const devid = opts.devid ?? 51712;
  host.toolstack(
    '--timeout', '20', 'add-vbd', String(domid), String(devid), '--kind', 'qdisk', '--mode', opts.mode ?? 'w',
    '--params', `nbd:unix:/run/nowhere.sock:exportname=${value}`, '--backend-key', `qemu-params=vdi:${value}`,
    '--backend-key', `${KEY}=${value}`, '--backend-key', 'sm-data/backend-kind=qdisk',
    ...(opts.keys ?? []), ...(opts.wait === false ? [] : ['--wait-hotplug']),
  );
  return be(domid, devid);
}

const unplug = (domid: number, ...extra: string[]) => host.toolstack('--timeout', '20', 'remove-vbd', String(domid), '51712', '--kind', 'qdisk', ...extra);

const disk = (name: string) => host.rpc<any>('disk_get', { name });

async function waitFor<T>(what: string, fn: () => T | Promise<T>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${host.daemonLog.slice(-2000)}`);
    await sleep(50);
  }
}

async function runGuest(domid: number, args: string[], devid = 51712) {
  const { done } = host.guest(domid, ['--domid', String(domid), '--devid', String(devid), '--no-progress', ...args]);
  const r = await done;
  if (r.status !== 0) throw new Error(`guest failed (${r.status ?? r.signal}): ${r.stdout.slice(-2000)} ${r.stderr.slice(-2000)}\n${host.daemonLog.slice(-2000)}`);
  return r.summary;
}

const verified = (extra: string[] = []) => ['--verify', '--rw', 'randrw', '--bs', '4k', '--iodepth', '8', '--ios', '1500', '--size', `${16 * MiB}`, '--close', ...extra];

async function addClaim(name: string, claim: object, extra: object = {}) {
  return host.rpc<any>('disk_add', { name, path: image(name), claim, ...extra });
}

const sha = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

test('a disk given at start claims the entry xenopsd writes later, and again after an unplug and a new plug', async () => {
  const before = await disk('boot');
  expect(before).toMatchObject({ backend: '', connected: false, paused: false, claim: { domid: BOOT_DOMID, kind: 'qdisk', key: KEY, value: 'vdi-boot', claimed: false } });
  expect(host.xsRead(`/local/domain/0/backend/qdisk/${BOOT_DOMID}`)).toBeUndefined();

  host.toolstack('create-domain', String(BOOT_DOMID));
  const b = plug(BOOT_DOMID, 'vdi-boot'); // fails unless hotplug-status=connected comes
  expect(host.xsRead(`${b}/hotplug-status`)).toBe('connected');
  expect(host.xsRead(`${b}/max-ring-page-order`)).toBeDefined();
  expect(await disk('boot')).toMatchObject({ backend: b, domid: BOOT_DOMID, mode: 'w', claim: { claimed: true } });

  const state = path.join(host.dir, 'boot.state');
  const first = await runGuest(BOOT_DOMID, verified(['--verify-state', state, '--queues', '2']));
  expect(first.verify.failures).toBe(0);
  expect(first.features.queues).toBe(2);
  expect(first.features.readonly).toBe(false);

  // Unplug: xenopsd's online=0 + Closing; the directory goes, the disk waits again.
  unplug(BOOT_DOMID);
  expect(host.xsRead(b)).toBeUndefined();
  await waitFor('the disk to wait again', async () => (await disk('boot')).claim.claimed === false);
  expect(await disk('boot')).toMatchObject({ backend: '', connected: false });

  // Plugged again (same domain, same devid): claimed again, the data is still there.
  plug(BOOT_DOMID, 'vdi-boot');
  expect(await disk('boot')).toMatchObject({ backend: b, claim: { claimed: true } });
  const second = await runGuest(BOOT_DOMID, verified(['--verify-state', state]));
  expect(second.verify.failures).toBe(0);
  expect(second.verify.sectors_known).toBeGreaterThan(0);

  // The directory written anew while served (removed and rewritten in one transaction, no hotplug-status):
  // the new device is claimed, and unplug then plug at once (the daemon may see both together) too.
  plug(BOOT_DOMID, 'vdi-boot');
  unplug(BOOT_DOMID);
  plug(BOOT_DOMID, 'vdi-boot');
  expect(await disk('boot')).toMatchObject({ backend: b, state: 2, claim: { claimed: true } });
  const third = await runGuest(BOOT_DOMID, verified(['--verify-state', state]));
  expect(third.verify.failures).toBe(0);

  // The domain destroyed: released too.
  host.toolstack('destroy-domain', String(BOOT_DOMID));
  await waitFor('the disk to wait again', async () => (await disk('boot')).claim.claimed === false);
}, 120_000);

test('only its own entry: not another value, not another domain, not one another disk serves', async () => {
  const a = newDomain();
  const other = newDomain();
  await addClaim('own', { domid: a, value: 'vdi-own' });
  plug(a, 'vdi-else', { wait: false }); // same domain, another value
  plug(other, 'vdi-own', { wait: false }); // same value, another domain
  const mine = plug(a, 'vdi-own', { devid: 51728 });
  // Events are handled in order: the two earlier entries were looked at before this one was claimed.
  expect((await disk('own')).backend).toBe(mine);
  expect(host.xsRead(`${be(a)}/hotplug-status`)).toBeUndefined();
  expect(host.xsRead(`${be(other)}/hotplug-status`)).toBeUndefined();
  expect(host.xsRead(`${be(a)}/state`)).toBe('1');

  // A second disk with the same claim does not take the entry the first serves, but the next one.
  const twin = await addClaim('own-twin', { domid: a, value: 'vdi-own' });
  expect(twin).toMatchObject({ backend: '', claim: { claimed: false } });
  const next = plug(a, 'vdi-own', { devid: 51744 });
  expect((await disk('own-twin')).backend).toBe(next);
  expect((await disk('own')).backend).toBe(mine);

  // Several claim disks share the daemon's watches; both disks removed, nothing of them stays.
  await host.rpc('disk_remove', { name: 'own' });
  await host.rpc('disk_remove', { name: 'own-twin' });
  expect(host.xsRead(`${mine}/state`)).toBe('6');
  // Nothing serves the unclaimed entries: the toolstack's wait for their Closed runs out (exit 1).
  for (const domid of [a, other]) expect(toolstackRaw('--timeout', '1', 'destroy-domain', String(domid)).status).toBe(1);
}, 60_000);

test('two claim disks for two domains serve two guests at once', async () => {
  const x = newDomain();
  const y = newDomain();
  await addClaim('two-x', { domid: x, value: 'vdi-x' });
  await addClaim('two-y', { domid: y, value: 'vdi-y' });
  plug(y, 'vdi-y');
  plug(x, 'vdi-x');
  const [sx, sy] = await Promise.all([runGuest(x, verified(['--queues', '2'])), runGuest(y, verified())]);
  expect(sx.verify.failures).toBe(0);
  expect(sy.verify.failures).toBe(0);
  for (const [name, domid] of [['two-x', x], ['two-y', y]] as const) {
    const d = await disk(name);
    expect(d).toMatchObject({ backend: be(domid), domid, claim: { claimed: true } });
    const st = await host.rpc<any>('disk_stats', { name });
    expect(st.total.writes).toBeGreaterThan(0);
    expect(st.total.errors).toBe(0);
  }
  // Each guest wrote its own image.
  expect(fs.statSync(path.join(host.dir, 'two-x.img')).blocks).toBeGreaterThan(0);
  expect(fs.statSync(path.join(host.dir, 'two-y.img')).blocks).toBeGreaterThan(0);
  for (const domid of [x, y]) host.toolstack('destroy-domain', String(domid));
  await host.rpc('disk_remove', { name: 'two-x' });
  await host.rpc('disk_remove', { name: 'two-y' });
}, 120_000);

test('mode=r gives this frontend a read-only device; a mode neither r nor w is refused', async () => {
  const domid = newDomain();
  const added = await addClaim('ro', { domid, value: 'vdi-ro' });
  expect(added.readonly).toBe(false);
  const file = path.join(host.dir, 'ro.img');
  fs.writeSync(fs.openSync(file, 'r+'), Buffer.alloc(4096, 0x5a), 0, 4096, 0);
  const hash = sha(file);
  const b = plug(domid, 'vdi-ro', { mode: 'r' });
  expect(await disk('ro')).toMatchObject({ mode: 'r', readonly: false });
  expect(host.xsRead(`${b}/info`)).toBe('4'); // VDISK_READONLY
  // Writes, indirect writes and discards answered with errors; reads served.
  const h = await runGuest(domid, ['--hostile', 'ro-write', '--timeout', '10']);
  expect(h.hostile).toMatchObject({ mode: 'ro-write', pass: true });
  const r = await runGuest(domid, ['--rw', 'randread', '--bs', '4k', '--iodepth', '8', '--ios', '300', '--size', `${16 * MiB}`, '--close']);
  expect(r.features.readonly).toBe(true);
  expect(r.errors.total).toBe(0);
  const st = await host.rpc<any>('disk_stats', { name: 'ro' });
  expect(st.total.reads).toBeGreaterThanOrEqual(300);
  expect(st.total.errors).toBeGreaterThan(0);
  expect(st.total.writes).toBe(0);
  expect(sha(file)).toBe(hash);
  unplug(domid);
  await waitFor('the disk to wait again', async () => (await disk('ro')).claim.claimed === false);

  // Garbage in `mode`: refused with hotplug-error (xenopsd fails the plug), the disk keeps waiting.
  const bad = toolstackRaw('--timeout', '10', 'add-vbd', String(domid), '51712', '--kind', 'qdisk', '--backend-key', `${KEY}=vdi-ro`, '--backend-key', 'mode=rw', '--wait-hotplug');
  expect(bad.status).toBe(5);
  expect(bad.stderr).toMatch(/mode must be r or w/);
  expect(host.xsRead(`${b}/hotplug-error`)).toMatch(/mode must be r or w, not 'rw'/);
  expect(host.xsRead(`${b}/hotplug-status`)).toBeUndefined();
  expect(await disk('ro')).toMatchObject({ backend: '', claim: { claimed: false } });
  expect(toolstackRaw('--timeout', '1', 'destroy-domain', String(domid)).status).toBe(1);
  await host.rpc('disk_remove', { name: 'ro' });
}, 60_000);

test('shutdown-request normal: the frontend closes first, then Closed and shutdown-done; Closed stays Closed', async () => {
  const domid = newDomain();
  await addClaim('shut-normal', { domid, value: 'vdi-sn' });
  const b = plug(domid, 'vdi-sn');
  const { done } = host.guest(domid, ['--domid', String(domid), '--no-progress', '--rw', 'randrw', '--bs', '4k', '--iodepth', '8', '--runtime', '30', '--timeout', '10']);
  await waitFor('the guest to connect', async () => (await disk('shut-normal')).connected);
  await waitFor('some I/O', async () => (await host.rpc<any>('disk_stats', { name: 'shut-normal' })).total.writes > 0);
  // xenopsd's request_shutdown: online=0, then shutdown-request.
  host.xsWrite(`${b}/online`, '0');
  host.xsWrite(`${b}/shutdown-request`, 'normal');
  const g = await done;
  expect(g.signal).toBeNull();
  expect(g.summary.close).toMatchObject({ by_backend: true, ok: true });
  await waitFor('shutdown-done', () => host.xsRead(`${b}/shutdown-done`) !== undefined);
  expect(host.xsRead(`${b}/state`)).toBe('6');
  expect(host.xsRead(`/local/domain/${domid}/device/vbd/51712/state`)).toBe('6'); // the frontend closed before
  expect(await disk('shut-normal')).toMatchObject({ connected: false, state: 6, claim: { claimed: true } });
  // A frontend starting again does not bring the backend back to InitWait.
  host.xsWrite(`/local/domain/${domid}/device/vbd/51712/state`, '1');
  await sleep(500);
  expect(host.xsRead(`${b}/state`)).toBe('6');
  host.xsWrite(`/local/domain/${domid}/device/vbd/51712/state`, '6');
  unplug(domid);
  await waitFor('the disk to wait again', async () => (await disk('shut-normal')).claim.claimed === false);
  host.toolstack('destroy-domain', String(domid));
  await host.rpc('disk_remove', { name: 'shut-normal' });
}, 60_000);

test('shutdown-request force: disconnected at once, Closed and shutdown-done; the toolstack variant too', async () => {
  const domid = newDomain();
  await addClaim('shut-force', { domid, value: 'vdi-sf' });
  const b = plug(domid, 'vdi-sf');
  const { done } = host.guest(domid, ['--domid', String(domid), '--no-progress', '--rw', 'randrw', '--bs', '4k', '--iodepth', '16', '--runtime', '30', '--timeout', '3']);
  await waitFor('some I/O', async () => (await host.rpc<any>('disk_stats', { name: 'shut-force' })).total.writes > 0);
  host.xsWrite(`${b}/shutdown-request`, 'force');
  await waitFor('shutdown-done', () => host.xsRead(`${b}/shutdown-done`) !== undefined);
  expect(host.xsRead(`${b}/state`)).toBe('6');
  expect(host.xsRead(`${b}/online`)).toBe('1'); // xenopsd does not write online=0 when forcing
  expect(await disk('shut-force')).toMatchObject({ connected: false, state: 6 });
  const g = await done; // the guest sees its backend go and ends by itself
  expect(g.signal).toBeNull();
  expect(g.summary.close).toMatchObject({ by_backend: true });
  expect(host.xsRead(`${b}/state`)).toBe('6');
  unplug(domid);
  await waitFor('the disk to wait again', async () => (await disk('shut-force')).claim.claimed === false);

  // An unknown request is ignored (and logged); the device keeps being served.
  plug(domid, 'vdi-sf');
  host.xsWrite(`${b}/shutdown-request`, 'soon');
  const s = await runGuest(domid, verified());
  expect(s.verify.failures).toBe(0);
  expect(host.xsRead(`${b}/shutdown-done`)).toBeUndefined();
  expect(host.daemonLog).toMatch(/ignoring shutdown-request 'soon'/);
  // The toolstack's variant: remove-vbd --shutdown-request waits for shutdown-done (exit 0 only then).
  host.xsWrite(`${b}/shutdown-request`, ''); // not a request either
  for (const how of ['force', 'normal']) {
    if (how === 'normal') plug(domid, 'vdi-sf');
    unplug(domid, '--shutdown-request', how);
    expect(host.xsRead(b)).toBeUndefined();
    await waitFor('the disk to wait again', async () => (await disk('shut-force')).claim.claimed === false);
  }
  expect(host.daemonLog).toMatch(/shut-force: shutdown done/);
  host.toolstack('destroy-domain', String(domid));
  await host.rpc('disk_remove', { name: 'shut-force' });
}, 90_000);

test('paused at disk_add: the guest connects, its I/O waits for disk_resume, then completes', async () => {
  const domid = newDomain();
  const added = await addClaim('held', { domid, value: 'vdi-held' }, { paused: true });
  expect(added).toMatchObject({ paused: true, connected: false });
  // Pause and resume work in every state, connected or not.
  expect(await host.rpc('disk_resume', { name: 'held' })).toMatchObject({ paused: false });
  expect(await host.rpc('disk_pause', { name: 'held' })).toMatchObject({ paused: true });
  plug(domid, 'vdi-held');
  const { done } = host.guest(domid, ['--domid', String(domid), '--no-progress', ...verified()]);
  let finished = false;
  void done.then(() => (finished = true));
  await waitFor('the guest to connect', async () => (await disk('held')).connected);
  await sleep(1000);
  const st = await host.rpc<any>('disk_stats', { name: 'held' });
  expect(st.total.reads + st.total.writes).toBe(0);
  expect(finished).toBe(false);
  expect(await disk('held')).toMatchObject({ paused: true, connected: true });
  expect(await host.rpc('disk_resume', { name: 'held' })).toMatchObject({ paused: false });
  const r = await done;
  expect(r.status).toBe(0);
  expect(r.summary.verify.failures).toBe(0);
  const after = await host.rpc<any>('disk_stats', { name: 'held' });
  expect(after.total.reads + after.total.writes).toBeGreaterThan(1000);
  unplug(domid);
  host.toolstack('destroy-domain', String(domid));
  await host.rpc('disk_remove', { name: 'held' });
}, 60_000);

test('NBD only: neither backend nor claim, served over NBD alone', async () => {
  const file = image('nbd-only', 24);
  const sock = path.join(host.dir, 'nbd-only.sock');
  const d = await host.rpc<any>('disk_add', { name: 'nbd-only', path: file, nbd_socket: sock });
  expect(d).toMatchObject({ backend: '', connected: false, nbd_socket: sock });
  expect(d.claim).toBeUndefined();
  const info = spawnSync('qemu-img', ['info', '--output=json', `nbd:unix:${sock}:exportname=nbd-only`], { encoding: 'utf8', timeout: 30_000 });
  expect(info.status).toBe(0);
  expect(JSON.parse(info.stdout)['virtual-size']).toBe(24 * MiB);
  const w = spawnSync('qemu-io', ['-f', 'raw', '-c', 'write -P 0x3c 1M 64k', `nbd:unix:${sock}:exportname=nbd-only`], { encoding: 'utf8', timeout: 30_000 });
  expect(w.status).toBe(0);
  const got = Buffer.alloc(65536);
  fs.readSync(fs.openSync(file, 'r'), got, 0, got.length, MiB);
  expect(got.equals(Buffer.alloc(65536, 0x3c))).toBe(true);
  const size = spawnSync('nbdinfo', ['--size', `nbd+unix:///nbd-only?socket=${sock}`], { encoding: 'utf8', timeout: 30_000 });
  expect(size.stdout.trim()).toBe(String(24 * MiB));
  await host.rpc('disk_resize', { name: 'nbd-only' }); // nothing to publish: no error
  await host.rpc('disk_remove', { name: 'nbd-only' });
  expect(fs.existsSync(sock)).toBe(false);
});

test('bad claim parameters are clear JSON-RPC errors', async () => {
  const file = image('bad');
  const add = (extra: object) => host.rpc('disk_add', { name: 'bad', path: file, ...extra });
  const cases: [object, RegExp][] = [
    [{}, /backend .* or claim is required, unless nbd_socket/],
    [{ claim: 'vdi' }, /claim must be an object/],
    [{ claim: { value: 'v' } }, /claim\.domid is required/],
    [{ claim: { domid: 0, value: 'v' } }, /claim\.domid must be an integer from 1 to 32752/],
    [{ claim: { domid: 32753, value: 'v' } }, /claim\.domid must be/],
    [{ claim: { domid: '5', value: 'v' } }, /claim\.domid must be/],
    [{ claim: { domid: 5.5, value: 'v' } }, /claim\.domid must be/],
    [{ claim: { domid: 5 } }, /claim\.value is required/],
    [{ claim: { domid: 5, value: '' } }, /claim\.value must be a non-empty string without '\/'/],
    [{ claim: { domid: 5, value: 'a/b' } }, /claim\.value must be/],
    [{ claim: { domid: 5, value: 7 } }, /claim\.value must be/],
    [{ claim: { domid: 5, value: 'v'.repeat(256) } }, /claim\.value must be/],
    [{ claim: { domid: 5, value: 'v', kind: 'q disk' } }, /claim\.kind must be a word/],
    [{ claim: { domid: 5, value: 'v', kind: '' } }, /claim\.kind must be a word/],
    [{ claim: { domid: 5, value: 'v', key: '/abs' } }, /claim\.key must be a relative xenstore key/],
    [{ claim: { domid: 5, value: 'v', key: 'a//b' } }, /claim\.key must be/],
    [{ claim: { domid: 5, value: 'v', key: 'a/' } }, /claim\.key must be/],
    [{ claim: { domid: 5, value: 'v', key: 'a b' } }, /claim\.key must be/],
    [{ claim: { domid: 5, value: 'v', extra: 1 } }, /claim\.extra is not a member of claim/],
    [{ claim: { domid: 5, value: 'v' }, backend: 'backend/qdisk/5/51712' }, /backend and claim are mutually exclusive/],
    [{ backend: 42 }, /backend must be a xenstore backend directory/],
    [{ claim: { domid: 5, value: 'v' }, paused: 'yes' }, /paused must be true or false/],
  ];
  for (const [extra, re] of cases) {
    const e = await add(extra).then(
      () => undefined,
      (err) => err,
    );
    expect({ extra, message: e?.message }).toEqual({ extra, message: expect.stringMatching(re) });
    expect(e.code).toBe(-32602);
  }
  expect((await host.rpc<any[]>('disk_list')).some((x) => x.name === 'bad')).toBe(false);
  // A good one with every member given, then its name is taken.
  const ok = await add({ claim: { domid: 5, value: 'v', kind: 'vbd3', key: 'sm-data/other_key@1' } });
  expect(ok).toMatchObject({ backend: '', claim: { domid: 5, kind: 'vbd3', key: 'sm-data/other_key@1', value: 'v', claimed: false } });
  await host.rpc('disk_remove', { name: 'bad' });
});
