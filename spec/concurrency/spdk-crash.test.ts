// Crash safety of the SPDK store: volume calls SIGKILLed at random points,
// two at a time, on an SR whose daemon keeps running. Each killed call either
// took effect or did not: afterwards every volume a finished call returned is
// listed and usable, names of finished renames hold, and once every listed
// volume is destroyed no lvol at all is left in the store (no half-made
// volume, no hidden or destroyed snapshot kept for nothing) and all space
// is free. Where SPDK is installed (xenblkd-spdk built).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bin, rpcOn } from '../harness/sim';
import { T, volumeList } from '../harness/rpclib';
import { XapiSim } from '../harness/xapi';
import type { Volume } from '../harness/fixtures';
import { rng } from './helpers';

const MiB = 1024 * 1024;
const HAVE_SPDK = fs.existsSync(bin('xenblkd-spdk'));
const SEED = Number(process.env.CRASH_SEED) || Date.now() % 1_000_000;
const KILLS_WANTED = Number(process.env.SPDK_CRASH_KILLS ?? 150);
const random = rng(SEED);
const pick = <T>(a: T[]): T => a[Math.floor(random() * a.length)];

(HAVE_SPDK ? test : test.skip)(`SPDK store: ${KILLS_WANTED} volume calls killed at random points leave a consistent SR (seed ${SEED})`, async () => {
  const x = await XapiSim.start('spdk-crash-', (host) => {
    const file = path.join(host.dir, 'base.img');
    fs.writeFileSync(file, '');
    fs.truncateSync(file, 512 * MiB);
    return { bdev: JSON.stringify({ method: 'bdev_aio_create', params: { name: 'crash0', filename: file, block_size: 512 } }) };
  });
  try {
    const call = <R>(method: string, args: object, type = T.unit) => x.host.call<R>('volume', method, { dbg: 'crash', sr: x.sr, ...args }, type);
    const ls = () => call<Volume[]>('SR.ls', {}, volumeList);
    const srUuid = x.sr.slice('spdk-lvs:'.length);
    const spdkSocket = fs.readdirSync(path.join(x.runDir, 'spdk')).map((d) => path.join(x.runDir, 'spdk', d, 'spdk.sock'))[0];
    const known = new Map<string, string>(); // key -> name a finished call gave it
    for (let i = 0; i < 4; i++) {
      const v = call<Volume>('Volume.create', { name: `v${i}`, description: '', size: 8 * MiB, sharable: false }, T.volume);
      known.set(v.key, v.name);
    }
    let kills = 0;
    let calls = 0;
    while (kills < KILLS_WANTED) {
      const keys = ls().map((v) => v.key);
      const batch = [0, 1].map(() => {
        const key = keys.length ? pick(keys) : undefined;
        // Keep the SR small (each check lists it): destroy more as it grows.
        const op = !key ? 'create' : keys.length > 12 && random() < 0.5 ? 'destroy' : pick(['create', 'snapshot', 'clone', 'destroy', 'resize', 'set_name']);
        const name = `n${calls++}`;
        const [method, args] =
          op === 'create' ? ['Volume.create', { name, description: '', size: 4 * MiB, sharable: false }]
          : op === 'resize' ? ['Volume.resize', { key, new_size: (8 + Math.floor(random() * 8)) * MiB }]
          : op === 'set_name' ? ['Volume.set_name', { key, new_name: name }]
          : [`Volume.${op}`, { key }];
        const { child, done } = x.host.spawn('volume', method as string, { dbg: `crash-${calls}`, sr: x.sr, ...(args as object) });
        child.stdin.on('error', () => undefined);
        const timer = setTimeout(() => child.kill('SIGKILL'), 60 + random() * 400);
        return done.then((raw) => {
          clearTimeout(timer);
          if (raw.signal === 'SIGKILL') {
            kills++;
            return;
          }
          const answer = JSON.parse(raw.stdout);
          if (raw.status !== 0) {
            // Expected refusals: the volume went meanwhile, a snapshot cannot grow, it shrank.
            expect(JSON.stringify(answer)).toMatch(/Volume_does_not_exist|read-only|Invalid size/);
            return;
          }
          if (method === 'Volume.set_name') known.set(key!, name);
          if (method === 'Volume.destroy') known.delete(key!);
          if (answer && typeof answer.key === 'string') known.set(answer.key, answer.name);
        });
      });
      await Promise.all(batch);
      // What finished calls made is there, under the name they gave it (unless a killed call renamed or destroyed it since).
      const listed = new Map(ls().map((v) => [v.key, v]));
      for (const v of [...listed.values()].slice(0, 2)) expect(call<Volume>('Volume.stat', { key: v.key }, T.volume).key).toBe(v.key);
      for (const [key] of known) if (!listed.has(key)) known.delete(key); // destroyed by a killed call
    }
    // Everything destroyed: no lvol may be left but the one holding the SR's names, and all space is free.
    for (const v of ls()) call('Volume.destroy', { key: v.key });
    expect(ls()).toEqual([]);
    const left = await rpcOn<{ name: string }[]>(spdkSocket, 'bdev_lvol_get_lvols', { lvs_name: `xapi-${srUuid}` });
    expect(left.map((l) => l.name)).toEqual(['xapi-meta']);
    const sr = call<any>('SR.stat', {}, T.srStat);
    expect(sr.free_space).toBe(sr.total_space);
    console.log(`SPDK store crash test: ${calls} calls, ${kills} killed (seed ${SEED})`);
  } finally {
    try {
      x.host.call('volume', 'SR.detach', { dbg: 'crash', sr: x.sr }, T.unit);
    } finally {
      await x.stop();
    }
  }
}, 600_000);
