// The call sequences xapi produces (reference 3.7), replayed against the
// built executables exactly as xapi-storage-script runs them.
import * as fs from 'node:fs';
import { probeResults, T, volumeList } from '../harness/rpclib';
import { srCreate, vdiCreate, type SrStat, type Volume } from '../harness/fixtures';
import { Host } from '../harness/xss';
import { queryResult, srStat, volume } from '../../lib/wire/schemas';
import * as z from 'zod/mini';

const MiB = 1024 * 1024;
let host: Host;
beforeEach(() => {
  host = new Host();
});
afterEach(() => host.cleanup());

function imagePath(v: Volume): string {
  expect(v.uri[0]).toMatch(/^spdk:\/\/file\//);
  return decodeURIComponent(v.uri[0].slice('spdk://file'.length));
}

function stat(sr: string, key: string): Volume {
  const v = host.call<Volume>('volume', 'Volume.stat', { dbg: 't', sr, key }, T.volume);
  expect(volume.safeParse(v).success).toBe(true);
  return v;
}

test('Plugin.Query of both plugins: plugin names, API 5.0, features', () => {
  const q = host.call<z.infer<typeof queryResult>>('volume', 'Plugin.Query', { dbg: 't' }, T.queryResult);
  expect(queryResult.safeParse(q).success).toBe(true);
  expect(q.plugin).toBe('spdk'); // = the directory suffix org.xen.xapi.storage.spdk
  expect(q.required_api_version).toBe('5.0');
  expect(q.features).toEqual(expect.arrayContaining(['VDI_CREATE', 'VDI_DESTROY', 'VDI_SNAPSHOT', 'VDI_CLONE', 'VDI_RESIZE', 'SR_PROBE']));
  // The datapath makes these true for a running guest (spec/sim/lifecycle.test.ts proves online resize).
  expect(q.features).toEqual(expect.arrayContaining(['VDI_RESIZE_ONLINE', 'LARGE_VDI', 'THIN_PROVISIONING']));
  expect(Object.keys(q.configuration)).toEqual(expect.arrayContaining(['path', 'device']));

  // The datapath plugin registers with dbg "register" and the directory name is its scheme.
  const d = host.call<z.infer<typeof queryResult>>('datapath', 'Plugin.Query', { dbg: 'register' }, T.queryResult);
  expect(d.plugin).toBe('spdk');
  expect(['3.0', '5.0']).toContain(d.required_api_version);
  expect(d.features).toEqual(['NONPERSISTENT']);
  // The method file is found case-insensitively, as the daemon calls "Plugin.query".
  expect(host.call('volume', 'plugin.query', { dbg: 't' }, T.queryResult)).toEqual(q);
});

test('sr-create then sr-scan: SR.create, SR.attach, SR.stat, SR.ls', () => {
  const { sr, uuid, config } = srCreate(host, { path: host.srsDir }, 'My SR', 'for tests');
  expect(config).toEqual({ path: host.srsDir, sr_uuid: uuid });
  const s = host.call<SrStat>('volume', 'SR.stat', { dbg: 't', sr }, T.srStat);
  expect(srStat.safeParse(s).success).toBe(true);
  expect(s).toMatchObject({ sr, uuid, name: 'My SR', description: 'for tests', clustered: false, health: ['Healthy', ''], datasources: [] });
  const fsStat = fs.statfsSync(host.srsDir);
  expect(s.total_space).toBe(fsStat.blocks * fsStat.bsize);
  expect(Math.abs(s.free_space - fsStat.bavail * fsStat.bsize)).toBeLessThan(64 * MiB);
  expect(host.call('volume', 'SR.ls', { dbg: 't', sr }, volumeList)).toEqual([]);
  // Attach is idempotent and returns the same string.
  expect(host.call('volume', 'SR.attach', { dbg: 't', configuration: config }, T.string)).toBe(sr);
  expect(host.call('volume', 'Plugin.ls', { dbg: 't' }, T.stringList)).toEqual([sr]);
  expect(host.call<string>('volume', 'Plugin.diagnostics', { dbg: 't' }, T.string)).toContain(sr);
});

test('SR.set_name, SR.set_description and SR.probe', () => {
  const { sr, uuid } = srCreate(host, { path: host.srsDir });
  host.call('volume', 'SR.set_name', { dbg: 't', sr, new_name: 'renamed' }, T.unit);
  host.call('volume', 'SR.set_description', { dbg: 't', sr, new_description: 'new words' }, T.unit);
  expect(host.call<SrStat>('volume', 'SR.stat', { dbg: 't', sr }, T.srStat)).toMatchObject({ name: 'renamed', description: 'new words' });

  const results = host.call<Array<{ configuration: Record<string, string>; complete: boolean; sr?: SrStat }>>(
    'volume',
    'SR.probe',
    { dbg: 't', configuration: { path: host.srsDir } },
    probeResults,
  );
  // The daemon's rules (reference 7.2): a uuid implies complete, an sr implies a uuid.
  for (const r of results) {
    if (r.configuration.sr_uuid) expect(r.complete).toBe(true);
    if (r.sr) expect(r.configuration.sr_uuid).toBeDefined();
  }
  expect(results).toContainEqual({ configuration: { path: host.srsDir }, complete: true, extra_info: {} });
  const existing = results.find((r) => r.configuration.sr_uuid === uuid);
  expect(existing?.sr).toMatchObject({ name: 'renamed', uuid });
});

test('vdi-create, vdi-param-set, vdi-resize and vdi-destroy', () => {
  const { sr } = srCreate(host, { path: host.srsDir });
  const v = vdiCreate(host, sr, 10 * MiB + 1, 'data disk');
  expect(volume.safeParse(v).success).toBe(true);
  expect(v).toMatchObject({ name: 'data disk', description: 'data disk description', read_write: true, sharable: false, keys: {} });
  expect(v.uuid).toBe(v.key);
  // Rounded up to whole 4 KiB blocks, never below the request; thin: nothing allocated.
  expect(v.virtual_size).toBe(10 * MiB + 4096);
  expect(v.physical_utilisation).toBe(0);
  expect(fs.statSync(imagePath(v)).size).toBe(v.virtual_size);

  // Keys come back verbatim from Volume.stat and SR.ls.
  const odd = 'a=b; "quoted" \n ünïcødé';
  host.call('volume', 'Volume.set', { dbg: 't', sr, key: v.key, k: 'tagsfoo', v: odd }, T.unit);
  host.call('volume', 'Volume.set', { dbg: 't', sr, key: v.key, k: '_sm_config_x', v: '' }, T.unit);
  expect(stat(sr, v.key).keys).toEqual({ 'vdi-type': 'user', tagsfoo: odd, _sm_config_x: '' });
  host.call('volume', 'Volume.unset', { dbg: 't', sr, key: v.key, k: '_sm_config_x' }, T.unit);
  host.call('volume', 'Volume.unset', { dbg: 't', sr, key: v.key, k: 'never-set' }, T.unit);
  const listed = host.call<Volume[]>('volume', 'SR.ls', { dbg: 't', sr }, volumeList);
  expect(listed.map((x) => x.keys)).toEqual([{ 'vdi-type': 'user', tagsfoo: odd }]);

  host.call('volume', 'Volume.set_name', { dbg: 't', sr, key: v.key, new_name: 'n2' }, T.unit);
  host.call('volume', 'Volume.set_description', { dbg: 't', sr, key: v.key, new_description: 'd2' }, T.unit);
  expect(stat(sr, v.key)).toMatchObject({ name: 'n2', description: 'd2' });

  // Physical utilisation follows the allocated blocks.
  const fd = fs.openSync(imagePath(v), 'r+');
  fs.writeSync(fd, Buffer.alloc(MiB, 0xab), 0, MiB, 2 * MiB);
  fs.closeSync(fd);
  expect(stat(sr, v.key).physical_utilisation).toBeGreaterThanOrEqual(MiB);

  host.call('volume', 'Volume.resize', { dbg: 't', sr, key: v.key, new_size: 20 * MiB }, T.unit);
  expect(stat(sr, v.key).virtual_size).toBe(20 * MiB);
  host.call('volume', 'Volume.resize', { dbg: 't', sr, key: v.key, new_size: 20 * MiB }, T.unit); // same size: fine
  const shrink = host.fail('volume', 'Volume.resize', { dbg: 't', sr, key: v.key, new_size: MiB });
  expect(shrink.code).toBe('SR_BACKEND_FAILURE_79');
  expect(shrink.params[0]).toBe('VDI Invalid size');
  expect(stat(sr, v.key).virtual_size).toBe(20 * MiB);

  // vdi-destroy: Volume.stat then Volume.destroy, twice with clone-on-boot (idempotent).
  stat(sr, v.key);
  host.call('volume', 'Volume.destroy', { dbg: 't', sr, key: v.key }, T.unit);
  host.call('volume', 'Volume.destroy', { dbg: 't', sr, key: v.key }, T.unit);
  expect(fs.existsSync(imagePath(v))).toBe(false);
  const gone = host.fail('volume', 'Volume.stat', { dbg: 't', sr, key: v.key });
  expect(gone).toMatchObject({ code: 'SR_BACKEND_FAILURE', params: ['Volume_does_not_exist', v.key] });
  expect(host.call('volume', 'SR.ls', { dbg: 't', sr }, volumeList)).toEqual([]);
});

test('vdi-snapshot and VM snapshot: read-only copy with its own data, keys not copied', () => {
  const { sr } = srCreate(host, { path: host.srsDir });
  const v = vdiCreate(host, sr, 4 * MiB);
  host.call('volume', 'Volume.set', { dbg: 't', sr, key: v.key, k: 'secret', v: 'only-on-source' }, T.unit);
  const data = Buffer.alloc(64 * 1024, 0x5a);
  fs.writeFileSync(imagePath(v), data, { flag: 'r+' });

  const s = host.call<Volume>('volume', 'Volume.snapshot', { dbg: 't', sr, key: v.key }, T.volume);
  expect(s.key).not.toBe(v.key);
  expect(s).toMatchObject({ read_write: false, name: v.name, description: v.description, virtual_size: v.virtual_size, keys: {} });
  // What xapi-storage-script sets on the snapshot afterwards.
  for (const [k, val] of Object.entries({ snapshot_time: '20261125T10:00:00Z', is_a_snapshot: 'true', snapshot_of: v.key, 'vdi-type': 'user' })) {
    host.call('volume', 'Volume.set', { dbg: 't', sr, key: s.key, k, v: val }, T.unit);
  }
  expect(stat(sr, s.key).keys).toMatchObject({ is_a_snapshot: 'true', snapshot_of: v.key });
  // Writes to the source after the snapshot do not reach it.
  fs.writeFileSync(imagePath(v), Buffer.alloc(64 * 1024, 0x11), { flag: 'r+' });
  expect(fs.readFileSync(imagePath(s)).subarray(0, data.length).equals(data)).toBe(true);
  // A snapshot cannot be resized.
  expect(host.fail('volume', 'Volume.resize', { dbg: 't', sr, key: s.key, new_size: 8 * MiB }).code).toBe('SR_BACKEND_FAILURE_78');
  expect(host.log()).toMatch(/snapshot of .* by (reflink|full copy)/);
});

test('VM start and shutdown on the volume side, and reset-on-boot emulation', () => {
  const { sr } = srCreate(host, { path: host.srsDir });
  const v = vdiCreate(host, sr, 8 * MiB);
  fs.writeFileSync(imagePath(v), Buffer.from('golden image'), { flag: 'r+' });
  // epoch_begin with persistent=false and no NONPERSISTENT datapath: the daemon clones.
  stat(sr, v.key);
  const transient = host.call<Volume>('volume', 'Volume.clone', { dbg: 't', sr, key: v.key }, T.volume);
  expect(transient.read_write).toBe(true);
  host.call('volume', 'Volume.set', { dbg: 't', sr, key: v.key, k: 'clone-on-boot', v: transient.key }, T.unit);
  // attach/activate use the transient's URIs; the guest writes to it.
  for (let i = 0; i < 3; i++) stat(sr, transient.key);
  fs.writeFileSync(imagePath(transient), Buffer.from('guest scribble'), { flag: 'r+' });
  // epoch_end: destroy the transient, unset clone-on-boot.
  stat(sr, v.key);
  host.call('volume', 'Volume.destroy', { dbg: 't', sr, key: transient.key }, T.unit);
  host.call('volume', 'Volume.unset', { dbg: 't', sr, key: v.key, k: 'clone-on-boot' }, T.unit);
  expect(fs.readFileSync(imagePath(v)).subarray(0, 12).toString()).toBe('golden image');
  expect(stat(sr, v.key).keys).toEqual({ 'vdi-type': 'user' });
  // A clone of a snapshot (fast clone from a template) is writable too.
  const snap = host.call<Volume>('volume', 'Volume.snapshot', { dbg: 't', sr, key: v.key }, T.volume);
  const fromSnap = host.call<Volume>('volume', 'Volume.clone', { dbg: 't', sr, key: snap.key }, T.volume);
  expect(fromSnap.read_write).toBe(true);
  expect(fs.readFileSync(imagePath(fromSnap)).subarray(0, 12).toString()).toBe('golden image');
  expect(host.call<Volume[]>('volume', 'SR.ls', { dbg: 't', sr }, volumeList).map((x) => x.key).sort()).toEqual([v.key, snap.key, fromSnap.key].sort());
});

test('sr-destroy: SR.attach then SR.destroy removes everything; SR.detach is idempotent', () => {
  const { sr, config } = srCreate(host, { path: host.srsDir });
  vdiCreate(host, sr, MiB);
  host.call('volume', 'SR.detach', { dbg: 't', sr }, T.unit);
  host.call('volume', 'SR.detach', { dbg: 't', sr }, T.unit);
  expect(host.call('volume', 'Plugin.ls', { dbg: 't' }, T.stringList)).toEqual([]);
  expect(host.call('volume', 'SR.attach', { dbg: 't', configuration: config }, T.string)).toBe(sr);
  host.call('volume', 'SR.destroy', { dbg: 't', sr }, T.unit);
  expect(fs.readdirSync(host.srsDir)).toEqual([]);
  expect(host.call('volume', 'Plugin.ls', { dbg: 't' }, T.stringList)).toEqual([]);
  // Attaching a destroyed SR is a clean error.
  expect(host.fail('volume', 'SR.attach', { dbg: 't', configuration: config }).params[0]).toBe('SR_does_not_exist');
});

test('the datapath plugin directory holds Plugin.* and the Datapath methods xapi calls, nothing else', () => {
  expect(host.call('datapath', 'Plugin.ls', { dbg: 't' }, T.stringList)).toEqual([]);
  for (const m of ['open', 'attach', 'activate', 'deactivate', 'detach', 'close']) expect(host.raw('datapath', `Datapath.${m}`, '{}').status).toBe(1);
  // Not implemented: xapi only calls them when a feature says so (VDI_ACTIVATE_READONLY, VDI_MIRROR_IN).
  expect(() => host.raw('datapath', 'Datapath.activate_readonly', '{}')).toThrow(/SCRIPT_MISSING/);
  expect(() => host.raw('datapath', 'Datapath.import_activate', '{}')).toThrow(/SCRIPT_MISSING/);
});
