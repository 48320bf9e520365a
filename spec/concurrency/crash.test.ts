// Crash safety: plugin processes SIGKILLed at random points of Volume.create,
// snapshot, clone, destroy, set, unset, set_name, set_description, resize,
// SR.set_name, SR.set_description and SR.ls, several at a time.
// A model of what may have happened (each killed call either took effect or
// did not) is checked against the SR afterwards: SR.ls collects what the
// dead left behind, and then nothing is half-made, corrupt or locked.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { srCreate, vdiCreate, type Volume } from '../harness/fixtures';
import { T, volumeList, type RpcType } from '../harness/rpclib';
import { Host, type RawOutcome } from '../harness/xss';
import { checkSrFiles, errorName, judge, lockFree, LogWatch, rng, sleep, srRoot, waitFor, whenOpens, type Outcome } from './helpers';

const MiB = 1024 * 1024;
const SEED = Number(process.env.CRASH_SEED) || Date.now() % 1_000_000;
/** Batches of 4 calls run until this many were killed (CRASH_KILLS=0: 36 batches, 144 calls). */
const KILLS_WANTED = process.env.CRASH_KILLS === undefined ? 1000 : Number(process.env.CRASH_KILLS);
const random = rng(SEED);
const pick = <T>(a: T[]): T => a[Math.floor(random() * a.length)];
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

interface Run {
  raw: RawOutcome;
  start: number;
  killed: boolean;
  delay: number;
  elapsed: number;
}

/**
 * When to kill: `delay` ms after the spawn, after the call logged the start
 * of its work, or after it first opened a file in the SR's volumes/ or tmp/
 * (a volume's lock, a new image, a metadata temporary: the critical part).
 */
type KillPlan = { after: 'spawn' | 'start' | 'files'; delay: number };

/** Spawns a call (args.dbg unique) and SIGKILLs it as planned unless it has finished by then. */
async function runAndKill(host: Host, method: string, args: { dbg: string }, plan?: KillPlan, watch?: LogWatch, root?: string): Promise<Run> {
  const start = Date.now();
  const { child, done } = host.spawn('volume', method, args);
  child.stdin.on('error', () => undefined); // EPIPE when killed before reading its arguments
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  const kill = () => {
    if (!finished) child.kill('SIGKILL');
  };
  if (plan?.after === 'spawn') timer = setTimeout(kill, plan.delay);
  if (plan?.after === 'start') {
    void watch!.whenStarted(args.dbg).then(() => {
      if (!finished) timer = setTimeout(kill, plan.delay);
    });
  }
  const opens = plan?.after === 'files' ? whenOpens(child.pid!, [path.join(root!, 'volumes') + '/', path.join(root!, 'tmp') + '/']) : undefined;
  void opens?.touched.then(() => {
    if (!finished) timer = setTimeout(kill, plan!.delay);
  });
  const raw = await done;
  finished = true;
  opens?.stop();
  clearTimeout(timer);
  return { raw, start, killed: raw.signal === 'SIGKILL', delay: plan?.delay ?? 0, elapsed: Date.now() - start };
}

/** No process (a `cp` a killed plugin left running) still works on files of the SR. */
function strayProcesses(root: string): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(root)) found.push(`${pid}: ${cmd.replace(/\0/g, ' ')}`);
    } catch {
      // gone
    }
  }
  return found;
}

type Exists = 'yes' | 'maybe' | 'no';
interface ModelVolume {
  key: string;
  name: string;
  /** Possible names and descriptions (a killed set_name leaves either). */
  names: Set<string>;
  descriptions: Set<string>;
  exists: Exists;
  readWrite: boolean;
  parent?: string;
  /** Possible values of each key (undefined: absent). */
  keys: Map<string, Set<string | undefined>>;
  sizes: Set<number>;
  /** The keeper is never destroyed and its preset keys never touched. */
  keeper?: boolean;
}
/** A killed create/snapshot/clone: its volume may or may not exist. */
interface Pending {
  kind: 'create' | 'snapshot' | 'clone';
  name?: string;
  parent?: string;
}

type OpKind = 'create' | 'snapshot' | 'clone' | 'destroy' | 'set' | 'unset' | 'rename' | 'describe' | 'resize' | 'sr-rename' | 'sr-describe' | 'ls';

describe('plugin processes killed at random points', () => {
  let host: Host;
  let sr: string;
  let root: string;
  let watch: LogWatch | undefined;
  const dbgBase = `crash-${SEED}`;
  let n = 0;
  const nextDbg = () => `${dbgBase}-${n++}`;

  beforeAll(() => {
    host = new Host('xss-crash-');
    ({ sr } = srCreate(host, { path: host.srsDir }));
    root = srRoot(sr);
  });
  afterAll(async () => {
    watch?.close();
    // Wait for any cp a killed plugin left behind before removing its files.
    if (root) await waitFor(() => strayProcesses(root).length === 0, 20_000, 'stray processes').catch(() => undefined);
    host?.cleanup();
  });

  const img = (key: string) => path.join(root, 'volumes', `${key}.img`);

  const title = KILLS_WANTED ? `${KILLS_WANTED} calls SIGKILLed` : '144 calls, most SIGKILLed';
  test(`${title} at random points of every volume operation leave a consistent SR (seed ${SEED})`, async () => {
    const BATCHES = KILLS_WANTED ? 100_000 : 36;
    const PARALLEL = 4;
    const volumes = new Map<string, ModelVolume>();
    const pending: Pending[] = [];
    /** Matches a volume nobody was told about with the killed call that made it, one each. */
    const claim = (v: Volume, parent: string | undefined) => {
      expect(v.keys).toEqual({});
      const i = pending.findIndex((p) =>
        parent === undefined ? p.kind === 'create' && p.name === v.name : p.kind === (v.read_write ? 'clone' : 'snapshot') && p.parent === parent,
      );
      if (i < 0) throw new Error(`volume ${v.key} (${v.name}, parent ${parent}) comes from no killed call (seed ${SEED})`);
      pending.splice(i, 1);
    };
    const addVolume = (v: Volume, parent?: string, keeper = false) =>
      volumes.set(v.key, {
        key: v.key,
        name: v.name,
        names: new Set([v.name]),
        descriptions: new Set([v.description]),
        exists: 'yes',
        readWrite: v.read_write,
        parent,
        keys: new Map(Object.entries(v.keys).map(([k, val]) => [k, new Set([val])])),
        sizes: new Set([v.virtual_size]),
        keeper,
      });

    // The keeper, with keys that nothing changes afterwards, and a few more volumes.
    const keeper = vdiCreate(host, sr, MiB, 'keeper');
    const fd = fs.openSync(img(keeper.key), 'r+');
    fs.writeSync(fd, Buffer.alloc(256 * 1024, 0x5a), 0, 256 * 1024, 8192);
    fs.closeSync(fd);
    const presetKeys: Record<string, string> = { 'vdi-type': 'user' };
    for (let i = 0; i < 4; i++) presetKeys[`preset-${i}`] = `value ${i} ${'p'.repeat(40 * i)}`;
    const setup = await Promise.all([
      ...Object.entries(presetKeys)
        .filter(([k]) => k !== 'vdi-type')
        .map(([k, v]) => runAndKill(host, 'Volume.set', { dbg: nextDbg(), sr, key: keeper.key, k, v } as { dbg: string })),
      ...[0, 1, 2, 3].map((i) => runAndKill(host, 'Volume.create', { dbg: nextDbg(), sr, name: `base-${i}`, description: '', size: MiB, sharable: false } as { dbg: string })),
    ]);
    setup.forEach((r, i) => {
      const o = judge<Volume>(i < 4 ? 'Volume.set' : 'Volume.create', r.raw, i < 4 ? T.unit : T.volume);
      if (!o.ok) throw new Error(`setup call failed: ${r.raw.stdout}`);
      if (i >= 4) addVolume(o.value);
    });
    addVolume({ ...keeper, keys: presetKeys }, undefined, true);

    // How long calls take here and now: the whole call (for kills timed from
    // the spawn) and its work, from its "called with" to its end (for kills
    // timed from that line). Seeded by a first batch of calls left to finish.
    const log = new LogWatch(path.join(host.dir, 'plugin.log'));
    watch = log;
    const durations: number[] = [];
    const workMs = new Map<string, number[]>();
    const noteTimes = (method: string, dbg: string, run: Run) => {
      durations.push(run.elapsed);
      const began = log.started.get(dbg);
      if (began === undefined) return;
      if (!workMs.has(method)) workMs.set(method, []);
      workMs.get(method)!.push(run.start + run.elapsed - began);
    };
    const workOf = (method: string) => {
      const own = workMs.get(method) ?? workMs.get(method === 'Volume.clone' ? 'Volume.snapshot' : 'Volume.set') ?? [40];
      return Math.max(10, median(own.slice(-10)));
    };
    const calib = await Promise.all(
      [
        ['Volume.set', { sr, key: keeper.key, k: 'calibration', v: 'x' }],
        ['Volume.snapshot', { sr, key: keeper.key }],
        ['Volume.create', { sr, name: 'calibration', description: '', size: MiB, sharable: false }],
        ['Volume.resize', { sr, key: keeper.key, new_size: 2 * MiB }],
      ].map(async ([method, args]) => {
        const dbg = nextDbg();
        return { dbg, method: method as string, run: await runAndKill(host, method as string, { dbg, ...(args as object) }) };
      }),
    );
    log.flush();
    for (const c of calib) {
      const o = judge<Volume | null>(c.method, c.run.raw, c.method === 'Volume.set' || c.method === 'Volume.resize' ? T.unit : T.volume);
      expect(o.ok).toBe(true);
      noteTimes(c.method, c.dbg, c.run);
      if (o.ok && o.value) addVolume(o.value, c.method === 'Volume.snapshot' ? keeper.key : undefined);
    }
    volumes.get(keeper.key)!.keys.set('calibration', new Set(['x']));
    volumes.get(keeper.key)!.sizes = new Set([2 * MiB]);
    presetKeys.calibration = 'x';

    // The SR's own name and description, renamed by killed calls too.
    const srNames = new Set<string>(['test SR']);
    const srDescriptions = new Set<string>(['made by a test']);
    const stats = { spawned: 0, killed: 0, killedAfterStart: 0, killedByPlan: {} as Record<string, number>, completed: 0, killedByKind: {} as Record<string, number>, lsChecked: 0, adopted: 0 };
    const delays: number[] = [];

    for (let b = 0; b < BATCHES && (!KILLS_WANTED || stats.killed < KILLS_WANTED); b++) {
      const live = () => [...volumes.values()].filter((v) => v.exists !== 'no');
      const used = new Set<string>();
      const batch: { kind: OpKind; method: string; args: Record<string, unknown>; type: RpcType; target?: ModelVolume; extra: Record<string, unknown>; dbg: string; plan: KillPlan }[] = [];
      for (let s = 0; s < PARALLEL; s++) {
        const candidates = live().filter((v) => !used.has(v.key));
        const population = live().length;
        const kinds: OpKind[] = [];
        const add = (k: OpKind, w: number) => kinds.push(...Array(w).fill(k));
        if (population < 16) add('create', 3);
        if (population < 16 && candidates.length) add('snapshot', 2), add('clone', 2);
        if (candidates.some((v) => !v.keeper)) add('destroy', population > 5 ? 5 : 2);
        if (candidates.length) add('set', 4), add('unset', 1), add('rename', 1), add('describe', 1);
        if (!batch.some((op) => op.kind.startsWith('sr-'))) add('sr-rename', 1), add('sr-describe', 1);
        if (candidates.some((v) => v.readWrite)) add('resize', 2);
        add('ls', 1);
        const kind = pick(kinds);
        const dbg = nextDbg();
        let target: ModelVolume | undefined;
        let method: string;
        let args: Record<string, unknown> = {};
        let type: RpcType = T.unit;
        const extra: Record<string, unknown> = {};
        switch (kind) {
          case 'create':
            method = 'Volume.create';
            extra.name = `created-${dbg}`;
            args = { name: extra.name, description: 'made while killing', size: 4096 * (1 + Math.floor(random() * 512)), sharable: false };
            type = T.volume;
            break;
          case 'snapshot':
          case 'clone':
            target = pick(candidates);
            method = kind === 'snapshot' ? 'Volume.snapshot' : 'Volume.clone';
            args = { key: target.key };
            type = T.volume;
            break;
          case 'destroy':
            target = pick(candidates.filter((v) => !v.keeper));
            method = 'Volume.destroy';
            args = { key: target.key };
            break;
          case 'set':
          case 'unset': {
            target = pick(candidates);
            const mine = [...target.keys.keys()].filter((k) => k.startsWith('k-'));
            if (kind === 'unset' && mine.length) {
              method = 'Volume.unset';
              extra.k = pick(mine);
              args = { key: target.key, k: extra.k };
            } else {
              method = 'Volume.set';
              extra.k = `k-${dbg}`;
              extra.v = `v-${dbg}`;
              args = { key: target.key, k: extra.k, v: extra.v };
            }
            break;
          }
          case 'rename':
          case 'describe':
            target = pick(candidates);
            extra.value = `${kind === 'rename' ? 'named' : 'described'} ${dbg} ${'x'.repeat(Math.floor(random() * 300))}`;
            method = kind === 'rename' ? 'Volume.set_name' : 'Volume.set_description';
            args = kind === 'rename' ? { key: target.key, new_name: extra.value } : { key: target.key, new_description: extra.value };
            break;
          case 'sr-rename':
          case 'sr-describe':
            extra.value = `sr ${kind === 'sr-rename' ? 'named' : 'described'} ${dbg}`;
            method = kind === 'sr-rename' ? 'SR.set_name' : 'SR.set_description';
            args = kind === 'sr-rename' ? { new_name: extra.value } : { new_description: extra.value };
            break;
          case 'resize': {
            target = pick(candidates.filter((v) => v.readWrite));
            extra.size = Math.max(...target.sizes) + 4096 * (1 + Math.floor(random() * 256));
            method = 'Volume.resize';
            args = { key: target.key, new_size: extra.size };
            break;
          }
          case 'ls':
            method = 'SR.ls';
            type = volumeList;
            break;
        }
        if (target) used.add(target.key);
        const opKind: OpKind = method! === 'Volume.set' ? 'set' : kind;
        // A fifth of the kills anywhere in the call's life, a quarter during its
        // work, the rest within 10 ms of its first touching volumes/ or tmp/
        // (SR.ls logs no start: it is timed from the spawn or its files).
        const r = random();
        const plan: KillPlan =
          r < 0.2 || (kind === 'ls' && r < 0.45)
            ? { after: 'spawn', delay: random() * median(durations.slice(-12)) }
            : r < 0.45
              ? { after: 'start', delay: random() * 1.2 * workOf(method!) }
              : { after: 'files', delay: random() * 10 };
        delays.push(plan.delay);
        batch.push({ kind: opKind, method: method!, args: { dbg, sr, ...args }, type, target, extra, dbg, plan });
      }
      // Every few batches an SR.ls that is not killed runs alongside, collecting orphans while others work.
      const witness = b % 3 === 2;
      const before = new Map([...volumes.values()].map((v) => [v.key, v.exists]));
      const [runs, lsRun] = await Promise.all([
        Promise.all(batch.map((op) => runAndKill(host, op.method, op.args as { dbg: string }, op.plan, log, root))),
        witness ? runAndKill(host, 'SR.ls', { dbg: nextDbg(), sr } as { dbg: string }) : Promise.resolve(undefined),
      ]);
      log.flush();
      const started = log.started;
      batch.forEach((op, i) => {
        const run = runs[i];
        stats.spawned++;
        const t = op.target;
        if (run.killed) {
          stats.killed++;
          stats.killedByKind[op.kind] = (stats.killedByKind[op.kind] ?? 0) + 1;
          if (started.has(op.dbg)) stats.killedAfterStart++;
          stats.killedByPlan[op.plan.after] = (stats.killedByPlan[op.plan.after] ?? 0) + 1;
          // Either it took effect or it did not.
          switch (op.kind) {
            case 'create':
              pending.push({ kind: 'create', name: op.extra.name as string });
              break;
            case 'snapshot':
            case 'clone':
              pending.push({ kind: op.kind, parent: t!.key });
              break;
            case 'destroy':
              t!.exists = 'maybe';
              break;
            case 'set':
              t!.keys.set(op.extra.k as string, new Set([undefined, op.extra.v as string]));
              break;
            case 'unset':
              t!.keys.get(op.extra.k as string)!.add(undefined);
              break;
            case 'rename':
              t!.names.add(op.extra.value as string);
              break;
            case 'describe':
              t!.descriptions.add(op.extra.value as string);
              break;
            case 'sr-rename':
              srNames.add(op.extra.value as string);
              break;
            case 'sr-describe':
              srDescriptions.add(op.extra.value as string);
              break;
            case 'resize':
              t!.sizes.add(op.extra.size as number);
              break;
          }
          return;
        }
        // It finished before its kill: it must have answered properly.
        stats.completed++;
        const o: Outcome<unknown> = judge(op.method, run.raw, op.type);
        if (!o.ok) {
          // Only a volume whose destruction was killed may turn out to be gone.
          if (t?.exists === 'maybe' && errorName(o.envelope) === 'Volume_does_not_exist') {
            t.exists = 'no';
            return;
          }
          throw new Error(`${op.method} ${JSON.stringify(op.args)} failed (seed ${SEED}): ${run.raw.stdout}\n${host.log().slice(-3000)}`);
        }
        switch (op.kind) {
          case 'create':
            expect((o.value as Volume).name).toBe(op.extra.name);
            addVolume(o.value as Volume);
            break;
          case 'snapshot':
          case 'clone': {
            const v = o.value as Volume;
            expect(v.read_write).toBe(op.kind === 'clone');
            expect(v.keys).toEqual({});
            expect(t!.sizes.has(v.virtual_size)).toBe(true);
            t!.exists = 'yes';
            addVolume(v, t!.key);
            break;
          }
          case 'destroy':
            t!.exists = 'no';
            break;
          case 'set':
          case 'unset':
            t!.exists = 'yes';
            t!.keys.set(op.extra.k as string, new Set([op.method === 'Volume.set' ? (op.extra.v as string) : undefined]));
            break;
          case 'rename':
            t!.exists = 'yes';
            t!.names = new Set([op.extra.value as string]);
            break;
          case 'describe':
            t!.exists = 'yes';
            t!.descriptions = new Set([op.extra.value as string]);
            break;
          case 'sr-rename':
            srNames.clear(), srNames.add(op.extra.value as string);
            break;
          case 'sr-describe':
            srDescriptions.clear(), srDescriptions.add(op.extra.value as string);
            break;
          case 'resize':
            t!.exists = 'yes';
            t!.sizes = new Set([op.extra.size as number]);
            break;
          case 'ls':
            break;
        }
        noteTimes(op.method, op.dbg, run);
      });
      if (lsRun) {
        // The witness saw every volume that surely existed and was not being destroyed, and none that surely did not.
        const o = judge<Volume[]>('SR.ls', lsRun.raw, volumeList);
        if (!o.ok) throw new Error(`SR.ls failed: ${lsRun.raw.stdout}`);
        const keys = new Set(o.value.map((v) => v.key));
        for (const [key, exists] of before) {
          const destroyed = batch.some((op) => op.kind === 'destroy' && op.target!.key === key);
          if (exists === 'yes' && !destroyed) expect(keys.has(key)).toBe(true);
          if (exists === 'no') expect(keys.has(key)).toBe(false);
        }
        // Volumes it shows that nobody was told about come from killed calls: the model takes them in.
        for (const v of o.value) {
          if (volumes.has(v.key)) continue;
          const meta = JSON.parse(fs.readFileSync(path.join(root, 'volumes', `${v.key}.json`), 'utf8')) as { parent?: string };
          claim(v, meta.parent);
          addVolume(v, meta.parent);
          stats.adopted++;
        }
        stats.lsChecked++;
      }
    }

    // Let any cp a killed snapshot or clone left running finish, then let SR.ls collect.
    await waitFor(() => strayProcesses(root).length === 0, 20_000, 'stray processes to finish');
    const listed = host.call<Volume[]>('volume', 'SR.ls', { dbg: nextDbg(), sr }, volumeList);
    const files = checkSrFiles(root);
    expect([...files.keys()].sort()).toEqual(listed.map((v) => v.key).sort());

    // Every volume the model knows is where it should be, with possible contents.
    const byKey = new Map(listed.map((v) => [v.key, v]));
    let destroyKilledUndecided = 0;
    for (const m of volumes.values()) {
      const v = byKey.get(m.key);
      if (m.exists === 'no') {
        expect(v).toBeUndefined();
        expect(fs.existsSync(img(m.key))).toBe(false);
        continue;
      }
      if (m.exists === 'maybe') {
        destroyKilledUndecided++;
        if (!v) {
          expect(fs.existsSync(img(m.key))).toBe(false); // fully gone
          continue;
        }
      }
      if (!v) throw new Error(`volume ${m.key} (${m.name}) is missing (seed ${SEED})`);
      expect(v.read_write).toBe(m.readWrite);
      expect(files.get(m.key)!.parent).toBe(m.parent);
      expect(m.sizes.has(v.virtual_size)).toBe(true);
      if (!m.names.has(v.name)) throw new Error(`volume ${m.key} is named ${JSON.stringify(v.name)}, expected one of ${JSON.stringify([...m.names])}`);
      if (!m.descriptions.has(v.description)) throw new Error(`volume ${m.key} is described ${JSON.stringify(v.description)}, expected one of ${JSON.stringify([...m.descriptions])}`);
      for (const [k, possible] of m.keys) {
        if (!possible.has(v.keys[k])) throw new Error(`volume ${m.key} key ${k} is ${JSON.stringify(v.keys[k])}, expected one of ${JSON.stringify([...possible])}`);
      }
      for (const k of Object.keys(v.keys)) expect(m.keys.has(k)).toBe(true);
    }
    const srStat = host.call<{ name: string; description: string }>('volume', 'SR.stat', { dbg: nextDbg(), sr }, T.srStat);
    expect([...srNames]).toContain(srStat.name);
    expect([...srDescriptions]).toContain(srStat.description);
    // The keeper's keys, set before the kills, are intact.
    expect(byKey.get(keeper.key)!.keys).toMatchObject(presetKeys);

    // Volumes nobody was told about come from killed creates, snapshots and clones, one each.
    const unknown = listed.filter((v) => !volumes.has(v.key));
    for (const v of unknown) claim(v, files.get(v.key)!.parent);

    // Every listed volume answers Volume.stat like SR.ls did; no lock is left held.
    for (let i = 0; i < listed.length; i += 8) {
      const chunk = listed.slice(i, i + 8);
      const outs = await Promise.all(chunk.map((v) => runAndKill(host, 'Volume.stat', { dbg: nextDbg(), sr, key: v.key } as { dbg: string })));
      outs.forEach((r, j) => {
        const o = judge<Volume>('Volume.stat', r.raw, T.volume);
        if (!o.ok) throw new Error(`Volume.stat ${chunk[j].key} failed: ${r.raw.stdout}`);
        expect(o.value).toEqual(chunk[j]);
      });
    }
    for (const v of listed) expect(lockFree(img(v.key))).toBe(true);
    expect(lockFree(path.join(root, 'sr.lock'))).toBe(true);
    // Calls that need the exclusive locks go through at once.
    const quick = { XAPI_SPDK_LOCK_TIMEOUT_MS: '2000' };
    expect(judge('Volume.set', host.raw('volume', 'Volume.set', JSON.stringify({ dbg: 'after', sr, key: keeper.key, k: 'after', v: 'kills' }), quick), T.unit).ok).toBe(true);
    expect(judge('SR.set_name', host.raw('volume', 'SR.set_name', JSON.stringify({ dbg: 'after', sr, new_name: 'survived' }), quick), T.unit).ok).toBe(true);

    const report = {
      seed: SEED,
      ...stats,
      delayMs: { min: Math.round(Math.min(...delays)), median: Math.round(median(delays)), max: Math.round(Math.max(...delays)) },
      callMs: { median: median(durations), max: Math.max(...durations) },
      workMs: Object.fromEntries([...workMs].map(([m, a]) => [m, median(a)])),
      volumesAtEnd: listed.length,
      fromKilledCalls: stats.adopted + unknown.length,
      destroyKilledUndecided,
    };
    console.log(`crash test: ${JSON.stringify(report)}`);
    // The test must actually have killed calls in the middle of their work (how many depends on
    // the machine's load: the kill delays are drawn before the calls' durations are known).
    expect(stats.killed).toBeGreaterThanOrEqual(KILLS_WANTED || 72);
    expect(stats.killedAfterStart).toBeGreaterThanOrEqual(KILLS_WANTED ? KILLS_WANTED / 2 : 48);
  }, KILLS_WANTED ? Math.max(150_000, KILLS_WANTED * 600) : 150_000);

  test('a lock held by a killed process is released at once', async () => {
    // A big volume, so that a snapshot spends a while copying with the locks held.
    const big = vdiCreate(host, sr, 256 * MiB, 'big');
    const fd = fs.openSync(img(big.key), 'r+');
    const chunk = Buffer.alloc(MiB, 0xa5);
    for (let i = 0; i < 64; i++) fs.writeSync(fd, chunk, 0, MiB, i * 2 * MiB);
    fs.closeSync(fd);
    const tmpDir = path.join(root, 'tmp');
    const srLock = path.join(root, 'sr.lock');

    let caught = false;
    for (let attempt = 0; attempt < 8 && !caught; attempt++) {
      const { child, done } = host.spawn('volume', 'Volume.snapshot', { dbg: 'to be killed', sr, key: big.key });
      child.stdin.on('error', () => undefined);
      // Wait until the copy is under way: its image in tmp/ has data.
      await waitFor(() => {
        if (child.exitCode !== null) return true;
        return fs.readdirSync(tmpDir).some((f) => f.endsWith('.img') && (fs.statSync(path.join(tmpDir, f), { throwIfNoEntry: false })?.size ?? 0) > 0);
      }, 30_000, 'the snapshot copy to start');
      const heldBefore = !lockFree(img(big.key)) && !lockFree(srLock);
      child.kill('SIGKILL');
      const raw = await done;
      if (raw.signal !== 'SIGKILL' || !heldBefore) {
        await sleep(50);
        continue;
      }
      caught = true;
      // The kernel dropped its flocks with it, and its cp died with it (parent-death signal).
      await waitFor(() => strayProcesses(root).length === 0, 2_000, 'the killed plugin\'s cp to die with it');
      expect(lockFree(img(big.key))).toBe(true);
      expect(lockFree(srLock)).toBe(true);
      const quick = { XAPI_SPDK_LOCK_TIMEOUT_MS: '1000' };
      const set = judge('Volume.set', host.raw('volume', 'Volume.set', JSON.stringify({ dbg: 'after kill', sr, key: big.key, k: 'after', v: 'kill' }), quick), T.unit);
      if (!set.ok) throw new Error(`Volume.set after the kill failed: ${JSON.stringify(set.envelope)}`);
      const rename = judge('SR.set_name', host.raw('volume', 'SR.set_name', JSON.stringify({ dbg: 'after kill', sr, new_name: 'after kill' }), quick), T.unit);
      if (!rename.ok) throw new Error(`SR.set_name after the kill failed: ${JSON.stringify(rename.envelope)}`);
      const destroyBig = judge('Volume.destroy', host.raw('volume', 'Volume.destroy', JSON.stringify({ dbg: 'after kill', sr, key: big.key }), quick), T.unit);
      if (!destroyBig.ok) throw new Error(`Volume.destroy after the kill failed: ${JSON.stringify(destroyBig.envelope)}`);
    }
    expect(caught).toBe(true);
    await waitFor(() => strayProcesses(root).length === 0, 20_000, 'stray processes to finish');
    const listed = host.call<Volume[]>('volume', 'SR.ls', { dbg: 'tidy', sr }, volumeList);
    expect(listed.map((v) => v.key)).not.toContain(big.key);
    const files = checkSrFiles(root);
    expect([...files.keys()].sort()).toEqual(listed.map((v) => v.key).sort());
  }, 60_000);
});
