// The main job (`make demo`): the product end to end on one machine without
// Xen. A file SR in a temporary folder; xapi and xenopsd played exactly over
// the simulator (plugin executables called as xapi-storage-script calls
// them, the xenstore entries xenopsd writes for a qdisk VBD); a simulated
// guest that finds our backend, runs a verified workload with a progress
// line while the volume is snapshotted and grown under it; a results table;
// then shutdown and cleanup, leaving no process, mount or file behind.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { T, volumeList } from '../spec/harness/rpclib';
import type { Volume } from '../spec/harness/fixtures';
import { bin, processesUsing } from '../spec/harness/sim';
import { XapiSim } from '../spec/harness/xapi';

const MiB = 1024 ** 2;
const SIZE = 256 * MiB;
const GROWN = 512 * MiB;
const DOMID = 7;
let step = 0;

function say(what: string, ...details: string[]): void {
  step++;
  process.stdout.write(`${String(step).padStart(2)}. ${what}\n${details.map((d) => `      ${d}\n`).join('')}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The guest, with its progress line on our terminal and its JSON summary on a pipe. */
function runGuest(x: XapiSim, args: string[]): Promise<any> {
  const env = { ...x.sim.env, XENSTORED_PATH: path.join(x.sim.dir, `socket.d${DOMID}`) };
  const child = spawn(bin('xensim-guest'), ['--domid', String(DOMID), ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  return new Promise((resolve, reject) =>
    child.on('close', (status, signal) => {
      let summary: any;
      try {
        summary = JSON.parse(out);
      } catch {
        return reject(new Error(`the guest ended (${status ?? signal}) without a summary`));
      }
      if (status !== 0) return reject(new Error(`the guest failed (${status ?? signal}): ${summary.error ?? JSON.stringify(summary.errors)}`));
      resolve(summary);
    }),
  );
}

function table(rows: [string, string][]): void {
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) process.stdout.write(`      ${k.padEnd(w)}  ${v}\n`);
}

async function main(x: XapiSim): Promise<void> {
  const dbg = 'demo';
  const call = <R>(kind: 'volume' | 'datapath', method: string, args: object, type: any) => x.host.call<R>(kind, method, { dbg, ...args }, type);
  const q = call<{ version: string; features: string[] }>('volume', 'Plugin.Query', {}, T.queryResult);
  const dq = call<{ features: string[] }>('datapath', 'Plugin.Query', {}, T.queryResult);
  say(`Plugin.Query: volume plugin ${q.version}, datapath plugin spdk`, `volume features: ${q.features.join(' ')}`, `datapath features: ${dq.features.join(' ')}`);
  say(`SR.create + SR.attach: a file SR in ${x.host.srsDir}`, `sr: ${x.sr}`);

  const disk = x.volume(SIZE, 'demo disk');
  say(`Volume.create ${SIZE / MiB} MiB (thin) + Volume.set vdi-type=user`, `uri: ${disk.uri[0]}`);

  // VM start (reference 3.7): attach, activate, then xenopsd's xenstore writes.
  const att = x.attach(disk.key, String(DOMID));
  say(`Datapath.attach for domain ${DOMID}: the backend daemon starts`, `XenDisk: backend_type ${att.xenDisk.backend_type}, params ${att.xenDisk.params}, extra ${JSON.stringify(att.xenDisk.extra)}`, `Nbd: ${att.nbdUri}`);
  x.datapath('activate', disk.key, String(DOMID));
  say('Datapath.activate: I/O may flow');
  const vbd = x.plug(att, DOMID);
  say(`xenopsd writes ${vbd.backend} (qdisk, sm-data from extra) and waits for hotplug-status`, `hotplug-status: ${x.sim.xsRead(`${vbd.backend}/hotplug-status`)}, claimed by our daemon`);

  // The guest runs; the volume is snapshotted and grown while it does.
  const state = path.join(x.host.dir, 'verify.state');
  say('the guest connects and runs a verified random read/write workload (2 queues, 4-page rings, depth 16)');
  const work = runGuest(x, ['--verify', '--verify-state', state, '--rw', 'randrw', '--bs', '4k', '--iodepth', '16', '--queues', '2', '--ring-order', '2', '--runtime', '6', '--size', `${128 * MiB}`, '--discard-every', '64', '--flush-every', '256']);
  await sleep(2000);
  const snap = call<Volume>('volume', 'Volume.snapshot', { sr: x.sr, key: disk.key }, T.volume);
  await sleep(1000);
  call('volume', 'Volume.resize', { sr: x.sr, key: disk.key, new_size: GROWN }, T.unit);
  const s = await work;
  say(`while it ran: Volume.snapshot -> ${snap.key.slice(0, 8)} (read-only); Volume.resize ${SIZE / MiB} -> ${GROWN / MiB} MiB`, `backend sectors now ${x.sim.xsRead(`${vbd.backend}/sectors`)} (${GROWN / 512} expected); the running guest saw ${(s.features.sectors * 512) / MiB} MiB`);
  if (s.features.sectors !== GROWN / 512) throw new Error('the guest did not see the new size');

  const f = s.features;
  const lat = s.latency_us?.all ?? {};
  process.stdout.write('\n      results\n');
  table([
    ['IOPS', s.iops.toFixed(0)],
    ['bandwidth', `${s.mb_s.total.toFixed(1)} MB/s (read ${s.mb_s.read.toFixed(1)}, write ${s.mb_s.write.toFixed(1)})`],
    ['latency', `p50 ${lat.p50} us, p99 ${lat.p99} us, p99.9 ${lat['p99.9']} us`],
    ['operations', `${s.ops.total} (read ${s.ops.read}, write ${s.ops.write}, flush ${s.ops.flush}, discard ${s.ops.discard})`],
    ['queues', `${f.queues} of ${f.backend.max_queues}, ring order ${f.ring_order} (${f.ring_entries} entries)`],
    ['features', `indirect ${f.indirect_segs} segments, persistent grants ${f.persistent ? 'yes' : 'no'}, flush ${f.flush ? 'yes' : 'no'}, discard ${f.discard ? 'yes' : 'no'}, ABI ${f.abi}`],
    ['verification', `${s.verify.failures} corrupt of ${s.verify.sectors_known} sectors known; errors ${s.errors.total}`],
  ]);
  process.stdout.write('\n');
  if (s.verify.failures !== 0 || s.errors.total !== 0) throw new Error('the workload saw errors');

  const after = await runGuest(x, ['--verify', '--verify-state', state, '--rw', 'randread', '--bs', '64k', '--iodepth', '8', '--size', `${128 * MiB}`, '--close', '--no-progress']);
  say(`the guest reconnects and re-reads everything: ${after.verify.failures} corrupt, disk now ${(after.features.sectors * 512) / MiB} MiB`);
  if (after.verify.failures !== 0) throw new Error('data did not survive');

  x.vmShutdown(disk.key, vbd);
  say('VM shutdown: xenopsd unplugs the VBD, Datapath.deactivate, Datapath.detach: the daemon stops');
  const volumes = x.host.call<Volume[]>('volume', 'SR.ls', { dbg, sr: x.sr }, volumeList);
  for (const v of volumes) call('volume', 'Volume.destroy', { sr: x.sr, key: v.key }, T.unit);
  call('volume', 'SR.destroy', { sr: x.sr }, T.unit);
  call('volume', 'SR.detach', { sr: x.sr }, T.unit);
  const left = x.leftovers();
  const files = fs.readdirSync(x.host.srsDir);
  const procs = processesUsing(x.host.dir).length - 2; // the simulator's xenstored and hypervisor
  say(`Volume.destroy x${volumes.length}, SR.destroy`, `daemons left: ${left.daemons.length}, datapath files left: ${left.files.length}, SR files left: ${files.length}, other processes: ${Math.max(procs, 0)}`);
  if (left.daemons.length || left.files.length || files.length) throw new Error('something was left behind');
}

(async () => {
  process.stdout.write('xapi-storage-spdk demo: SMAPIv3 plugins + user-space blkif backend, on the Xen simulator\n\n');
  const x = await XapiSim.start('spdk-demo-');
  try {
    await main(x);
    process.stdout.write('\ndemo complete\n');
  } catch (e) {
    process.stdout.write(`\ndemo FAILED: ${(e as Error).message}\n${x.daemonLogs().slice(-2000)}\n`);
    process.exitCode = 1;
  } finally {
    await x.stop().catch((e) => {
      process.stdout.write(`cleanup: ${(e as Error).message}\n`);
      process.exitCode = 1;
    });
  }
})();
