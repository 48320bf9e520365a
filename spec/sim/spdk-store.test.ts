// The SPDK store (docs/spdk.md): `xe sr-create type=spdk device-config:bdev=...`
// (the test form of device-config:nvme) makes an lvol store on a bdev that
// the SR's one xenblkd-spdk holds; volumes are thin lvols with snapshot,
// clone, resize and destroy through SPDK's RPC; the datapath adds each
// attached volume's disks to that daemon, and simulated guests find them
// through xenopsd's qdisk entries. The plugin executables run exactly as
// xapi-storage-script runs them. Built and run only where SPDK is installed.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { probeResults, T, volumeList } from '../harness/rpclib';
import { newUuid, type Volume } from '../harness/fixtures';
import { bin, rpcOn } from '../harness/sim';
import { parseNbdUri, XapiSim } from '../harness/xapi';
import type { Host } from '../harness/xss';

const MiB = 1024 * 1024;
const HAVE_SPDK = fs.existsSync(bin('xenblkd-spdk'));
if (!HAVE_SPDK) console.log('xenblkd-spdk was not built (no SPDK found by pkg-config): the SPDK store tests are skipped');

/** device-config for an SR on an aio bdev over a sparse file of `size` bytes. */
function aioConfig(host: Host, size = 256 * MiB, name = 'base0'): Record<string, string> {
  const file = path.join(host.dir, `${name}.img`);
  if (!fs.existsSync(file)) {
    fs.writeFileSync(file, '');
    fs.truncateSync(file, size);
  }
  return { bdev: JSON.stringify({ method: 'bdev_aio_create', params: { name, filename: file, block_size: 512 } }) };
}

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (${r.status ?? r.signal}): ${r.stdout} ${r.stderr}`);
  return r.stdout;
}

function nbd(uri: string): string {
  const { socket, exportName } = parseNbdUri(uri);
  return `nbd+unix:///${exportName}?socket=${socket}`;
}

function spdkDaemons(x: XapiSim): number[] {
  return x.leftovers().daemons.filter((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0].endsWith('xenblkd-spdk'));
}

(HAVE_SPDK ? describe : describe.skip)('the SPDK store', () => {
  let x: XapiSim;
  let config: Record<string, string>;
  let nextDomid = 21;

  beforeEach(async () => {
    x = undefined as unknown as XapiSim;
    x = await XapiSim.start('xapi-spdk-', (host) => (config = aioConfig(host)));
  }, 60_000);

  afterEach(async () => {
    // The SR's daemon runs while the SR is attached: detach it, then nothing may be left.
    if (!x) return;
    try {
      x.host.call('volume', 'SR.detach', { dbg: 'test', sr: x.sr }, T.unit);
    } finally {
      const left = x.leftovers();
      await x.stop();
      expect(left).toEqual({ daemons: [], files: [] });
    }
  }, 60_000);

  const call = <R>(method: string, args: object, type = T.unit) => x.host.call<R>('volume', method, { dbg: 'test', sr: x.sr, ...args }, type);
  const stat = (key: string) => call<Volume>('Volume.stat', { key }, T.volume);
  const ls = () => call<Volume[]>('SR.ls', {}, volumeList);

  async function runGuest(domid: number, args: string[]) {
    const { done } = x.sim.guest(domid, ['--domid', String(domid), '--devid', '51712', '--no-progress', ...args]);
    const r = await done;
    if (r.status !== 0) throw new Error(`guest failed (${r.status ?? r.signal}): ${r.stdout.slice(-1500)} ${r.stderr.slice(-1500)}\n${x.daemonLogs().slice(-3000)}`);
    return r.summary;
  }

  test('SR and volume operations: one daemon, thin lvols, snapshot, clone, resize, destroy; the SR comes back after detach', () => {
    const sr = call<any>('SR.stat', {}, T.srStat);
    expect(sr.sr).toMatch(/^spdk-lvs:/);
    expect(sr.total_space).toBeGreaterThan(200 * MiB);
    expect(sr.free_space).toBe(sr.total_space);
    expect(spdkDaemons(x)).toHaveLength(1);

    const v = call<Volume>('Volume.create', { name: 'data', description: 'a thin volume', size: 30 * MiB + 1, sharable: false }, T.volume);
    expect(v.virtual_size).toBeGreaterThanOrEqual(30 * MiB + 1);
    expect(v.physical_utilisation).toBe(0); // thin
    expect(v.read_write).toBe(true);
    expect(v.uri[0]).toBe(`spdk://lvol/${sr.uuid}/${v.key}`);
    call('Volume.set_name', { key: v.key, new_name: 'renamed' });
    call('Volume.set', { key: v.key, k: 'vdi-type', v: 'user' });
    expect(stat(v.key)).toMatchObject({ name: 'renamed', description: 'a thin volume', keys: { 'vdi-type': 'user' } });

    const snap = call<Volume>('Volume.snapshot', { key: v.key }, T.volume);
    expect(snap.read_write).toBe(false);
    expect(snap.name).toBe('renamed');
    const clone = call<Volume>('Volume.clone', { key: v.key }, T.volume); // of a writable volume: through a hidden snapshot
    expect(clone.read_write).toBe(true);
    const cloneOfSnap = call<Volume>('Volume.clone', { key: snap.key }, T.volume);
    const snapOfSnap = call<Volume>('Volume.snapshot', { key: snap.key }, T.volume); // SPDK cannot: a read-only clone
    expect(snapOfSnap.read_write).toBe(false);
    expect(() => call('Volume.resize', { key: snapOfSnap.key, new_size: 64 * MiB })).toThrow(/read-only/);
    call('Volume.destroy', { key: snapOfSnap.key });
    expect(ls().map((l) => l.key).sort()).toEqual([v.key, snap.key, clone.key, cloneOfSnap.key].sort());

    call('Volume.resize', { key: clone.key, new_size: 64 * MiB });
    expect(stat(clone.key).virtual_size).toBeGreaterThanOrEqual(64 * MiB);
    expect(() => call('Volume.resize', { key: clone.key, new_size: 8 * MiB })).toThrow(/shrinking/);
    expect(() => call('Volume.resize', { key: snap.key, new_size: 64 * MiB })).toThrow(/read-only/);
    expect(() => stat('no-such-volume')).toThrow(/Volume_does_not_exist/);
    // Thin: a volume may be larger than the SR (as a sparse file may be larger than its filesystem).
    const huge = call<Volume>('Volume.create', { name: 'huge', description: '', size: 1024 * 1024 * MiB, sharable: false }, T.volume);
    expect(huge).toMatchObject({ virtual_size: 1024 * 1024 * MiB, physical_utilisation: 0 });
    call('Volume.destroy', { key: huge.key });
    expect(() => call('Volume.create', { name: 'absurd', description: '', size: Number.MAX_SAFE_INTEGER, sharable: false }, T.volume)).toThrow(/Invalid size.*too large/);

    // The SR survives its daemon and dom0 itself: detach stops the daemon; with the state directory
    // gone too (a reinstalled dom0), probe and attach find the lvol store and the names in it.
    call('SR.set_name', { new_name: 'fast local' });
    x.host.call('volume', 'SR.detach', { dbg: 'test', sr: x.sr }, T.unit);
    expect(spdkDaemons(x)).toHaveLength(0);
    expect(() => call('SR.ls', {}, volumeList)).toThrow(/Sr_not_attached/);
    fs.rmSync(path.join(x.host.dir, 'state'), { recursive: true, force: true });
    const probed = x.host.call<any[]>('volume', 'SR.probe', { dbg: 'test', configuration: config }, probeResults);
    expect(probed).toMatchObject([{ configuration: { ...config, sr_uuid: sr.uuid }, complete: true, sr: { name: 'fast local', uuid: sr.uuid } }]);
    x.sr = x.host.call<string>('volume', 'SR.attach', { dbg: 'test', configuration: { ...config, sr_uuid: sr.uuid } }, T.string);
    expect(stat(v.key)).toMatchObject({ name: 'renamed', keys: { 'vdi-type': 'user' } });
    expect(stat(snap.key).name).toBe('renamed');
    expect(ls()).toHaveLength(4);

    // A snapshot whose volume is gone stays read-only (SPDK no longer calls it a snapshot).
    const lone = call<Volume>('Volume.create', { name: 'lone', description: '', size: 4 * MiB, sharable: false }, T.volume);
    const loneSnap = call<Volume>('Volume.snapshot', { key: lone.key }, T.volume);
    call('Volume.destroy', { key: lone.key });
    expect(stat(loneSnap.key).read_write).toBe(false);
    call('Volume.destroy', { key: loneSnap.key });
    // Destroy in an order that leaves snapshots with clones on them; all space comes back.
    for (const key of [snap.key, v.key, clone.key, cloneOfSnap.key]) call('Volume.destroy', { key });
    call('Volume.destroy', { key: v.key }); // idempotent
    expect(ls()).toEqual([]);
    const after = call<any>('SR.stat', {}, T.srStat);
    expect(after.free_space).toBe(after.total_space);
  });

  test('a VM on an lvol: claimed qdisk, verified I/O, snapshot while running, online resize, NBD export, then a clone booted', async () => {
    const vol = call<Volume>('Volume.create', { name: 'system', description: '', size: 64 * MiB, sharable: false }, T.volume);
    const domid = nextDomid++;
    const vm = x.vmStart(vol.key, domid);
    expect(vm.xenDisk.backend_type).toBe('qdisk');
    expect(spdkDaemons(x)).toHaveLength(1); // the SR's, no daemon per volume
    const state = path.join(x.host.dir, 'guest.state');
    const verified = ['--verify', '--verify-state', state, '--rw', 'randrw', '--bs', '4k', '--iodepth', '8', '--ios', '1500', '--size', `${16 * MiB}`, '--queues', '2', '--flush-every', '50'];
    const s = await runGuest(domid, verified);
    expect(s.errors.total).toBe(0);
    expect(stat(vol.key).physical_utilisation).toBeGreaterThan(0);

    const snap = call<Volume>('Volume.snapshot', { key: vol.key }, T.volume);
    call('Volume.resize', { key: vol.key, new_size: 96 * MiB });
    expect(run('nbdinfo', ['--size', nbd(vm.nbdUri)]).trim()).toBe(String(96 * MiB));
    const again = await runGuest(domid, ['--verify', '--verify-state', state, '--rw', 'randread', '--bs', '4k', '--iodepth', '8', '--ios', '200', '--size', `${16 * MiB}`, '--close']);
    expect(again.errors.total).toBe(0);
    expect(again.features.sectors * again.features.sector_size).toBe(96 * MiB);
    x.vmShutdown(vol.key, vm);

    // A clone of the snapshot holds what the guest had written before it.
    const clone = call<Volume>('Volume.clone', { key: snap.key }, T.volume);
    const other = nextDomid++;
    const vm2 = x.vmStart(clone.key, other);
    const onClone = await runGuest(other, ['--verify', '--verify-state', state, '--rw', 'randread', '--bs', '4k', '--iodepth', '8', '--ios', '200', '--size', `${16 * MiB}`, '--close']);
    expect(onClone.errors.total).toBe(0);
    expect(() => call('Volume.destroy', { key: clone.key })).toThrow(/VDIInUse/);
    x.vmShutdown(clone.key, vm2);
    for (const key of [clone.key, snap.key, vol.key]) call('Volume.destroy', { key });
  }, 120_000);

  test('the SR daemon killed: the next call starts it again and the attached volume is served again', async () => {
    const vol = call<Volume>('Volume.create', { name: 'd', description: '', size: 16 * MiB, sharable: false }, T.volume);
    const att = x.attach(vol.key, '0'); // dom0: the NBD export only
    const [pid] = spdkDaemons(x);
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    expect(spdkDaemons(x)).toHaveLength(0);
    stat(vol.key); // restarts it, and the datapath's disks come back
    expect(spdkDaemons(x)).toHaveLength(1);
    run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x5a 0 64k', '-c', 'read -P 0x5a 0 64k', att.nbdUri]);
    x.datapath('detach', vol.key, '0');
    call('Volume.destroy', { key: vol.key });
  }, 60_000);

  test('reset on boot: writes between open(persistent=false) and close are thrown away; one active writer at a time', async () => {
    const vol = call<Volume>('Volume.create', { name: 'transient', description: '', size: 16 * MiB, sharable: false }, T.volume);
    const uri = vol.uri[0];
    const dp = (method: string, args: object) => x.host.call('datapath', `Datapath.${method}`, { dbg: 'xapi', uri, ...args }, T.unit);
    const state = path.join(x.host.dir, 'before.state');
    // Contents before open, written and flushed by a first guest.
    const first = nextDomid++;
    const vm1 = x.vmStart(vol.key, first);
    expect((await runGuest(first, ['--verify', '--verify-state', state, '--rw', 'write', '--bs', '64k', '--size', `${4 * MiB}`, '--close'])).errors.total).toBe(0);
    // A second domain may attach, but not activate a writable volume another one has active.
    expect(x.host.fail('datapath', 'Datapath.activate', { dbg: 'xapi', uri, domain: String(first + 100) }).params[0]).toBe('Not_attached');
    x.attach(vol.key, String(first + 100));
    expect(x.host.fail('datapath', 'Datapath.activate', { dbg: 'xapi', uri, domain: String(first + 100) }).params[0]).toBe('VDIInUse');
    x.datapath('detach', vol.key, String(first + 100));
    x.vmShutdown(vol.key, vm1);

    dp('open', { persistent: false });
    dp('open', { persistent: false }); // idempotent
    const second = nextDomid++;
    const vm2 = x.vmStart(vol.key, second);
    // Overwrites what the first guest wrote (unverified) ...
    await runGuest(second, ['--rw', 'write', '--bs', '64k', '--size', `${4 * MiB}`, '--close']);
    x.vmShutdown(vol.key, vm2);
    dp('close', {});
    dp('close', {}); // idempotent
    // ... and after close the first guest's data is back.
    const third = nextDomid++;
    const vm3 = x.vmStart(vol.key, third);
    expect((await runGuest(third, ['--verify', '--verify-state', state, '--rw', 'randread', '--bs', '4k', '--ios', '300', '--size', `${4 * MiB}`, '--close'])).errors.total).toBe(0);
    x.vmShutdown(vol.key, vm3);
    expect(ls().map((v) => v.key)).toEqual([vol.key]);
    call('Volume.destroy', { key: vol.key });
    const after = call<any>('SR.stat', {}, T.srStat);
    expect(after.free_space).toBe(after.total_space); // the reset snapshot went too
  }, 120_000);

  test('names a version before kept in the state directory move into the lvol store; a damaged record loses names, not volumes', async () => {
    const sr = call<any>('SR.stat', {}, T.srStat);
    const vol = call<Volume>('Volume.create', { name: 'new name', description: '', size: 8 * MiB, sharable: false }, T.volume);
    const spdkSocket = fs.readdirSync(path.join(x.runDir, 'spdk')).map((d) => path.join(x.runDir, 'spdk', d, 'spdk.sock'))[0];
    const meta = `xapi-${sr.uuid}/xapi-meta`;
    // As an SR made before: no names lvol, a record in the state directory.
    await rpcOn(spdkSocket, 'bdev_lvol_delete', { name: meta });
    const legacy = path.join(x.host.dir, 'state', 'spdk', `${sr.uuid}.json`);
    const created = new Date().toISOString();
    fs.mkdirSync(path.dirname(legacy), { recursive: true });
    fs.writeFileSync(legacy, JSON.stringify({ format: 1, uuid: sr.uuid, name: 'old sr', description: 'kept', created,
      volumes: { [vol.key]: { uuid: vol.key, name: 'old name', description: 'd', sharable: false, keys: { k: 'v' }, created } } }));
    expect(stat(vol.key)).toMatchObject({ name: 'old name', description: 'd', keys: { k: 'v' } });
    expect(fs.existsSync(legacy)).toBe(false);
    expect(call<any>('SR.stat', {}, T.srStat)).toMatchObject({ name: 'old sr', description: 'kept' });
    const [info] = await rpcOn<any[]>(spdkSocket, 'bdev_get_bdevs', { name: meta });
    expect(info.driver_specific.lvol.thin_provision).toBe(false); // full SRs can still change names
    // The names lvol is no volume, and its space is not the volumes'.
    expect(ls().map((v) => v.key)).toEqual([vol.key]);
    const st = call<any>('SR.stat', {}, T.srStat);
    expect(st.total_space - st.free_space).toBe(0);
    // A record that is not this SR's JSON (written whole, so its CRC holds): names fall back to the
    // keys, the volume stays, and names can be set again.
    const control = path.join(path.dirname(spdkSocket), 'control.sock');
    await rpcOn(control, 'meta_write', { engine: 'spdk', path: meta, data: '{"not": "a record"' });
    expect(stat(vol.key)).toMatchObject({ key: vol.key, name: vol.key });
    call('Volume.set_name', { key: vol.key, new_name: 'set again' });
    expect(stat(vol.key).name).toBe('set again');
  }, 60_000);

  test('SR.destroy removes the lvol store and its names; SR.create with force=true over a foreign lvol store', () => {
    const sr = call<any>('SR.stat', {}, T.srStat);
    call<Volume>('Volume.create', { name: 'doomed', description: '', size: 8 * MiB, sharable: false }, T.volume);
    const legacy = path.join(x.host.dir, 'state', 'spdk', `${sr.uuid}.json`);
    expect(fs.existsSync(legacy)).toBe(false); // the names are in the lvol store
    call('SR.destroy', {});
    expect(spdkDaemons(x)).toHaveLength(0);
    expect(() => call('SR.stat', {}, T.srStat)).toThrow(/Sr_not_attached|SR_does_not_exist/);
    expect(x.host.call<any[]>('volume', 'SR.probe', { dbg: 'test', configuration: config }, probeResults)).toEqual([{ configuration: config, complete: true, extra_info: {} }]);
    // A new SR on the device; then one over it, forced.
    const first = newUuid();
    x.host.call('volume', 'SR.create', { dbg: 'test', uuid: first, configuration: config, name: 'a', description: '' }, T.configuration);
    const second = newUuid();
    const made = x.host.call<Record<string, string>>('volume', 'SR.create', { dbg: 'test', uuid: second, configuration: { ...config, force: 'true' }, name: 'b', description: '' }, T.configuration);
    expect(made).toEqual({ ...config, sr_uuid: second });
    const probed = x.host.call<any[]>('volume', 'SR.probe', { dbg: 'test', configuration: config }, probeResults);
    expect(probed.map((p) => p.configuration.sr_uuid)).toEqual([second]);
    x.sr = x.host.call<string>('volume', 'SR.attach', { dbg: 'test', configuration: made }, T.string);
    expect(call<any>('SR.stat', {}, T.srStat)).toMatchObject({ uuid: second, name: 'b' });
  }, 60_000);

  test('bad device-config and SR uuids get clear errors and leave nothing running', () => {
    const create = (configuration: Record<string, string>) =>
      x.host.call('volume', 'SR.create', { dbg: 'test', uuid: newUuid(), configuration, name: 'n', description: '' }, T.configuration);
    expect(() => create({ bdev: 'not json' })).toThrow(/Invalid_configuration.*not JSON/);
    expect(() => create({ bdev: JSON.stringify({ method: 'bdev_nvme_attach_controller', params: { name: 'x' } }) })).toThrow(/Invalid_configuration/);
    expect(() => create({ nvme: 'zz:00' })).toThrow(/neither a PCI address/);
    expect(() => create({ nvme: '0000:01:00.0', bdev: config.bdev })).toThrow(/not both/);
    // No such drive here (and no hugepages, or no controller at that address): SPDK's own reason, the daemon gone.
    expect(() => create({ nvme: '0000:00:1f.7' })).toThrow(/IO_error.*cannot start the SPDK daemon for NVMe 0000:00:1f.7.*(hugepage|No controller)/);
    // The device holds our SR's lvol store already.
    expect(() => create(config)).toThrow(/already holds lvol store/);
    expect(() => x.host.call('volume', 'SR.attach', { dbg: 'test', configuration: { ...config, sr_uuid: newUuid() } }, T.string)).toThrow(/SR_does_not_exist/);
    // A second device: its daemon is started for the failed call and stopped again.
    const other = aioConfig(x.host, 64 * MiB, 'other0');
    expect(() => x.host.call('volume', 'SR.attach', { dbg: 'test', configuration: { ...other, sr_uuid: newUuid() } }, T.string)).toThrow(/SR_does_not_exist/);
    expect(spdkDaemons(x)).toHaveLength(1);
    const probed = x.host.call<any[]>('volume', 'SR.probe', { dbg: 'test', configuration: other }, probeResults);
    expect(probed).toEqual([{ configuration: other, complete: true, extra_info: {} }]);
    const mine = x.host.call<any[]>('volume', 'SR.probe', { dbg: 'test', configuration: config }, probeResults);
    expect(mine).toHaveLength(1);
    expect(mine[0].configuration.sr_uuid).toBe(call<any>('SR.stat', {}, T.srStat).uuid);
    expect(spdkDaemons(x)).toHaveLength(1);
  }, 60_000);
});
