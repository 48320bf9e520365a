// The run an SPDK SR on an NVMe drive gets in spdk-nvme.test.ts (NVMe/TCP) and
// spdk-pcie.test.ts (PCIe): a VM on a new volume with a verified workload and
// flushes, a snapshot taken while it runs, a clone of it booted and verifying
// the data; then everything destroyed, all space free, the SR detached and
// nothing left behind.
import * as path from 'node:path';
import { T } from './rpclib';
import type { Volume } from './fixtures';
import type { XapiSim } from './xapi';

const MiB = 1024 * 1024;

export interface SnapshotCloneRun {
  vol: Volume;
  snap: Volume;
  clone: Volume;
  /** The first guest's JSON summary. */
  summary: any;
}

const callOn = (x: XapiSim) => <R>(method: string, args: object, type = T.unit) => x.host.call<R>('volume', method, { dbg: 'test', sr: x.sr, ...args }, type);

/** The guest's run in domain `domid` (its verify state in `state`); throws with the daemon's log when it fails. */
async function guestRun(x: XapiSim, domid: number, args: string[]) {
  const r = await x.sim.guest(domid, ['--domid', String(domid), '--devid', '51712', '--no-progress', ...args, '--close']).done;
  if (r.status !== 0) throw new Error(`guest failed: ${r.stdout.slice(-1500)} ${r.stderr.slice(-1500)}\n${x.daemonLogs().slice(-3000)}`);
  expect(r.summary.errors.total).toBe(0);
  return r.summary;
}

/** `workload`: the first guest's --rw/--bs/... arguments, over the first `verified` bytes of a volume of `size`. */
export async function snapshotCloneRun(x: XapiSim, o: { domid: number; size: number; verified: number; workload: string[] }): Promise<SnapshotCloneRun> {
  const call = callOn(x);
  const vol = call<Volume>('Volume.create', { name: 'on-nvme', description: '', size: o.size, sharable: false }, T.volume);
  const vm = x.vmStart(vol.key, o.domid);
  const state = path.join(x.host.dir, `nvme-${o.domid}.state`);
  const summary = await guestRun(x, o.domid, ['--verify', '--verify-state', state, ...o.workload, '--size', `${o.verified}`]);
  expect(summary.features.flush).toBe(true);
  expect(x.daemonLogs()).toMatch(/SPDK started/);
  const snap = call<Volume>('Volume.snapshot', { key: vol.key }, T.volume);
  x.vmShutdown(vol.key, vm);
  const clone = call<Volume>('Volume.clone', { key: snap.key }, T.volume);
  const vm2 = x.vmStart(clone.key, o.domid + 1);
  await guestRun(x, o.domid + 1, ['--verify', '--verify-state', state, '--rw', 'randread', '--bs', '4k', '--ios', '300', '--size', `${o.verified}`]);
  x.vmShutdown(clone.key, vm2);
  return { vol, snap, clone, summary };
}

/** Destroys the run's volumes; all space is free again, and after SR.detach nothing is left. */
export function destroyAndDetach(x: XapiSim, run: SnapshotCloneRun): void {
  const call = callOn(x);
  for (const key of [run.clone.key, run.snap.key, run.vol.key]) call('Volume.destroy', { key });
  const after = call<any>('SR.stat', {}, T.srStat);
  expect(after.free_space).toBe(after.total_space);
  x.host.call('volume', 'SR.detach', { dbg: 'test', sr: x.sr }, T.unit);
  expect(x.leftovers()).toEqual({ daemons: [], files: [] });
}

export { MiB };
