// Malicious frontends (xensim-guest --hostile <mode>, native/sim/guest/malicious.c) against the
// real daemon, each while a second disk served by the same daemon runs a verified workload: the
// daemon stays up, the good disk passes, the malicious guest's own checks pass (answers, pages it
// revoked or granted read-only untouched, canary pages never granted untouched, the device still
// works), the hypervisor refused only what the mode expects, and nothing was written to the
// malicious disk outside what its requests named.
import * as fs from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { SimHost, processesUsing, type SimDisk } from '../harness/sim';

const MiB = 1024 * 1024;
const DISK_MIB = 32;
let host: SimHost;
let guests: ChildProcess[] = [];

beforeAll(async () => {
  host = await SimHost.start('xensim-mal-');
  await host.startDaemon();
}, 30_000);
afterAll(async () => {
  await host?.stop();
});
afterEach(() => {
  // Every guest a test started has exited: nothing is left running between tests.
  for (const c of guests) expect(c.exitCode !== null || c.signalCode !== null).toBe(true);
  guests = [];
  // Only xensim-xenstored, xensim-hv and the daemon remain.
  expect(processesUsing(host.dir)).toHaveLength(3);
});

const newDisk = (features: object = {}) => host.addDisk({ sizeMiB: DISK_MIB, features });

function guest(d: SimDisk, args: string[]) {
  const g = host.guest(d.domid, ['--domid', String(d.domid), '--no-progress', ...args]);
  guests.push(g.child);
  return g;
}

const goodArgs = (seconds: number) => ['--verify', '--rw', 'randrw', '--bs', '4k', '--iodepth', '8', '--runtime', String(seconds), '--size', `${8 * MiB}`, '--close'];

/** Byte ranges [start, end) of the file that hold anything but zeroes, outside `allowed` sector ranges. */
function writtenOutside(file: string, allowed: [number, number][]): number[] {
  const buf = fs.readFileSync(file);
  const bad: number[] = [];
  const ok = (byte: number) => allowed.some(([s, e]) => byte >= s * 512 && byte < e * 512);
  for (let i = 0; i < buf.length; i += 512) {
    let zero = true;
    for (let k = i; k < i + 512; k++) if (buf[k] !== 0) { zero = false; break; }
    if (!zero && !ok(i)) bad.push(i / 512);
    if (bad.length > 8) break;
  }
  return bad;
}

async function removeDisks(...disks: SimDisk[]) {
  for (const d of disks) {
    host.toolstack('destroy-domain', String(d.domid));
    await host.rpc('disk_remove', { name: d.name }).catch(() => undefined);
  }
}

/**
 * One malicious mode against `bad` while `good` runs a verified workload; the checks every mode shares.
 * `written`: the sectors the mode may write on its disk (null: anywhere, its own writes are random).
 */
async function attack(mode: string, extra: string[], written: [number, number][] | null, badFeatures: object = {}, goodSeconds = 3) {
  const bad = await newDisk(badFeatures);
  const good = await newDisk();
  const goodRun = guest(good, goodArgs(goodSeconds));
  const badRun = guest(bad, ['--hostile', mode, '--runtime', '2', '--timeout', '10', ...extra]);
  const [b, g] = await Promise.all([badRun.done, goodRun.done]);
  const h = b.summary?.hostile;
  console.log(`malicious ${mode} ${extra.join(' ')}: ${JSON.stringify(h && { ...h, cases: undefined })}\ngood disk: ${g.summary?.iops?.toFixed?.(0)} IOPS, verify failures ${g.summary?.verify?.failures}`);
  expect(b.signal).toBeNull();
  expect(h).toMatchObject({ mode, pass: true, canaries_intact: true });
  expect(h.hv_refused).toMatchObject({ bad_range: 0, dead_domain: 0 }); // never reached outside a page
  expect(g.status).toBe(0);
  expect(g.summary.verify.failures).toBe(0);
  expect(g.summary.errors.total).toBe(0);
  expect(host.daemon!.exitCode).toBeNull(); // still running
  expect(host.daemon!.signalCode).toBeNull();
  expect(fs.statSync(bad.file).size).toBe(DISK_MIB * MiB); // nothing written past the end
  if (written) expect(writtenOutside(bad.file, written)).toEqual([]);
  const list = await host.rpc<any[]>('disk_list');
  expect(list.map((x) => x.name)).toEqual(expect.arrayContaining([bad.name, good.name]));
  return { b, g, h, bad, good };
}

// The sanity write of every ring mode is at sector 32; xenstore-flip's at 64.
const SANITY: [number, number] = [32, 40];

test.each(['x86_64', 'x86_32'])('malicious rewrite-in-flight: slots and indirect pages rewritten while in flight (%s); one consistent copy acted on', async (abi) => {
  const { h, bad, good } = await attack('rewrite-in-flight', ['--abi', abi], null);
  expect(h.requests).toBeGreaterThan(0);
  expect(h.answered).toBe(h.requests);
  expect(h.flips).toBeGreaterThan(h.requests);
  expect(h.extra_responses).toBe(0);
  expect(h.readonly_page_intact).toBe(true);
  expect(h.hv_refused.other_domain).toBe(0); // never flipped in: the backend made none up
  await removeDisks(bad, good);
}, 60_000);

test('malicious flood: a ring kept full with constant notifications does not starve another disk', async () => {
  // The good disk alone, then again with the flood on another disk of the same daemon.
  const bad = await newDisk();
  const good = await newDisk();
  const alone = await guest(good, goodArgs(3)).done;
  expect(alone.status).toBe(0);
  const goodRun = guest(good, goodArgs(3));
  const badRun = guest(bad, ['--hostile', 'flood', '--runtime', '3', '--timeout', '10']);
  const [b, g] = await Promise.all([badRun.done, goodRun.done]);
  const h = b.summary?.hostile;
  const ratio = g.summary.iops / alone.summary.iops;
  console.log(`malicious flood: good disk ${alone.summary.iops.toFixed(0)} IOPS alone, ${g.summary.iops.toFixed(0)} IOPS during the flood (${(ratio * 100).toFixed(0)}%); flood ${h?.flood_iops?.toFixed?.(0)} IOPS, ${h?.requests} requests, ${h?.notifications} notifications`);
  expect(b.signal).toBeNull();
  expect(h).toMatchObject({ mode: 'flood', pass: true, canaries_intact: true, drained: true, extra_responses: 0 });
  expect(Object.values(h.hv_refused).every((n) => n === 0)).toBe(true);
  expect(g.status).toBe(0);
  expect(g.summary.verify.failures).toBe(0);
  expect(g.summary.errors.total).toBe(0);
  expect(ratio).toBeGreaterThanOrEqual(0.2);
  expect(host.daemon!.exitCode).toBeNull();
  expect(fs.statSync(bad.file).size).toBe(DISK_MIB * MiB);
  expect(writtenOutside(bad.file, [SANITY])).toEqual([]);
  await removeDisks(bad, good);
}, 60_000);

test('malicious ro-grant-read: reads into read-only grants are errors and leave the pages as they were', async () => {
  const { h, bad, good } = await attack('ro-grant-read', [], [SANITY, [4096, 4104]]);
  expect(h.readonly_pages_intact).toBe(true);
  expect(h.cases.filter((c: any) => !c.pass)).toEqual([]);
  expect(h.hv_refused.readonly_write).toBeGreaterThanOrEqual(5); // the backend tried, Xen said no
  expect(h.hv_refused).toMatchObject({ not_granted: 0, other_domain: 0 });
  await removeDisks(bad, good);
}, 60_000);

test.each([['persistent grants', '1'], ['no persistent grants', '0']])(
  'malicious revoke-in-flight: grants ended under in-flight requests (%s); nothing touched after a revoke succeeded',
  async (_what, persistent) => {
    const { h, bad, good } = await attack('revoke-in-flight', ['--persistent', persistent], null);
    expect(h.rounds).toBeGreaterThan(10);
    expect(h.pages_changed_after_revoke).toBe(0);
    expect(h.revoked_before_answer).toBeGreaterThan(0);
    expect(h.hv_refused).toMatchObject({ other_domain: 0, readonly_write: 0 });
    // Without persistent grants nothing is mapped, so every revoke eventually succeeds.
    if (persistent === '0') expect(h.revoke_refused_while_mapped).toBe(0);
    await removeDisks(bad, good);
  },
  60_000,
);

test('malicious xenstore-flip: frontend keys flipped through every state; the device connects consistently or refuses', async () => {
  // Not the defaults: two queues of two-page rings, so a mixed-up connection would show.
  const { b, h, bad, good } = await attack('xenstore-flip', ['--runtime', '3', '--queues', '2', '--ring-order', '1'], [[64, 72]], { queues: 4, max_ring_order: 2 });
  expect(h.writes).toBeGreaterThan(100);
  // Bad ring-refs reached the map and the hypervisor refused them; nothing mapped stayed mapped.
  expect(h.hv_refused.not_granted + h.hv_refused.other_domain + h.hv_refused.readonly_write).toBeGreaterThan(0);
  expect(h).toMatchObject({ reconnected: true, sanity_read: true, maps_held_after_close: 0, revoke_failures_at_close: 0, backend_bad_states: 0 });
  // Connected again with one consistent set of parameters: what the guest negotiated.
  const disk = await host.rpc<any>('disk_get', { name: bad.name });
  expect(disk).toMatchObject({ connected: true, queues: h.reconnect_queues, ring_order: h.reconnect_ring_order, protocol: expect.stringMatching(/x86_64/) });
  expect(b.summary.features).toMatchObject({ queues: 2, ring_order: 1 });
  expect(h).toMatchObject({ reconnect_queues: 2, reconnect_ring_order: 1 });
  await removeDisks(bad, good);
}, 60_000);
