// The datapath plugin end to end: xapi and xenopsd played over the simulator
// (spec/harness/xapi.ts), the real plugin executables starting the real
// daemon through the shim, simulated guests finding it under
// backend/qdisk, data verified. After every test: no daemon, socket or
// state file left behind.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { T } from '../harness/rpclib';
import type { Volume } from '../harness/fixtures';
import { parseNbdUri, XapiSim, type Plugged } from '../harness/xapi';

const MiB = 1024 * 1024;
let x: XapiSim;
let nextDomid = 11;

beforeEach(async () => {
  x = await XapiSim.start();
}, 30_000);

afterEach(async () => {
  const left = x.leftovers();
  await x.stop();
  expect(left).toEqual({ daemons: [], files: [] });
}, 30_000);

async function guest(domid: number, args: string[], devid = 51712) {
  const { child, done } = x.sim.guest(domid, ['--domid', String(domid), '--devid', String(devid), '--no-progress', ...args]);
  return { child, done };
}

async function runGuest(domid: number, args: string[]) {
  const r = await (await guest(domid, args)).done;
  if (r.status !== 0) throw new Error(`guest failed (${r.status ?? r.signal}): ${r.stdout.slice(-1500)} ${r.stderr.slice(-1500)}\n${x.daemonLogs().slice(-3000)}`);
  return r.summary;
}

const verified = (state: string, extra: string[] = []) => ['--verify', '--verify-state', state, '--rw', 'randrw', '--bs', '4k', '--iodepth', '8', '--ios', '1500', '--size', `${16 * MiB}`, '--close', ...extra];

function nbd(uri: string): string {
  const { socket, exportName } = parseNbdUri(uri);
  return `nbd+unix:///${exportName}?socket=${socket}`;
}

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (${r.status ?? r.signal}): ${r.stdout} ${r.stderr}`);
  return r.stdout;
}

function xsRead(p: string): string | undefined {
  return x.sim.xsRead(p);
}

test('a VM lifecycle: start, verified I/O, snapshot while running, online resize, shutdown', async () => {
  const vol = x.volume(64 * MiB, 'system');
  const domid = nextDomid++;
  const vm = x.vmStart(vol.key, domid);
  // xenopsd's layout, claimed by our daemon.
  expect(vm.xenDisk.backend_type).toBe('qdisk');
  expect(xsRead(`${vm.backend}/hotplug-status`)).toBe('connected');
  expect(xsRead(`${vm.backend}/params`)).toBe(vm.nbdUri);
  const state = path.join(x.host.dir, 'verify.state');
  const first = await runGuest(domid, verified(state, ['--queues', '2']));
  expect(first.verify.failures).toBe(0);
  expect(first.features.queues).toBe(2);

  // Snapshot while the VM runs: a point-in-time copy equal to the disk right now.
  const snap = x.host.call<Volume>('volume', 'Volume.snapshot', { dbg: 'xapi', sr: x.sr, key: vol.key }, T.volume);
  const att = x.attach(snap.key, '0');
  x.datapath('activate', snap.key, '0');
  run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', nbd(att.nbdUri), nbd(vm.nbdUri)]);
  x.datapath('deactivate', snap.key, '0');
  x.datapath('detach', snap.key, '0');

  // More verified I/O while resizing online: the guest waits to see the new size.
  const resizeWait = await guest(domid, ['--rw', 'randread', '--bs', '4k', '--ios', '0', '--resize-wait', String((128 * MiB) / 512), '--timeout', '20']);
  await new Promise((r) => setTimeout(r, 1000));
  x.host.call('volume', 'Volume.resize', { dbg: 'xapi', sr: x.sr, key: vol.key, new_size: 128 * MiB }, T.unit);
  const seen = await resizeWait.done;
  expect(seen.status).toBe(0);
  expect(seen.summary.resize).toMatchObject({ seen: (128 * MiB) / 512 });
  expect(xsRead(`${vm.backend}/sectors`)).toBe(String((128 * MiB) / 512));
  expect(run('nbdinfo', ['--size', nbd(vm.nbdUri)]).trim()).toBe(String(128 * MiB));
  // Data written before the resize is intact after it.
  const again = await runGuest(domid, verified(state));
  expect(again.verify.failures).toBe(0);
  expect(again.verify.sectors_known).toBeGreaterThan(0);

  x.vmShutdown(vol.key, vm);
  expect(x.leftovers().daemons).toEqual([]);
  // The snapshot holds what the disk held then, not what came after.
  expect(x.stat(snap.key).virtual_size).toBe(64 * MiB);
}, 120_000);

test('two disks of one VM and a disk per VM: each daemon claims only its own entry', async () => {
  const a = x.volume(32 * MiB, 'a');
  const b = x.volume(32 * MiB, 'b');
  const domid = nextDomid++;
  const va = x.vmStart(a.key, domid, 51712);
  const vb = x.vmStart(b.key, domid, 51728);
  expect(va.xenDisk.extra).not.toEqual(vb.xenDisk.extra);
  // One domain, two blkfront devices: each gets its own part of the guest's memory and grant table.
  const window = (i: number) => ['--page-base', String(i * 8192), '--pages', '8192', '--gref-base', String(8 + i * 4096), '--grefs', '4000'];
  const [ra, rb] = await Promise.all([
    guest(domid, [...verified(path.join(x.host.dir, 'a.state')), ...window(0)], 51712).then((g) => g.done),
    guest(domid, [...verified(path.join(x.host.dir, 'b.state')), ...window(1)], 51728).then((g) => g.done),
  ]);
  expect([ra.status, rb.status, ra.summary?.verify.failures, rb.summary?.verify.failures]).toEqual([0, 0, 0, 0]);
  expect(ra.summary.devid).toBe(51712);
  expect(rb.summary.devid).toBe(51728);
  expect(x.leftovers().daemons).toHaveLength(2);
  x.unplug(va);
  x.unplug(vb);
  for (const [v, p] of [[a, va], [b, vb]] as const) {
    x.datapath('deactivate', v.key, String(p.domid));
    x.datapath('detach', v.key, String(p.domid));
  }
  x.destroyDomain(domid);
}, 120_000);

test('a migration-shaped sequence on one host: attach on the destination while the source runs', async () => {
  const vol = x.volume(32 * MiB, 'migrating');
  const src = nextDomid++;
  const dst = nextDomid++;
  const state = path.join(x.host.dir, 'm.state');
  const s = x.vmStart(vol.key, src);
  expect((await runGuest(src, verified(state))).verify.failures).toBe(0);

  const dAtt = x.attach(vol.key, String(dst));
  // Not while the source is active: the volume is not sharable.
  const busy = x.host.fail('datapath', 'Datapath.activate', { dbg: 'xapi', uri: x.stat(vol.key).uri[0], domain: String(dst) });
  expect(busy.code).toBe('SR_BACKEND_FAILURE_24');
  expect(busy.params[0]).toBe('VDIInUse');

  x.datapath('deactivate', vol.key, String(src));
  x.datapath('activate', vol.key, String(dst));
  const d: Plugged = x.plug(dAtt, dst);
  // The destination reads what the source wrote, and writes on.
  const after = await runGuest(dst, verified(state));
  expect(after.verify.failures).toBe(0);
  expect(after.verify.sectors_known).toBeGreaterThan(0);
  x.unplug(s);
  x.datapath('detach', vol.key, String(src));
  x.destroyDomain(src);
  expect(x.leftovers().daemons).toHaveLength(1); // the destination still has it
  const diag = x.host.call<string>('datapath', 'Plugin.diagnostics', { dbg: 'xapi' }, T.string);
  expect(diag).toContain(`${x.stat(vol.key).uri[0]}: attached to ${dst} (active); daemon`);
  x.vmShutdown(vol.key, d);
}, 120_000);

test('reset on boot: writes made between open(persistent=false) and close are thrown away', async () => {
  const vol = x.volume(16 * MiB, 'transient');
  const uri = x.stat(vol.key).uri[0];
  const image = decodeURIComponent(uri.slice('spdk://file'.length));
  fs.writeFileSync(image, Buffer.alloc(MiB, 0x5a), { flag: 'r+' });
  const before = fs.readFileSync(image);
  x.host.call('datapath', 'Datapath.open', { dbg: 'xapi', uri, persistent: false }, T.unit);
  x.host.call('datapath', 'Datapath.open', { dbg: 'xapi', uri, persistent: false }, T.unit); // idempotent
  const domid = nextDomid++;
  const vm = x.vmStart(vol.key, domid);
  await runGuest(domid, ['--rw', 'write', '--bs', '64k', '--size', `${16 * MiB}`, '--close']);
  expect(fs.readFileSync(image).equals(before)).toBe(false);
  x.vmShutdown(vol.key, vm);
  x.host.call('datapath', 'Datapath.close', { dbg: 'xapi', uri }, T.unit);
  expect(fs.readFileSync(image).equals(before)).toBe(true);
  x.host.call('datapath', 'Datapath.close', { dbg: 'xapi', uri }, T.unit); // idempotent
  expect(fs.readdirSync(path.dirname(image)).filter((f) => f.endsWith('.reset'))).toEqual([]);
}, 60_000);

test('repeated and out-of-order calls; refcounts by (uri, domain), with 8.2 and 8.3 dom0 domains', () => {
  const vol = x.volume(16 * MiB, 'counted');
  const uri = x.stat(vol.key).uri[0];
  const call = (m: string, domain: string) => x.host.call('datapath', `Datapath.${m}`, { dbg: 'xapi', uri, domain }, T.unit);
  // Out of order: nothing attached.
  call('detach', '5');
  call('deactivate', '5');
  expect(x.host.fail('datapath', 'Datapath.activate', { dbg: 'xapi', uri, domain: '5' }).params[0]).toBe('Not_attached');
  expect(x.leftovers()).toEqual({ daemons: [], files: [] });
  // Bad input.
  expect(x.host.fail('datapath', 'Datapath.attach', { dbg: 'xapi', uri, domain: 'dom5' }).params[0]).toBe('Invalid_arguments');
  expect(x.host.fail('datapath', 'Datapath.attach', { dbg: 'xapi', uri: uri.replace(/[^/]+\.img$/, 'nope.img'), domain: '5' }).params[0]).toBe('Volume_does_not_exist');
  expect(x.host.fail('datapath', 'Datapath.attach', { dbg: 'xapi', uri: 'file:///etc/passwd', domain: '5' }).params[0]).toBe('Invalid_arguments');

  const a1 = x.attach(vol.key, '0');
  const a2 = x.attach(vol.key, '0');
  expect(a2).toEqual(a1);
  const a3 = x.attach(vol.key, 'u0-OpaqueRef_1234');
  expect(a3).toEqual(a1);
  expect(x.leftovers().daemons).toHaveLength(1);
  x.datapath('activate', vol.key, '0');
  x.datapath('activate', vol.key, '0');
  // A second dom0 user of a non-sharable volume is another domain.
  expect(x.host.fail('datapath', 'Datapath.activate', { dbg: 'xapi', uri, domain: 'u0-OpaqueRef_1234' }).params[0]).toBe('VDIInUse');
  x.datapath('deactivate', vol.key, '0');
  x.datapath('deactivate', vol.key, '0');
  // 8.2's "0": the two attaches are one; its detach releases it.
  x.datapath('detach', vol.key, '0');
  expect(x.leftovers().daemons).toHaveLength(1); // u0-... still holds it
  x.datapath('detach', vol.key, '0');
  x.datapath('activate', vol.key, 'u0-OpaqueRef_1234');
  run('nbdinfo', ['--size', nbd(a3.nbdUri)]);
  x.datapath('detach', vol.key, 'u0-OpaqueRef_1234'); // detach of an active attachment deactivates it
  expect(x.leftovers()).toEqual({ daemons: [], files: [] });
  // The active record went with it: another domain may activate now.
  x.attach(vol.key, '7');
  x.datapath('activate', vol.key, '7');
  x.datapath('detach', vol.key, '7');
}, 60_000);

test('Activated_on_another_host: a non-sharable volume active on one host cannot be activated on another', () => {
  const vol = x.volume(16 * MiB, 'exclusive');
  const shared = x.volume(16 * MiB, 'shared', true);
  const otherRun = path.join(x.host.dir, 'other-host-run');
  const other = { XAPI_SPDK_HOST_UUID: 'a0b1c2d3-0000-4000-8000-00000000beef', XAPI_SPDK_RUN_DIR: otherRun };
  x.attach(vol.key, '0');
  x.datapath('activate', vol.key, '0');
  x.attach(shared.key, '0');
  x.datapath('activate', shared.key, '0');
  const elsewhere = (key: string, method: string) =>
    x.host.raw('datapath', `Datapath.${method}`, JSON.stringify({ dbg: 'xapi', uri: x.stat(key).uri[0], domain: '3' }), other);
  expect(elsewhere(vol.key, 'attach').status).toBe(0);
  const r = elsewhere(vol.key, 'activate');
  expect(r.status).not.toBe(0);
  // It names the host where the volume is active, for xapi to redirect there.
  expect(JSON.parse(r.stdout).params).toEqual(['Activated_on_another_host', x.host.env.XAPI_SPDK_HOST_UUID]);
  // A sharable volume may be active in both places.
  expect(elsewhere(shared.key, 'attach').status).toBe(0);
  expect(elsewhere(shared.key, 'activate').status).toBe(0);
  for (const key of [vol.key, shared.key]) {
    expect(elsewhere(key, 'detach').status).toBe(0);
    x.datapath('detach', key, '0');
  }
  expect(fs.existsSync(path.join(otherRun, 'datapath')) ? fs.readdirSync(path.join(otherRun, 'datapath')) : []).toEqual([]);
}, 60_000);

test('after a host reboot the runtime state is rebuilt and a stale active record is replaced', () => {
  const vol = x.volume(16 * MiB, 'rebooted');
  x.attach(vol.key, '0');
  x.datapath('activate', vol.key, '0');
  // The host dies: daemons gone, /run wiped, a new boot id.
  for (const pid of x.leftovers().daemons) process.kill(pid, 'SIGKILL');
  fs.rmSync(path.join(x.runDir, 'datapath'), { recursive: true, force: true });
  x.host.env.XAPI_SPDK_BOOT_ID = 'after-reboot';
  x.attach(vol.key, '4');
  x.datapath('activate', vol.key, '4');
  x.datapath('detach', vol.key, '4');
}, 60_000);

test('a plugin killed in the middle of attach: the next attach works and detach leaves nothing', async () => {
  const vol = x.volume(16 * MiB, 'killed');
  const uri = x.stat(vol.key).uri[0];
  // Killed at points spread over the call, starting the daemon included; some calls overlap.
  for (const delay of [5, 40, 80, 100, 120, 140, 160, 180, 220, 300]) {
    const calls = [0, 1].map(() => x.host.spawn('datapath', 'Datapath.attach', { dbg: 'xapi', uri, domain: '0' }));
    setTimeout(() => calls[0].child.kill('SIGKILL'), delay);
    setTimeout(() => calls[1].child.kill('SIGKILL'), delay / 2 + 60);
    await Promise.all(calls.map((c) => c.done));
  }
  const att = x.attach(vol.key, '0');
  x.datapath('activate', vol.key, '0');
  // qemu takes xapi's Nbd URI as it is.
  run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x33 0 64k', '-c', 'read -P 0x33 0 64k', att.nbdUri]);
  expect(x.leftovers().daemons).toHaveLength(1);
  x.datapath('detach', vol.key, '0');
}, 60_000);

test('the daemon killed under load: the guest sees errors, detach succeeds, the next start works', async () => {
  const vol = x.volume(32 * MiB, 'crashy');
  const domid = nextDomid++;
  const vm = x.vmStart(vol.key, domid);
  const { done } = await guest(domid, ['--rw', 'randrw', '--bs', '4k', '--iodepth', '16', '--runtime', '20', '--timeout', '3']);
  await new Promise((r) => setTimeout(r, 1000));
  const [pid] = x.leftovers().daemons;
  process.kill(pid, 'SIGKILL');
  const r = await done;
  expect(r.signal).toBeNull(); // it ended on its own: no hang
  expect(r.status).not.toBe(0);
  expect(r.summary.errors.total).toBeGreaterThan(0);
  // xenopsd's clean unplug times out (nobody closes the backend) and it removes the device anyway.
  x.unplug(vm, { timeoutS: 2 });
  x.datapath('deactivate', vol.key, String(domid));
  x.datapath('detach', vol.key, String(domid));
  x.destroyDomain(domid);
  expect(x.leftovers()).toEqual({ daemons: [], files: [] });
  // A fresh start of the VM works, with verified data.
  const again = nextDomid++;
  const vm2 = x.vmStart(vol.key, again);
  expect((await runGuest(again, verified(path.join(x.host.dir, 'c.state')))).verify.failures).toBe(0);
  x.vmShutdown(vol.key, vm2);
}, 120_000);
