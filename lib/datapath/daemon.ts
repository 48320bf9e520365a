// One backend daemon (xenblkd) per attached volume: started through the shim
// at the first attach, driven over its control socket, stopped at the last
// detach. A daemon counts as running when its control socket answers, so a
// daemon whose starter was killed before recording its pid is still found.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { config } from '../util/config';
import { log } from '../util/log';
import { callDaemon, daemonAlive, ShimError, startDaemon, stopDaemon } from './shim';
import type { VolumePaths } from './state';

const EXE = 'xenblkd';
/** The NBD export's name, in the Nbd URI. */
export const EXPORT_NAME = 'export';

/**
 * A daemon program: $XAPI_SPDK_XENBLKD (xenblkd) or $XAPI_SPDK_XENBLKD_SPDK
 * (xenblkd-spdk), beside the program (installed), or the checkout's native build.
 */
export function xenblkdPath(exe: 'xenblkd' | 'xenblkd-spdk' = EXE): string {
  const candidates = [
    exe === EXE ? process.env.XAPI_SPDK_XENBLKD : process.env.XAPI_SPDK_XENBLKD_SPDK,
    path.join(__dirname, exe),
    path.join(__dirname, '..', 'native', 'build', exe),
    path.join(__dirname, '..', '..', 'native', 'build', exe),
  ].filter((p): p is string => !!p);
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new ShimError(`${exe} not found (looked in ${candidates.join(', ')})${exe === EXE ? '' : ': it is built only where SPDK is installed (docs/spdk.md)'}`);
  return found;
}

export interface DiskInfo {
  name: string;
  backend: string;
  paused: boolean;
  connected: boolean;
  [k: string]: unknown;
}

export function rpc<T = unknown>(p: VolumePaths, method: string, params: object = {}, timeoutMs?: number): T {
  return callDaemon<T>(p.control, method, params, timeoutMs);
}

/** The daemon's disks, or undefined when no daemon answers on the socket. */
export function listDisks(p: VolumePaths): DiskInfo[] | undefined {
  if (!fs.existsSync(p.control)) return undefined;
  try {
    return rpc<DiskInfo[]>(p, 'disk_list', {}, 5_000);
  } catch (e) {
    if (e instanceof ShimError) return undefined;
    throw e;
  }
}

/**
 * Daemons started for this control socket, whatever our state says: one whose
 * starter was killed while it was still getting ready has no socket yet and
 * no recorded pid, and must not be left running beside a new one.
 */
export function daemonsOn(control: string, exe: string = EXE): number[] {
  const found: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone
    }
    const at = argv.indexOf('--socket');
    if (path.basename(argv[0]) === exe && at > 0 && argv[at + 1] === control) found.push(Number(name));
  }
  return found;
}

export const daemonsFor = (p: VolumePaths): number[] => daemonsOn(p.control);

function stopStrays(control: string, exe: string): void {
  for (const pid of daemonsOn(control, exe)) {
    try {
      if (stopDaemon(pid, 5_000) === 'killed') log.warning(`${exe} ${pid} had to be killed`);
    } catch (e) {
      log.warning(`stopping ${exe} ${pid}: ${(e as Error).message}`);
    }
  }
}

/** Whether a daemon answers on the control socket. */
export function answers(control: string): boolean {
  if (!fs.existsSync(control)) return false;
  try {
    callDaemon(control, 'disk_list', {}, 5_000);
    return true;
  } catch (e) {
    if (e instanceof ShimError) return false;
    throw e;
  }
}

/** Stops the daemon on `control`, politely first, and any stray one started for it; never throws. */
export function stopDaemonOn(control: string, pid: number | undefined, exe: string = EXE): void {
  try {
    if (answers(control)) callDaemon(control, 'shutdown', {}, 5_000);
  } catch (e) {
    log.warning(`shutdown of the daemon on ${control} failed: ${(e as Error).message}`);
  }
  // A recorded pid is ours only while it still runs the program (pids get reused).
  if (pid && daemonAlive(pid, exe)) {
    try {
      if (stopDaemon(pid, 10_000) === 'killed') log.warning(`${exe} ${pid} had to be killed`);
    } catch (e) {
      log.warning(`stopping ${exe} ${pid}: ${(e as Error).message}`);
    }
  }
  // Any other daemon for this socket (started by a call killed before it recorded the pid).
  stopStrays(control, exe);
}

/** Starts a daemon serving the image over NBD; returns its pid. */
export function startBackend(p: VolumePaths, image: string, readOnly: boolean): number {
  stopStrays(p.control, EXE);
  // A killed daemon's sockets would be in the way.
  fs.rmSync(p.control, { force: true });
  fs.rmSync(p.nbd, { force: true });
  fs.mkdirSync(path.dirname(p.log), { recursive: true });
  const exportDisk = { name: EXPORT_NAME, path: image, readonly: readOnly, nbd_socket: p.nbd };
  const args = ['--socket', p.control, '--platform', config().platform, '--disk', JSON.stringify(exportDisk)];
  const pid = startDaemon(xenblkdPath(), args, p.log, config().daemonStartMs);
  log.info(`started ${EXE} ${pid} for ${image} (log ${p.log})`);
  return pid;
}

/** Stops the volume's daemon, politely first; never throws. */
export function stopBackend(p: VolumePaths, pid: number | undefined): void {
  stopDaemonOn(p.control, pid);
}
