// Every hostile frontend mode against the real daemon, while a second disk
// served by the same daemon runs a verified workload: the daemon survives,
// the hostile device gets errors or is closed, the good disk passes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SimHost } from '../harness/sim';

const MiB = 1024 * 1024;
let host: SimHost;

beforeAll(async () => {
  host = await SimHost.start();
  await host.startDaemon();
}, 30_000);
afterAll(async () => {
  await host?.stop();
});

const newDisk = (features: object = {}, mode: 'w' | 'r' = 'w') => host.addDisk({ features, sizeMiB: 32, mode });

test.each(['bad-gref', 'past-end', 'bad-segment', 'too-many-segments', 'bad-indirect', 'ring-overflow', 'after-close', 'bad-op', 'ro-write'])(
  'hostile %s: answered or dropped; the other disk is unaffected',
  async (mode) => {
    const bad = await newDisk(mode === 'ro-write' ? { readonly: true } : {}, mode === 'ro-write' ? 'r' : 'w');
    const good = await newDisk();
    const goodRun = host.guest(good.domid, ['--domid', String(good.domid), '--no-progress', '--verify', '--rw', 'randrw', '--bs', '4k', '--iodepth', '8', '--runtime', '2', '--size', `${8 * MiB}`, '--close']);
    const badRun = host.guest(bad.domid, ['--domid', String(bad.domid), '--no-progress', '--hostile', mode, '--timeout', '10']);
    const [b, g] = await Promise.all([badRun.done, goodRun.done]);
    expect(b.signal).toBeNull();
    expect(b.summary?.hostile).toMatchObject({ mode, pass: true });
    expect(g.status).toBe(0);
    expect(g.summary.verify.failures).toBe(0);
    expect(g.summary.errors.total).toBe(0);
    expect(host.daemon!.exitCode).toBeNull(); // still running
    const list = await host.rpc<any[]>('disk_list');
    expect(list.map((x) => x.name)).toEqual(expect.arrayContaining([bad.name, good.name]));
    if (mode === 'ring-overflow') expect(list.find((x) => x.name === bad.name)).toMatchObject({ connected: false, error: expect.stringMatching(/ring/) });
    for (const d of [bad, good]) {
      host.toolstack('destroy-domain', String(d.domid));
      await host.rpc('disk_remove', { name: d.name }).catch(() => undefined);
    }
  },
  60_000,
);
