// One xenblkd-spdk per SPDK device (SPDK owns the whole drive): it holds the
// lvol store, serves SPDK's own RPC methods (bdev_lvol_*) to the volume
// plugin and, through its control socket, every attached disk of the SR to
// the datapath. Its files live under <run dir>/spdk/<device id>/:
//   control.sock  xenblkd's control socket (disk_add, disk_list, ...)
//   spdk.sock     SPDK's JSON-RPC server
//   spdk.json     the SPDK configuration it started with (the base bdev)
//   device.lock   serialises starting and stopping it, and the SR's metadata changes
import * as fs from 'node:fs';
import * as path from 'node:path';
import { config } from '../../util/config';
import { lockFile, withLock } from '../../util/lock';
import { log } from '../../util/log';
import { errors } from '../../wire/errors';
import { answers, daemonsOn, stopDaemonOn, xenblkdPath } from '../../datapath/daemon';
import { callDaemon, DaemonRpcError, ShimError, startDaemon } from '../../datapath/shim';
import type { SpdkDevice } from './device';

const EXE = 'xenblkd-spdk';

export interface SrDaemonPaths {
  dir: string;
  control: string;
  spdk: string;
  config: string;
  lock: string;
  log: string;
}

export function daemonPaths(device: SpdkDevice): SrDaemonPaths {
  const dir = path.join(config().runDir, 'spdk', device.id);
  return {
    dir,
    control: path.join(dir, 'control.sock'),
    spdk: path.join(dir, 'spdk.sock'),
    config: path.join(dir, 'spdk.json'),
    lock: path.join(dir, 'device.lock'),
    log: path.join(config().daemonLogDir, `spdk-${device.id}.log`),
  };
}

/** Runs body holding the device's lock. */
export function withDevice<T>(device: SpdkDevice, body: (p: SrDaemonPaths) => T): T {
  const p = daemonPaths(device);
  fs.mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  const lock = lockFile(p.lock, 'exclusive', { create: true, what: `the SPDK daemon of ${device.label}` });
  if (!lock) throw errors.busy(`lock of ${device.label}`);
  return withLock(lock, () => body(p));
}

export function isRunning(p: SrDaemonPaths): boolean {
  return answers(p.control) && fs.existsSync(p.spdk);
}

/**
 * Starts the device's daemon unless one answers (call holding the device
 * lock); true when it started one. SPDK examines the base bdev before the
 * daemon says it is ready, so an lvol store on it is loaded by then.
 */
export function ensureRunning(device: SpdkDevice, p: SrDaemonPaths): boolean {
  if (isRunning(p)) return false;
  for (const pid of daemonsOn(p.control, EXE)) stopDaemonOn(p.control, pid, EXE); // hung, or half started by a killed call
  for (const f of [p.control, p.spdk]) fs.rmSync(f, { force: true });
  const spdkConfig = {
    subsystems: [{ subsystem: 'bdev', config: [...device.bdevConfig, { method: 'bdev_wait_for_examine' }] }],
  };
  fs.writeFileSync(p.config, JSON.stringify(spdkConfig));
  fs.mkdirSync(path.dirname(p.log), { recursive: true });
  const args = ['--socket', p.control, '--platform', config().platform, '--spdk-config', p.config, '--spdk-rpc', p.spdk, '--spdk-mem', String(config().spdkMemMb)];
  if (device.hugepages) args.push('--spdk-hugepages');
  if (device.pci) args.push('--spdk-pci', device.pci);
  let pid: number;
  try {
    pid = startDaemon(xenblkdPath(EXE), args, p.log, config().daemonStartMs);
  } catch (e) {
    if (e instanceof ShimError) throw errors.io(`cannot start the SPDK daemon for ${device.label}: ${e.message} (log ${p.log})`);
    throw e;
  }
  log.info(`started ${EXE} ${pid} for ${device.label} (log ${p.log})`);
  return true;
}

/** Stops the device's daemon (call holding the device lock); never throws. */
export function stop(p: SrDaemonPaths): void {
  const pids = daemonsOn(p.control, EXE);
  stopDaemonOn(p.control, pids[0], EXE);
  for (const f of [p.control, p.spdk, p.config]) fs.rmSync(f, { force: true });
}

/** The disks the daemon serves: [] when none, undefined when no daemon answers. */
export function servedDisks(p: SrDaemonPaths): { name: string }[] | undefined {
  if (!answers(p.control)) return undefined;
  return callDaemon<{ name: string }[]>(p.control, 'disk_list', {}, 5_000);
}

/** An SPDK JSON-RPC error: the method and SPDK's message. */
export class SpdkRpcError extends Error {
  constructor(
    readonly method: string,
    readonly code: number,
    readonly detail: string,
  ) {
    super(`${method}: ${detail}`);
  }
}

/** One call of SPDK's own RPC methods. */
export function spdkCall<T = unknown>(p: SrDaemonPaths, method: string, params?: object, timeoutMs = 60_000): T {
  try {
    return callDaemon<T>(p.spdk, method, params ?? null, timeoutMs);
  } catch (e) {
    if (e instanceof DaemonRpcError) throw new SpdkRpcError(method, e.code, e.message.replace(`${method}: `, ''));
    if (e instanceof ShimError) throw errors.io(`SPDK does not answer ${method} on ${p.spdk}: ${e.message}`);
    throw e;
  }
}
