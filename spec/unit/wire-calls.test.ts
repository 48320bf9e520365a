// Property tests of whole plugin calls (the path the executables take: parse,
// validate, dispatch, handler, envelope) over random argument objects: any
// argument object, however hostile, gets exactly one JSON answer that is
// either the method's result or a typed error (never Internal_error), and
// leaves the SR consistent and everything outside it untouched.
import * as fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { METHODS } from '../../lib/wire/methods';
import { call } from '../../lib/wire/invoke';
import { volumeHandlers } from '../../lib/plugin/volume';
import { datapathHandlers } from '../../lib/plugin/datapath';
import { checkSrFiles } from '../concurrency/helpers';

const KNOWN_ERRORS = new Set([
  'Volume_does_not_exist',
  'SR_does_not_exist',
  'Sr_not_attached',
  'Unimplemented',
  'Invalid_arguments',
  'Invalid_configuration',
  'Busy',
  'Not_attached',
  'IO_error',
]);

let top: string;
let srDir: string;
let sr: string;
let realKey: string;
let decoy: string;

/** Everything under `dir` with sizes and modification times, to prove nothing changed. */
function snapshotTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const st = fs.lstatSync(p);
      out.push(`${path.relative(dir, p)} ${st.size} ${st.mtimeMs}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

beforeAll(async () => {
  top = fs.mkdtempSync(path.join(os.tmpdir(), 'wire-calls-'));
  srDir = path.join(top, 'srs');
  fs.mkdirSync(srDir);
  // A folder beside the SR holding files that no call may touch.
  decoy = path.join(top, 'decoy');
  fs.mkdirSync(path.join(decoy, 'volumes'), { recursive: true });
  fs.writeFileSync(path.join(decoy, 'volumes', 'precious.img'), 'x'.repeat(4096));
  fs.writeFileSync(path.join(decoy, 'sr.json'), '{"not":"an SR"}');
  const created = await call('volume', 'SR.create', volumeHandlers, JSON.stringify({ dbg: 'p', uuid: '0000aaaa-0000-4000-8000-000000000001', configuration: { path: srDir }, name: 'n', description: 'd' }));
  expect(created.exitCode).toBe(0);
  const config = JSON.parse(created.stdout);
  const attached = await call('volume', 'SR.attach', volumeHandlers, JSON.stringify({ dbg: 'p', configuration: config }));
  expect(attached.exitCode).toBe(0);
  sr = JSON.parse(attached.stdout);
  const vol = await call('volume', 'Volume.create', volumeHandlers, JSON.stringify({ dbg: 'p', sr, name: 'kept', description: '', size: 1 << 20, sharable: false }));
  expect(vol.exitCode).toBe(0);
  realKey = JSON.parse(vol.stdout).key;
});

afterAll(() => {
  fs.rmSync(top, { recursive: true, force: true });
});

/** Strings a hostile or confused caller might send: paths out of the SR, odd bytes, huge values. */
const hostileString = () =>
  fc.oneof(
    fc.string(),
    fc.constantFrom('', '.', '..', '../..', '/', '/etc/passwd', 'a/../../b', 'a\u0000b', '\u202e', '%2e%2e', 'file://', 'file:///', '-1', '1e309', 'NaN', '{}', 'null', ' '),
    fc.constantFrom(path.join(top ?? '/nonexistent', 'decoy'), `file://${path.join(top ?? '/nonexistent', 'decoy')}`, 'x'.repeat(5000)),
    fc.string({ unit: 'binary', maxLength: 64 }),
  );

/**
 * SPDK store device-configs that are wrong in some way (a call given a valid
 * one would start an SPDK daemon): bad PCI addresses, bdev calls of the wrong
 * method, shape or name.
 */
const spdkDevice = () =>
  fc.oneof(
    fc.constantFrom('0000:01:00', '01:00.0', '0000:zz:00.0', '0000:01:00.8', '0000:01:00.0 ', '[]', 'null', '{}', '{"method":"bdev_aio_create"}'),
    fc.constantFrom('bdev_nvme_attach_controller', 'bdev_lvol_create', 'framework_start_init', 'bdev_aio_create').chain((method) =>
      hostileString().map((name) => JSON.stringify({ method, params: method === 'bdev_aio_create' ? { name: `../${name}` } : { name } })),
    ),
  );

/** A value of any JSON type. */
const anyValue = () => fc.oneof(hostileString(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }));

/** Argument objects shaped like the method's (the fields xapi sends) with random, often wrong, contents. */
function argsFor(useRealSr: boolean) {
  const srValue = useRealSr ? fc.oneof(fc.constant(sr), hostileString()) : hostileString();
  const keyValue = useRealSr ? fc.oneof(fc.constant(realKey), hostileString()) : hostileString();
  const size = fc.oneof(fc.constantFrom(0, 1, 511, 4096, 1 << 20, -1, Number.MAX_SAFE_INTEGER, 2 ** 63), fc.integer(), fc.double());
  return fc.record(
    {
      dbg: fc.oneof(fc.string(), anyValue()),
      sr: fc.oneof({ weight: 4, arbitrary: srValue }, { weight: 1, arbitrary: anyValue() }),
      key: fc.oneof({ weight: 4, arbitrary: keyValue }, { weight: 1, arbitrary: anyValue() }),
      key2: keyValue,
      uri: fc.oneof(
        hostileString(),
        fc.constantFrom(`file://${path.join(top ?? '', 'decoy', 'volumes', 'precious.img')}`, 'nbd:unix:/nonexistent:exportname=x', 'spdk://lvol/', 'spdk://lvol/a/b/c', 'spdk://lvol/../x'),
        hostileString().map((h) => `spdk://lvol/${h}`),
        anyValue(),
      ),
      domain: fc.oneof(fc.constantFrom('0', '1', '-1', 'u0-xyz', '99999999999'), hostileString()),
      name: fc.oneof(hostileString(), anyValue()),
      description: hostileString(),
      new_name: hostileString(),
      new_description: hostileString(),
      k: hostileString(),
      v: fc.oneof(hostileString(), anyValue()),
      size,
      new_size: size,
      sharable: fc.oneof(fc.boolean(), anyValue()),
      persistent: fc.oneof(fc.boolean(), anyValue()),
      uuid: hostileString(),
      configuration: fc.oneof(fc.dictionary(fc.constantFrom('path', 'sr_uuid', 'device', 'nvme', 'bdev', 'x'), fc.oneof(hostileString(), spdkDevice()), { maxKeys: 3 }), anyValue()),
    },
    { requiredKeys: [] },
  );
}

/** The method's result if it succeeded; the typed error name otherwise. Throws on anything else. */
function judge(method: string, out: { stdout: string; exitCode: number }): string {
  const value = JSON.parse(out.stdout); // exactly one JSON value, or this throws
  if (out.exitCode === 0) {
    const spec = METHODS.find((m) => m.file === method)!;
    const ok = spec.result.safeParse(value);
    if (!ok.success) throw new Error(`${method}: a success that is not its result type: ${out.stdout.slice(0, 300)}`);
    return 'ok';
  }
  expect(out.exitCode).toBe(1);
  expect(typeof value.code).toBe('string');
  expect(Array.isArray(value.params)).toBe(true);
  const name = value.code === 'SR_BACKEND_FAILURE' ? value.params[0] : value.code;
  if (name === 'Internal_error' || (value.code === 'SR_BACKEND_FAILURE' && !KNOWN_ERRORS.has(name))) {
    throw new Error(`${method}: untyped failure ${out.stdout.slice(0, 500)}`);
  }
  return name;
}

// SR-changing methods that would only make the test slow or wipe its SR are run on other SRs only.
const DESTRUCTIVE_ON_REAL = new Set(['SR.destroy', 'SR.detach']);

test('volume plugin: random argument objects for every method get a typed answer; the SR stays consistent (property)', async () => {
  const methods = METHODS.filter((m) => volumeHandlers[m.name]).map((m) => m.file);
  const decoyBefore = snapshotTree(decoy);
  const seen = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...methods), fc.boolean(), fc.nat(), async (method, real, salt) => {
      const args = fc.sample(argsFor(real && !DESTRUCTIVE_ON_REAL.has(method)), { numRuns: 1, seed: salt })[0];
      const out = await call('volume', method, volumeHandlers, JSON.stringify(args));
      const name = judge(method, out);
      seen.set(name, (seen.get(name) ?? 0) + 1);
    }),
    { numRuns: 1500 },
  );
  console.log(`volume plugin answers: ${JSON.stringify(Object.fromEntries(seen))}`);
  expect(seen.get('Invalid_arguments')).toBeGreaterThan(0);
  expect(snapshotTree(decoy)).toEqual(decoyBefore);
  checkSrFiles(path.join(srDir, fs.readdirSync(srDir)[0]));
  // The volume made at the start may have been renamed or resized, never damaged: it still answers.
  const stat = await call('volume', 'SR.stat', volumeHandlers, JSON.stringify({ dbg: 'p', sr }));
  expect(stat.exitCode).toBe(0);
}, 300_000);

test('datapath plugin: random argument objects for every method get a typed answer and start nothing (property)', async () => {
  const methods = METHODS.filter((m) => datapathHandlers[m.name]).map((m) => m.file);
  const decoyBefore = snapshotTree(decoy);
  const seen = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...methods), fc.nat(), async (method, salt) => {
      const args = fc.sample(argsFor(false), { numRuns: 1, seed: salt })[0];
      const out = await call('datapath', method, datapathHandlers, JSON.stringify(args));
      const name = judge(method, out);
      seen.set(name, (seen.get(name) ?? 0) + 1);
    }),
    { numRuns: 600 },
  );
  console.log(`datapath plugin answers: ${JSON.stringify(Object.fromEntries(seen))}`);
  expect(snapshotTree(decoy)).toEqual(decoyBefore);
  // No daemon was started for any of those URIs.
  const daemons = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(top);
    } catch {
      return false;
    }
  });
  expect(daemons).toEqual([]);
}, 300_000);
