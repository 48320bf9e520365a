// Dozens of plugin processes at once on one SR, as xapi runs them: every call
// succeeds or fails with a well-formed envelope (never SCRIPT_FAILED), the
// per-volume lock keeps concurrent metadata changes, and afterwards the SR's
// files and SR.ls agree with what the calls reported.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { srCreate, vdiCreate, type Volume } from '../harness/fixtures';
import { T, volumeList } from '../harness/rpclib';
import { Host } from '../harness/xss';
import { callAsync, checkSrFiles, errorName, srRoot, type Outcome, type VolumeJson } from './helpers';

const MiB = 1024 * 1024;

/** Shuffles in place (Fisher-Yates). */
function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

function sha(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** A call of a wave, with what it may answer besides success. */
interface Planned {
  label: string;
  method: string;
  args: object;
  type: typeof T.unit;
  /** Error names (SMAPIv3 name, or code for the SMAPIv1-style ones) that are acceptable. */
  mayFail?: string[];
  outcome?: Outcome<unknown>;
}

/** Starts every planned call at once (in random order) and judges each. */
async function wave(host: Host, plan: Planned[]): Promise<void> {
  const order = shuffle([...plan]);
  const results = await Promise.all(order.map((p) => callAsync(host, p.method, p.args, p.type)));
  order.forEach((p, i) => (p.outcome = results[i]));
  const unexpected = plan.filter((p) => {
    const o = p.outcome!;
    return !o.ok && !(p.mayFail ?? []).includes(errorName(o.envelope));
  });
  if (unexpected.length) {
    throw new Error(
      `unexpected failures:\n${unexpected.map((p) => `  ${p.label}: ${p.outcome!.raw.stdout}`).join('\n')}`,
    );
  }
}

describe('parallel plugin calls on one path SR', () => {
  let host: Host;
  let sr: string;
  let root: string;
  let srConfig: Record<string, string>;

  beforeAll(() => {
    host = new Host('xss-parallel-');
    ({ sr, config: srConfig } = srCreate(host, { path: host.srsDir }));
    root = srRoot(sr);
  });
  afterAll(() => host?.cleanup());

  const dbg = 'concurrency';
  const img = (key: string) => path.join(root, 'volumes', `${key}.img`);
  const ls = () => host.call<Volume[]>('volume', 'SR.ls', { dbg, sr }, volumeList);

  test('a wave of 61 mixed calls, then a wave of 27: destroys racing snapshots and sets', async () => {
    // Base volumes, made in parallel too.
    const baseNames = ['target', 'grow', 'src1', 'src2', 'doomed1', 'doomed2', 'doomed3', 'doomed4', 'dup'];
    const made = await Promise.all(
      baseNames.map((name) => callAsync<Volume>(host, 'Volume.create', { dbg, sr, name, description: `${name} description`, size: MiB, sharable: false }, T.volume)),
    );
    const base: Record<string, Volume> = {};
    made.forEach((o, i) => {
      if (!o.ok) throw new Error(`base Volume.create failed: ${o.raw.stdout}`);
      base[baseNames[i]] = o.value;
    });
    // Data in the snapshot sources, to check that copies are whole.
    for (const [i, name] of ['src1', 'src2'].entries()) {
      const fd = fs.openSync(img(base[name].key), 'r+');
      fs.writeSync(fd, crypto.randomBytes(64 * 1024), 0, 64 * 1024, 4096 * (i + 1));
      fs.writeSync(fd, Buffer.from(`end of ${name}`), 0, undefined, MiB - 100);
      fs.closeSync(fd);
    }
    const target = base.target.key;
    const preset = ['vdi-type', 'u0', 'u1', 'u2', 'u3'];
    const presetOutcomes = await Promise.all(
      preset.map((k) => callAsync(host, 'Volume.set', { dbg, sr, key: target, k, v: k === 'vdi-type' ? 'user' : `old-${k}` }, T.unit)),
    );
    for (const o of presetOutcomes) expect(o.ok).toBe(true);
    expect(host.call<Volume>('volume', 'Volume.stat', { dbg, sr, key: target }, T.volume).keys).toEqual({
      'vdi-type': 'user',
      u0: 'old-u0',
      u1: 'old-u1',
      u2: 'old-u2',
      u3: 'old-u3',
    });

    // Wave 1.
    const plan: Planned[] = [];
    const creates: { p: Planned; size: number; name: string }[] = [];
    for (let i = 0; i < 10; i++) {
      const size = 1 + Math.floor(Math.random() * 8 * MiB);
      const name = `new-${i}`;
      const p: Planned = { label: `create ${name}`, method: 'Volume.create', args: { dbg, sr, name, description: `d${i}`, size, sharable: i % 2 === 0 }, type: T.volume };
      creates.push({ p, size, name });
      plan.push(p);
    }
    const copies: { p: Planned; source: string; readWrite: boolean }[] = [];
    for (const [src, snaps, clones] of [
      ['src1', 3, 2],
      ['src2', 2, 3],
    ] as const) {
      for (let i = 0; i < snaps + clones; i++) {
        const readWrite = i >= snaps;
        const p: Planned = { label: `${readWrite ? 'clone' : 'snapshot'} of ${src}`, method: readWrite ? 'Volume.clone' : 'Volume.snapshot', args: { dbg, sr, key: base[src].key }, type: T.volume };
        copies.push({ p, source: src, readWrite });
        plan.push(p);
      }
    }
    const newKeys: Record<string, string> = {};
    for (let i = 0; i < 14; i++) {
      newKeys[`k${i}`] = `value-${i}-${'x'.repeat(i * 7)}`;
      plan.push({ label: `set k${i}`, method: 'Volume.set', args: { dbg, sr, key: target, k: `k${i}`, v: newKeys[`k${i}`] }, type: T.unit });
    }
    for (let i = 0; i < 4; i++) plan.push({ label: `unset u${i}`, method: 'Volume.unset', args: { dbg, sr, key: target, k: `u${i}` }, type: T.unit });
    const resizes: { p: Planned; size: number }[] = [2, 3, 4, 5, 6].map((m) => {
      // Concurrent grows: a smaller one that comes after a bigger one is refused as a shrink.
      const p: Planned = { label: `resize to ${m} MiB`, method: 'Volume.resize', args: { dbg, sr, key: base.grow.key, new_size: m * MiB }, type: T.unit, mayFail: ['SR_BACKEND_FAILURE_79'] };
      return { p, size: m * MiB };
    });
    plan.push(...resizes.map((r) => r.p));
    for (let i = 1; i <= 4; i++) plan.push({ label: `destroy doomed${i}`, method: 'Volume.destroy', args: { dbg, sr, key: base[`doomed${i}`].key }, type: T.unit });
    // Racing the destroys: these either win (and act on a whole volume) or find it gone.
    const gone = ['Volume_does_not_exist'];
    const doomedSnap: Planned = { label: 'snapshot doomed1', method: 'Volume.snapshot', args: { dbg, sr, key: base.doomed1.key }, type: T.volume, mayFail: gone };
    const doomedClone: Planned = { label: 'clone doomed2', method: 'Volume.clone', args: { dbg, sr, key: base.doomed2.key }, type: T.volume, mayFail: gone };
    plan.push(doomedSnap, doomedClone);
    plan.push({ label: 'set on doomed3', method: 'Volume.set', args: { dbg, sr, key: base.doomed3.key, k: 'a', v: 'b' }, type: T.unit, mayFail: gone });
    plan.push({ label: 'stat doomed4', method: 'Volume.stat', args: { dbg, sr, key: base.doomed4.key }, type: T.volume, mayFail: gone });
    for (let i = 0; i < 4; i++) plan.push({ label: `destroy dup #${i}`, method: 'Volume.destroy', args: { dbg, sr, key: base.dup.key }, type: T.unit });
    const stats: Planned[] = [0, 1, 2].map((i) => ({ label: `stat target #${i}`, method: 'Volume.stat', args: { dbg, sr, key: target }, type: T.volume }));
    const lss: Planned[] = [0, 1, 2].map((i) => ({ label: `SR.ls #${i}`, method: 'SR.ls', args: { dbg, sr }, type: volumeList }));
    plan.push(...stats, ...lss);
    expect(plan.length).toBe(61);

    await wave(host, plan);

    // What each call saw was coherent.
    const universe = { 'vdi-type': 'user', u0: 'old-u0', u1: 'old-u1', u2: 'old-u2', u3: 'old-u3', ...newKeys };
    for (const s of stats) {
      const v = (s.outcome as { value: Volume }).value;
      for (const [k, val] of Object.entries(v.keys)) expect(universe).toHaveProperty([k], val);
      expect(v.keys['vdi-type']).toBe('user');
    }
    for (const l of lss) {
      const keys = (l.outcome as { value: Volume[] }).value.map((v) => v.key);
      for (const name of ['target', 'grow', 'src1', 'src2']) expect(keys).toContain(base[name].key);
    }
    for (const { p, size, name } of creates) {
      const v = (p.outcome as { value: Volume }).value;
      expect(v).toMatchObject({ name, read_write: true, virtual_size: Math.ceil(size / 4096) * 4096, keys: {} });
    }
    for (const { p, readWrite, source } of copies) {
      const v = (p.outcome as { value: Volume }).value;
      expect(v).toMatchObject({ read_write: readWrite, virtual_size: MiB, name: source, keys: {} });
    }
    // The biggest grow can never be refused; any refused one was below a grow that happened first.
    expect(resizes[resizes.length - 1].p.outcome!.ok).toBe(true);

    // The SR's files, before any SR.ls could tidy up: nothing half-made.
    const expected = new Map<string, { readWrite: boolean; parent?: string }>();
    for (const name of ['target', 'grow', 'src1', 'src2']) expected.set(base[name].key, { readWrite: true });
    for (const { p } of creates) expected.set((p.outcome as { value: Volume }).value.key, { readWrite: true });
    for (const { p, readWrite, source } of copies) expected.set((p.outcome as { value: Volume }).value.key, { readWrite, parent: base[source].key });
    for (const [p, src] of [
      [doomedSnap, 'doomed1'],
      [doomedClone, 'doomed2'],
    ] as const) {
      const o = p.outcome!;
      if (o.ok) expected.set((o.value as Volume).key, { readWrite: p === doomedClone, parent: base[src].key });
    }
    const checkAgainst = (files: Map<string, VolumeJson>) => {
      expect([...files.keys()].sort()).toEqual([...expected.keys()].sort());
      for (const [key, e] of expected) {
        expect(files.get(key)!.read_write).toBe(e.readWrite);
        expect(files.get(key)!.parent).toBe(e.parent);
      }
    };
    checkAgainst(checkSrFiles(root));
    const listed = ls();
    expect(listed.map((v) => v.key).sort()).toEqual([...expected.keys()].sort());
    checkAgainst(checkSrFiles(root));

    // Every set and unset on the one volume survived: the per-volume lock serialised them.
    const t = listed.find((v) => v.key === target)!;
    expect(t.keys).toEqual({ 'vdi-type': 'user', ...newKeys });
    expect(listed.find((v) => v.key === base.grow.key)!.virtual_size).toBe(6 * MiB);
    for (const { p, source } of copies) expect(sha(img((p.outcome as { value: Volume }).value.key))).toBe(sha(img(base[source].key)));
    for (const v of listed) expect(v.physical_utilisation).toBeGreaterThanOrEqual(0);

    // Wave 2: destroy everything wave 1 made, racing snapshots of and sets on the same volumes.
    const all1 = [...creates.map((c) => c.p), ...copies.map((c) => c.p)].map((p) => (p.outcome as { value: Volume }).value);
    const made1 = all1.filter((_, i) => [0, 1, 3].includes(i % 5)); // 6 created volumes, 4 snapshots, 2 clones
    const plan2: Planned[] = [];
    const snaps2: { p: Planned; source: Volume }[] = [];
    made1.forEach((v, i) => {
      plan2.push({ label: `destroy ${v.name}/${i}`, method: 'Volume.destroy', args: { dbg, sr, key: v.key }, type: T.unit });
      if (i % 2 === 0) {
        const p: Planned = { label: `snapshot of doomed ${i}`, method: 'Volume.snapshot', args: { dbg, sr, key: v.key }, type: T.volume, mayFail: gone };
        snaps2.push({ p, source: v });
        plan2.push(p);
      } else {
        plan2.push({ label: `set on doomed ${i}`, method: 'Volume.set', args: { dbg, sr, key: v.key, k: 'x', v: 'y' }, type: T.unit, mayFail: gone });
      }
    });
    for (let i = 0; i < 3; i++) plan2.push({ label: `SR.ls #${i}`, method: 'SR.ls', args: { dbg, sr }, type: volumeList });
    expect(plan2.length).toBe(27);
    await wave(host, plan2);

    for (const v of made1) expected.delete(v.key);
    for (const { p, source } of snaps2) {
      const o = p.outcome!;
      if (o.ok) {
        const s = o.value as Volume;
        expected.set(s.key, { readWrite: false, parent: source.key });
        expect(s.virtual_size).toBe(source.virtual_size);
      }
    }
    checkAgainst(checkSrFiles(root));
    const listed2 = ls();
    expect(listed2.map((v) => v.key).sort()).toEqual([...expected.keys()].sort());
    checkAgainst(checkSrFiles(root));
    expect(listed2.find((v) => v.key === target)!.keys).toEqual({ 'vdi-type': 'user', ...newKeys });
  }, 150_000);

  test('100 calls at once on one SR, every kind of volume operation: all succeed and the SR agrees', async () => {
    // Volumes to work on, with data so that snapshots and clones can be checked byte for byte.
    const sources = await Promise.all([0, 1, 2, 3, 4].map((i) => callAsync<Volume>(host, 'Volume.create', { dbg, sr, name: `hundred-src-${i}`, description: '', size: 2 * MiB, sharable: false }, T.volume)));
    const src = sources.map((o) => {
      if (!o.ok) throw new Error(`setup: ${o.raw.stdout}`);
      return o.value;
    });
    src.forEach((v, i) => {
      const fd = fs.openSync(img(v.key), 'r+');
      fs.writeSync(fd, crypto.randomBytes(64 * 1024), 0, 64 * 1024, i * 4096);
      fs.closeSync(fd);
    });
    const others = await Promise.all(Array.from({ length: 20 }, (_, i) => callAsync<Volume>(host, 'Volume.create', { dbg, sr, name: `hundred-other-${i}`, description: '', size: MiB, sharable: false }, T.volume)));
    const other = others.map((o) => {
      if (!o.ok) throw new Error(`setup: ${o.raw.stdout}`);
      return o.value;
    });
    const sums = new Map(src.map((v) => [v.key, sha(img(v.key))]));
    const before = ls().map((v) => v.key);

    const plan: Planned[] = [];
    for (let i = 0; i < 20; i++) plan.push({ label: `create ${i}`, method: 'Volume.create', args: { dbg, sr, name: `hundred-new-${i}`, description: `new ${i}`, size: 4096 * (i + 1), sharable: i % 5 === 0 }, type: T.volume });
    for (let i = 0; i < 10; i++) plan.push({ label: `snapshot ${i}`, method: 'Volume.snapshot', args: { dbg, sr, key: src[i % 5].key }, type: T.volume });
    for (let i = 0; i < 10; i++) plan.push({ label: `clone ${i}`, method: 'Volume.clone', args: { dbg, sr, key: src[i % 5].key }, type: T.volume });
    // other[0..9]: metadata changes (two each); other[10..14]: resized; other[15..19]: destroyed.
    for (let i = 0; i < 10; i++) plan.push({ label: `set ${i}`, method: 'Volume.set', args: { dbg, sr, key: other[i].key, k: 'wave', v: `v${i}` }, type: T.unit });
    for (let i = 0; i < 5; i++) plan.push({ label: `set_name ${i}`, method: 'Volume.set_name', args: { dbg, sr, key: other[i].key, new_name: `renamed-${i}` }, type: T.unit });
    for (let i = 5; i < 10; i++) plan.push({ label: `set_description ${i}`, method: 'Volume.set_description', args: { dbg, sr, key: other[i].key, new_description: `described ${i}` }, type: T.unit });
    for (let i = 0; i < 5; i++) plan.push({ label: `unset ${i}`, method: 'Volume.unset', args: { dbg, sr, key: src[i].key, k: 'vdi-type' }, type: T.unit });
    for (let i = 10; i < 15; i++) plan.push({ label: `resize ${i}`, method: 'Volume.resize', args: { dbg, sr, key: other[i].key, new_size: 3 * MiB }, type: T.unit });
    for (let i = 15; i < 20; i++) plan.push({ label: `destroy ${i}`, method: 'Volume.destroy', args: { dbg, sr, key: other[i].key }, type: T.unit });
    for (let i = 0; i < 10; i++) plan.push({ label: `stat ${i}`, method: 'Volume.stat', args: { dbg, sr, key: src[i % 5].key }, type: T.volume });
    for (let i = 0; i < 10; i++) plan.push({ label: `SR.ls ${i}`, method: 'SR.ls', args: { dbg, sr }, type: volumeList });
    for (let i = 0; i < 4; i++) plan.push({ label: `SR.stat ${i}`, method: 'SR.stat', args: { dbg, sr }, type: T.srStat });
    plan.push({ label: 'SR.set_description', method: 'SR.set_description', args: { dbg, sr, new_description: 'a hundred at once' }, type: T.unit });
    expect(plan).toHaveLength(100);
    await wave(host, plan);

    const value = <V>(label: string) => (plan.find((p) => p.label === label)!.outcome as { value: V }).value;
    const made = [...plan.filter((p) => /^(create|snapshot|clone) /.test(p.label)).map((p) => ({ label: p.label, v: value<Volume>(p.label), p }))];
    expect(new Set(made.map((m) => m.v.key)).size).toBe(40);
    for (const m of made) {
      if (m.label.startsWith('create')) {
        expect(m.v).toMatchObject({ name: (m.p.args as { name: string }).name, read_write: true, sharable: (m.p.args as { sharable: boolean }).sharable });
        continue;
      }
      const parent = (m.p.args as { key: string }).key;
      expect(m.v.read_write).toBe(m.label.startsWith('clone'));
      expect(sha(img(m.v.key))).toBe(sums.get(parent)); // a copy of the data, taken while others worked
    }
    const listed = new Map(ls().map((v) => [v.key, v]));
    const destroyed = other.slice(15).map((v) => v.key);
    expect([...listed.keys()].sort()).toEqual([...before.filter((k) => !destroyed.includes(k)), ...made.map((m) => m.v.key)].sort());
    for (let i = 0; i < 10; i++) {
      const v = listed.get(other[i].key)!;
      expect(v.keys.wave).toBe(`v${i}`);
      if (i < 5) expect(v.name).toBe(`renamed-${i}`);
      else expect(v.description).toBe(`described ${i}`);
    }
    for (let i = 10; i < 15; i++) expect(listed.get(other[i].key)!.virtual_size).toBe(3 * MiB);
    for (const v of src) expect(listed.get(v.key)!.keys['vdi-type']).toBeUndefined();
    checkSrFiles(root);
    // Tidy up in parallel.
    const gone = await Promise.all([...listed.keys()].filter((k) => !before.includes(k) || src.some((v) => v.key === k) || other.some((v) => v.key === k)).map((key) => callAsync(host, 'Volume.destroy', { dbg, sr, key }, T.unit)));
    for (const o of gone) expect(o.ok).toBe(true);
    checkSrFiles(root);
  }, 180_000);

  test('44 calls: creates, snapshots and clones racing SR.ls scans (which collect orphans) all succeed', async () => {
    // xapi scans SRs periodically: a scan must never take a volume being made for an orphan.
    const src = vdiCreate(host, sr, MiB, 'scan source');
    const plan: Planned[] = [];
    for (let i = 0; i < 16; i++) plan.push({ label: `create ${i}`, method: 'Volume.create', args: { dbg, sr, name: `scanned-${i}`, description: '', size: 4096 * (i + 1), sharable: false }, type: T.volume });
    for (let i = 0; i < 4; i++) plan.push({ label: `snapshot ${i}`, method: 'Volume.snapshot', args: { dbg, sr, key: src.key }, type: T.volume });
    for (let i = 0; i < 4; i++) plan.push({ label: `clone ${i}`, method: 'Volume.clone', args: { dbg, sr, key: src.key }, type: T.volume });
    const scans: Planned[] = Array.from({ length: 20 }, (_, i) => ({ label: `SR.ls ${i}`, method: 'SR.ls', args: { dbg, sr }, type: volumeList }));
    plan.push(...scans);
    const before = ls().map((v) => v.key);
    await wave(host, plan);
    const made = plan.filter((p) => p.method !== 'SR.ls').map((p) => (p.outcome as { value: Volume }).value.key);
    expect(new Set(made).size).toBe(24);
    for (const s of scans) {
      // Each scan saw everything that existed before, and nothing that was not a volume.
      const keys = (s.outcome as { value: Volume[] }).value.map((v) => v.key);
      for (const k of before) expect(keys).toContain(k);
      for (const k of keys) expect([...before, ...made]).toContain(k);
    }
    const files = checkSrFiles(root);
    expect([...files.keys()].sort()).toEqual([...before, ...made].sort());
    // Tidy up, in parallel too.
    const gone = await Promise.all([src.key, ...made].map((key) => callAsync(host, 'Volume.destroy', { dbg, sr, key }, T.unit)));
    for (const o of gone) expect(o.ok).toBe(true);
    expect(ls().map((v) => v.key).sort()).toEqual([...before].filter((k) => k !== src.key).sort());
    checkSrFiles(root);
  }, 150_000);

  test('30 calls changing keys of one volume at once all take effect', async () => {
    const v = vdiCreate(host, sr, MiB, 'contended');
    const plan: Planned[] = [];
    const want: Record<string, string> = { 'vdi-type': 'user' };
    for (let i = 0; i < 24; i++) {
      want[`key-${i}`] = `v${i}`;
      plan.push({ label: `set key-${i}`, method: 'Volume.set', args: { dbg, sr, key: v.key, k: `key-${i}`, v: `v${i}` }, type: T.unit });
    }
    // Unsets of keys that were never there are no-ops, and must not lose anything either.
    for (let i = 0; i < 3; i++) plan.push({ label: `unset absent-${i}`, method: 'Volume.unset', args: { dbg, sr, key: v.key, k: `absent-${i}` }, type: T.unit });
    plan.push({ label: 'set_name', method: 'Volume.set_name', args: { dbg, sr, key: v.key, new_name: 'renamed' }, type: T.unit });
    plan.push({ label: 'set_description', method: 'Volume.set_description', args: { dbg, sr, key: v.key, new_description: 'redescribed' }, type: T.unit });
    plan.push({ label: 'resize', method: 'Volume.resize', args: { dbg, sr, key: v.key, new_size: 2 * MiB }, type: T.unit });
    await wave(host, plan);
    const after = host.call<Volume>('volume', 'Volume.stat', { dbg, sr, key: v.key }, T.volume);
    expect(after.keys).toEqual(want);
    expect(after).toMatchObject({ name: 'renamed', description: 'redescribed', virtual_size: 2 * MiB });
    checkSrFiles(root);
    expect(host.call('volume', 'Volume.destroy', { dbg, sr, key: v.key }, T.unit)).toBeNull();
  }, 120_000);

  test('parallel SR.attach of the same SR returns the same SR each time', async () => {
    expect(srConfig).toEqual({ path: host.srsDir, sr_uuid: path.basename(root) });
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => callAsync<string>(host, 'SR.attach', { dbg, configuration: srConfig }, T.string)));
    for (const o of outcomes) {
      if (!o.ok) throw new Error(`SR.attach failed: ${o.raw.stdout}`);
      expect(o.value).toBe(sr);
    }
    // One registry entry, no temporaries left beside it.
    const attached = fs.readdirSync(path.join(host.dir, 'run', 'attached'));
    expect(attached).toHaveLength(1);
    expect(attached[0]).toMatch(/^[0-9a-f]{32}\.json$/);
    expect(JSON.parse(fs.readFileSync(path.join(host.dir, 'run', 'attached', attached[0]), 'utf8')).sr).toBe(sr);
    checkSrFiles(root);
  });

  test('parallel Volume.destroy of the same key all succeed', async () => {
    const v = vdiCreate(host, sr, 3 * MiB, 'destroyed many times');
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => callAsync(host, 'Volume.destroy', { dbg, sr, key: v.key }, T.unit)));
    for (const o of outcomes) {
      if (!o.ok) throw new Error(`Volume.destroy failed: ${o.raw.stdout}`);
      expect(o.value).toBeNull();
    }
    expect(fs.existsSync(img(v.key))).toBe(false);
    expect(fs.existsSync(path.join(root, 'volumes', `${v.key}.json`))).toBe(false);
    expect(errorName(host.fail('volume', 'Volume.stat', { dbg, sr, key: v.key }))).toBe('Volume_does_not_exist');
    expect(ls().map((x) => x.key)).not.toContain(v.key);
    checkSrFiles(root);
  });
});
