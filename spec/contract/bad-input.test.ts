// Bad input gets a well-formed error envelope and changes nothing.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { probeResults, T, volumeList } from '../harness/rpclib';
import { srCreate, vdiCreate, type Volume } from '../harness/fixtures';
import { Host } from '../harness/xss';

let host: Host;
let sr: string;
let config: Record<string, string>;
let vol: Volume;

/** Every file under the SR with its size: must not change after a refused call. */
function snapshotTree(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = fs.statSync(p).size;
    }
  };
  walk(dir);
  return out;
}

beforeAll(() => {
  host = new Host();
  ({ sr, config } = srCreate(host, { path: host.srsDir }));
  vol = vdiCreate(host, sr, 1024 * 1024);
});
afterAll(() => host.cleanup());

function refused(method: string, args: object | string): { code: string; params: string[] } {
  const before = snapshotTree(host.srsDir);
  const env = host.fail('volume', method, args);
  expect(env.backtrace.files.length).toBe(env.backtrace.lines.length);
  expect(env.params.every((p) => typeof p === 'string')).toBe(true);
  expect(snapshotTree(host.srsDir)).toEqual(before);
  return env;
}

test.each([
  ['not JSON', 'Volume.stat', '{"dbg": '],
  ['an empty stdin', 'Volume.stat', ''],
  ['a JSON array', 'SR.stat', '[{"dbg":"x"}]'],
  ['a JSON string', 'SR.stat', '"x"'],
  ['null', 'SR.stat', 'null'],
])('%s is refused as invalid arguments', (_what, method, text) => {
  const env = refused(method, text);
  expect(env).toMatchObject({ code: 'SR_BACKEND_FAILURE', params: ['Invalid_arguments', expect.stringContaining(method)] });
});

test.each([
  ['missing sr', 'Volume.stat', () => ({ dbg: 'x', key: vol.key }), /sr/],
  ['missing dbg', 'SR.stat', () => ({ sr }), /dbg/],
  ['size as a string', 'Volume.create', () => ({ dbg: 'x', sr, name: 'n', description: 'd', size: '1024', sharable: false }), /size/],
  ['size as a float', 'Volume.create', () => ({ dbg: 'x', sr, name: 'n', description: 'd', size: 1.5, sharable: false }), /size/],
  ['a negative size', 'Volume.create', () => ({ dbg: 'x', sr, name: 'n', description: 'd', size: -1, sharable: false }), /size/],
  ['a size past 2^53', 'Volume.create', () => ({ dbg: 'x', sr, name: 'n', description: 'd', size: 2 ** 60, sharable: false }), /size/],
  ['sharable as a string', 'Volume.create', () => ({ dbg: 'x', sr, name: 'n', description: 'd', size: 0, sharable: 'no' }), /sharable/],
  ['configuration values not strings', 'SR.attach', () => ({ dbg: 'x', configuration: { path: 1 } }), /configuration/],
  ['a null name', 'Volume.set_name', () => ({ dbg: 'x', sr, key: vol.key, new_name: null }), /new_name/],
  ['a negative new_size', 'Volume.resize', () => ({ dbg: 'x', sr, key: vol.key, new_size: -4096 }), /new_size/],
])('%s: Invalid_arguments naming the field', (_what, method, args, field) => {
  const env = refused(method, args());
  expect(env.code).toBe('SR_BACKEND_FAILURE');
  expect(env.params[0]).toBe('Invalid_arguments');
  expect(env.params[1]).toMatch(field);
});

test('unknown fields are ignored, as rpclib does', () => {
  expect(host.call('volume', 'Volume.stat', { dbg: 'x', sr, key: vol.key, extra: 1, future_field: { a: 1 } }, T.volume)).toMatchObject({ key: vol.key });
});

test('unknown volume, unknown SR, hostile keys', () => {
  expect(refused('Volume.stat', { dbg: 'x', sr, key: 'no-such-volume' }).params).toEqual(['Volume_does_not_exist', 'no-such-volume']);
  expect(refused('Volume.set', { dbg: 'x', sr, key: 'nope', k: 'a', v: 'b' }).params[0]).toBe('Volume_does_not_exist');
  expect(refused('Volume.resize', { dbg: 'x', sr, key: 'nope', new_size: 0 }).params[0]).toBe('Volume_does_not_exist');
  expect(refused('Volume.snapshot', { dbg: 'x', sr, key: 'nope' }).params[0]).toBe('Volume_does_not_exist');
  for (const key of ['../sr', '../../etc/passwd', '', '.', 'a/b', `${vol.key}/../${vol.key}`]) {
    expect(refused('Volume.stat', { dbg: 'x', sr, key }).params[0]).toBe('Volume_does_not_exist');
    refused('Volume.destroy', { dbg: 'x', sr, key: key || 'x/..' });
  }
  const otherSr = `file://${path.join(host.dir, 'no-sr-here')}`;
  expect(refused('Volume.stat', { dbg: 'x', sr: otherSr, key: vol.key }).params[0]).toBe('Sr_not_attached');
  expect(refused('SR.stat', { dbg: 'x', sr: 'not-a-uri' }).params[0]).toBe('SR_does_not_exist');
  expect(refused('Volume.create', { dbg: 'x', sr: otherSr, name: 'n', description: 'd', size: 0, sharable: false }).params[0]).toBe('Sr_not_attached');
});

test('bad configurations for SR.create and SR.attach', () => {
  const create = (configuration: Record<string, string>, uuid = 'u-bad') => refused('SR.create', { dbg: 'x', uuid, configuration, name: 'n', description: 'd' });
  expect(create({}).params[0]).toBe('Invalid_configuration');
  expect(create({ path: 'relative/dir' }).params[0]).toBe('Invalid_configuration');
  expect(create({ path: path.join(host.dir, 'missing') }).params[0]).toBe('Invalid_configuration');
  expect(create({ path: host.srsDir, device: '/dev/null' }).params[0]).toBe('Invalid_configuration');
  expect(create({ device: '/dev/null' }).params[1]).toMatch(/not a block device/);
  expect(create({ device: '/tmp' }).params[1]).toMatch(/not a path under \/dev|not a block device/);
  expect(create({ path: host.srsDir }, '../escape').params[0]).toBe('Invalid_arguments');
  // The SR that exists cannot be created twice.
  expect(create({ path: host.srsDir }, config.sr_uuid).params[1]).toMatch(/already exists/);
  expect(refused('SR.attach', { dbg: 'x', configuration: { path: host.srsDir } }).params[1]).toMatch(/sr_uuid/);
  expect(refused('SR.attach', { dbg: 'x', configuration: { path: host.srsDir, sr_uuid: 'other' } }).params[0]).toBe('SR_does_not_exist');
  // The SPDK store: its keys checked before anything starts.
  expect(create({ nvme: '01:00.0' }).params[1]).toMatch(/neither a PCI address/);
  expect(create({ nvme: 'tcp://127.0.0.1:4420/not-an-nqn' }).params[1]).toMatch(/neither a PCI address/);
  expect(create({ nvme: 'tcp://300.0.0.1:4420/nqn.2026-12.test:x' }).params[1]).toMatch(/bad address or port/);
  expect(create({ nvme: 'tcp://127.0.0.1:70000/nqn.2026-12.test:x' }).params[1]).toMatch(/bad address or port/);
  expect(create({ bdev: '{"method":"bdev_nvme_attach_controller","params":{"name":"x"}}' }).params[0]).toBe('Invalid_configuration');
  expect(create({ path: host.srsDir, nvme: '0000:01:00.0' }).params[0]).toBe('Invalid_configuration'); // not both stores
  // Without the SPDK daemon (built only where SPDK is installed) an SPDK SR cannot be made here: said so.
  if (!fs.existsSync(path.join(__dirname, '..', '..', 'native', 'build', 'xenblkd-spdk'))) {
    expect(create({ nvme: '0000:01:00.0' }, 'u-spdk').params[1]).toMatch(/xenblkd-spdk not found.*built only where SPDK is installed/);
  }
});

test('resize past what the filesystem allows fails cleanly and keeps the size', () => {
  const env = refused('Volume.resize', { dbg: 'x', sr, key: vol.key, new_size: 2 ** 53 - 1 });
  expect(env.code).toBe('SR_BACKEND_FAILURE_79');
  expect(host.call<Volume>('volume', 'Volume.stat', { dbg: 'x', sr, key: vol.key }, T.volume).virtual_size).toBe(vol.virtual_size);
  expect(host.call<Volume[]>('volume', 'SR.ls', { dbg: 'x', sr }, volumeList).map((v) => v.key)).toEqual([vol.key]);
});

test('stdout holds nothing but the answer, and logs go to the log file', () => {
  const ok = host.raw('volume', 'Volume.set', JSON.stringify({ dbg: 'x', sr, key: vol.key, k: 'a', v: 'b' }));
  expect(ok.stdout).toBe('null');
  expect(ok.status).toBe(0);
  expect(host.log()).toMatch(/SMAPIv3: \[\d+\] - INFO - Volume\.set: called with/);
  const bad = host.raw('volume', 'Volume.stat', '{}');
  expect(bad.status).not.toBe(0);
  expect(() => JSON.parse(bad.stdout)).not.toThrow();
  expect(host.log()).toMatch(/ERROR - Volume\.stat: failed: SR_BACKEND_FAILURE/);
});

test('SR.create never touches a folder of the same name that is not an SR', () => {
  const squatter = path.join(host.srsDir, 'taken-uuid');
  fs.mkdirSync(squatter);
  fs.writeFileSync(path.join(squatter, 'precious.txt'), 'keep me');
  const env = refused('SR.create', { dbg: 'x', uuid: 'taken-uuid', configuration: { path: host.srsDir }, name: 'n', description: 'd' });
  expect(env.params[1]).toMatch(/precious\.txt/);
  expect(fs.readFileSync(path.join(squatter, 'precious.txt'), 'utf8')).toBe('keep me');
  fs.rmSync(squatter, { recursive: true });
});

test('a folder with a foreign or damaged sr.json is not taken for an SR; SR.probe skips it and plain files', () => {
  const foreign = path.join(host.srsDir, 'foreign');
  const damaged = path.join(host.srsDir, 'damaged');
  for (const d of [foreign, damaged]) fs.mkdirSync(d);
  fs.writeFileSync(path.join(foreign, 'sr.json'), '{"not":"an SR"}');
  fs.writeFileSync(path.join(damaged, 'sr.json'), '{"format":1,"uuid":');
  fs.writeFileSync(path.join(host.srsDir, 'a-plain-file'), 'not a folder');
  try {
    for (const d of [foreign, damaged]) {
      expect(refused('SR.stat', { dbg: 'x', sr: `file://${d}` }).params[0]).toBe('Sr_not_attached');
      expect(refused('SR.attach', { dbg: 'x', configuration: { path: host.srsDir, sr_uuid: path.basename(d) } }).params[0]).toBe('SR_does_not_exist');
    }
    const found = host.call<{ configuration: Record<string, string> }[]>('volume', 'SR.probe', { dbg: 'x', configuration: { path: host.srsDir } }, probeResults);
    expect(found.map((p) => p.configuration.sr_uuid).filter(Boolean)).toEqual([config.sr_uuid]);
    expect(fs.readFileSync(path.join(foreign, 'sr.json'), 'utf8')).toBe('{"not":"an SR"}');
  } finally {
    for (const d of [foreign, damaged]) fs.rmSync(d, { recursive: true });
    fs.rmSync(path.join(host.srsDir, 'a-plain-file'));
  }
});
