// The wire layer on its own: method table, argument validation, envelopes.
import * as fc from 'fast-check';
import { METHODS, findMethod } from '../../lib/wire/methods';
import { StorageError, errors, fromSystemError, toEnvelope } from '../../lib/wire/errors';
import { call, parseArgs } from '../../lib/wire/invoke';
import { volumeHandlers } from '../../lib/plugin/volume';
import { datapathHandlers } from '../../lib/plugin/datapath';
import { entryOf } from '../../lib/plugin/entry';
import { decode, decodeEnvelope, T } from '../harness/rpclib';

test('every v5 method is declared once, with the 8.3 additions', () => {
  const names = METHODS.map((m) => m.name);
  expect(new Set(names).size).toBe(names.length);
  for (const n of [
    'Plugin.query', 'Plugin.ls', 'Plugin.diagnostics',
    'SR.probe', 'SR.create', 'SR.attach', 'SR.detach', 'SR.destroy', 'SR.stat', 'SR.set_name', 'SR.set_description', 'SR.ls',
    'Volume.create', 'Volume.snapshot', 'Volume.clone', 'Volume.copy', 'Volume.destroy', 'Volume.set_name', 'Volume.set_description',
    'Volume.set', 'Volume.unset', 'Volume.resize', 'Volume.stat', 'Volume.compare', 'Volume.similar_content', 'Volume.enable_cbt',
    'Volume.disable_cbt', 'Volume.data_destroy', 'Volume.list_changed_blocks', 'Volume.compose', 'Volume.revert',
    'Datapath.open', 'Datapath.attach', 'Datapath.activate', 'Datapath.activate_readonly', 'Datapath.import_activate',
    'Datapath.deactivate', 'Datapath.detach', 'Datapath.close',
    'Data.copy', 'Data.mirror', 'Data.stat', 'Data.cancel', 'Data.destroy', 'Data.ls',
    'Task.stat', 'Task.cancel', 'Task.destroy', 'Task.ls',
  ]) {
    expect(names).toContain(n);
  }
  expect(findMethod('plugin.query')?.file).toBe('Plugin.Query');
  expect(findMethod('VOLUME.STAT')?.name).toBe('Volume.stat');
  // Every handler belongs to a declared method of its plugin.
  for (const name of Object.keys(volumeHandlers)) expect(findMethod(name)?.plugins).toContain('volume');
  for (const name of Object.keys(datapathHandlers)) expect(findMethod(name)?.plugins).toContain('datapath');
});

test('result schemas accept the reference examples and refuse what rpclib refuses', () => {
  const stat = findMethod('SR.stat')!.result;
  const good = { sr: 'file:///tmp/dummy', name: 'dummy SR plugin', description: '…', total_space: 0, free_space: 0, datasources: [], clustered: false, health: ['Healthy', ''] };
  expect(stat.safeParse(good).success).toBe(true);
  expect(stat.safeParse({ ...good, uuid: null }).success).toBe(false); // never null
  expect(stat.safeParse({ ...good, free_space: 1.5 }).success).toBe(false); // integers only
  expect(stat.safeParse({ ...good, health: ['Healthy'] }).success).toBe(false);
  const attach = findMethod('Datapath.attach')!.result;
  expect(
    attach.safeParse({ implementations: [['XenDisk', { backend_type: 'vbd3', params: '/dev/x', extra: {} }], ['BlockDevice', { path: '/dev/x' }]] }).success,
  ).toBe(true);
  expect(attach.safeParse({ implementations: [['XenDisk', null]] }).success).toBe(false);
  expect(findMethod('Volume.destroy')!.result.safeParse(null).success).toBe(true);
  expect(findMethod('Volume.destroy')!.result.safeParse(undefined).success).toBe(false);
});

test('the test decoder behaves like rpclib', () => {
  expect(decode(T.volume, { KEY: 'k', Name: 'n', description: '', read_write: true, sharable: false, virtual_size: 1, physical_utilisation: 0, uri: [], keys: {}, extra: 1 })).toMatchObject({ key: 'k', name: 'n' });
  expect(() => decode(T.volume, { key: 'k', uuid: null })).toThrow();
  expect(() => decode('int64', 1.5)).toThrow();
  expect(decode('int64', '42')).toBe(42);
  expect(decode(T.srStat, { sr: 's', name: 'n', description: '', free_space: 0, total_space: 0, datasources: [], clustered: false, health: ['healthy', 'x'] })).toMatchObject({ health: ['Healthy', 'x'] });
  expect(() => decodeEnvelope({ code: 'X', params: [], backtrace: { error: '', files: ['a'], lines: [] } })).toThrow(/List.combine/);
});

test('envelopes: codes, params, and a backtrace of equal-length files and lines', () => {
  const env = toEnvelope(errors.invalidSize('shrinking not allowed'));
  expect(env.code).toBe('SR_BACKEND_FAILURE_79');
  expect(env.params).toEqual(['VDI Invalid size', 'shrinking not allowed']);
  expect(env.backtrace.files.length).toBe(env.backtrace.lines.length);
  expect(env.backtrace.files.length).toBeGreaterThan(0);
  expect(toEnvelope(errors.volumeDoesNotExist('k'))).toMatchObject({ code: 'SR_BACKEND_FAILURE', params: ['Volume_does_not_exist', 'k'] });
  const odd = toEnvelope('a thrown string');
  expect(odd.params).toEqual(['Internal_error', 'a thrown string']);
  expect(toEnvelope(new TypeError('boom')).backtrace.error).toBe('TypeError: boom');
  const enospc = fromSystemError(Object.assign(new Error('x'), { code: 'ENOSPC' }), 'writing');
  expect(enospc).toBeInstanceOf(StorageError);
  expect((enospc as StorageError).code).toBe('SR_BACKEND_FAILURE_44');
  const other = new Error('unrelated');
  expect(fromSystemError(other, 'x')).toBe(other);
});

test('executable paths map to plugin and method', () => {
  expect(entryOf('/usr/libexec/xapi-storage-script/volume/org.xen.xapi.storage.spdk/SR.attach')).toEqual({ kind: 'volume', method: 'SR.attach' });
  expect(entryOf('/usr/libexec/xapi-storage-script/datapath/spdk/Plugin.Query')).toEqual({ kind: 'datapath', method: 'Plugin.Query' });
  expect(entryOf('/usr/lib/xapi-storage-spdk/xapi-storage-spdk.js')).toBeUndefined();
});

test('argument validation never throws anything but a StorageError (property)', () => {
  const methods = METHODS.filter((m) => volumeHandlers[m.name]).map((m) => m.file);
  fc.assert(
    fc.property(fc.constantFrom(...methods), fc.oneof(fc.json(), fc.string(), fc.jsonValue().map((v) => JSON.stringify(v))), (method, text) => {
      try {
        parseArgs('volume', method, volumeHandlers, text);
      } catch (e) {
        expect(e).toBeInstanceOf(StorageError);
        expect((e as StorageError).params[0]).toBe('Invalid_arguments');
      }
    }),
    { numRuns: 2000 },
  );
});

test('objects of the right shape pass validation; any wrong field type is named (property)', () => {
  const spec = findMethod('Volume.create')!;
  const good = fc.record({
    dbg: fc.string(),
    sr: fc.string(),
    name: fc.string(),
    description: fc.string(),
    size: fc.maxSafeNat(),
    sharable: fc.boolean(),
  });
  fc.assert(fc.property(good, (args) => expect(spec.args.safeParse(args).success).toBe(true)));
  const fields = ['dbg', 'sr', 'name', 'description', 'size', 'sharable'] as const;
  fc.assert(
    fc.property(good, fc.constantFrom(...fields), fc.oneof(fc.constant(null), fc.double({ noInteger: true }), fc.object(), fc.array(fc.nat())), (args, field, bad) => {
      expect(() => parseArgs('volume', 'Volume.create', volumeHandlers, JSON.stringify({ ...args, [field]: bad }))).toThrow(new RegExp(field));
    }),
  );
});

test('a method the plugin does not implement is Unimplemented', async () => {
  const out = await call('volume', 'Volume.compare', volumeHandlers, '{"dbg":"x","sr":"s","key":"a","key2":"b"}');
  expect(out.exitCode).toBe(1);
  expect(JSON.parse(out.stdout).params[0]).toBe('Unimplemented');
  const dp = await call('datapath', 'SR.stat', datapathHandlers, '{"dbg":"x","sr":"s"}');
  expect(JSON.parse(dp.stdout).params[0]).toBe('Unimplemented');
});
