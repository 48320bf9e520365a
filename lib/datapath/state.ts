// The datapath's per-volume runtime state, under <run dir>/datapath/:
//   <id>.json     which domains have the volume attached and active, the daemon's pid
//   <id>.lock     serialises every datapath call on the volume (flock)
//   <id>.control  the daemon's control socket; <id>.nbd its NBD export
// The run directory is tmpfs on XCP-ng, so a host reboot starts afresh; a
// state written in another boot is ignored all the same.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJson, writeJsonAtomic } from '../util/atomic';
import { config } from '../util/config';
import { lockFile } from '../util/lock';
import { bootId } from './host';

export interface Attachment {
  /** As xapi passes it: a guest's domid ("7"), or dom0's "0" (8.2) / "u0-..." (8.3). */
  domain: string;
  active: boolean;
}

export interface VolumeState {
  format: 1;
  uri: string;
  image: string;
  boot: string;
  /** The backend daemon serving the volume, while one runs. */
  pid?: number;
  /** Opened with persistent=false: writes are thrown away at close. */
  nonPersistent?: boolean;
  attachments: Attachment[];
}

export interface VolumePaths {
  id: string;
  state: string;
  lock: string;
  control: string;
  nbd: string;
  log: string;
}

export function datapathDir(): string {
  return path.join(config().runDir, 'datapath');
}

/** Names derive from the image path: short enough for socket paths, stable across calls. */
export function pathsOf(image: string): VolumePaths {
  const id = createHash('sha256').update(image).digest('hex').slice(0, 20);
  const dir = datapathDir();
  return {
    id,
    state: path.join(dir, `${id}.json`),
    lock: path.join(dir, `${id}.lock`),
    control: path.join(dir, `${id}.control`),
    nbd: path.join(dir, `${id}.nbd`),
    log: path.join(config().daemonLogDir, `${id}.log`),
  };
}

export function loadState(p: VolumePaths, uri: string, image: string): VolumeState {
  const st = readJson<VolumeState>(p.state);
  if (st && st.format === 1 && st.boot === bootId() && st.image === image) return st;
  return { format: 1, uri, image, boot: bootId(), attachments: [] };
}

export function saveState(p: VolumePaths, st: VolumeState): void {
  writeJsonAtomic(p.state, st);
}

/** Saves the state, or forgets the volume when there is nothing left to remember. */
export function storeState(p: VolumePaths, st: VolumeState): void {
  if (st.attachments.length === 0 && !st.nonPersistent) removeState(p);
  else saveState(p, st);
}

/**
 * Records the domain's attachment (if new), then runs `serve`. Should that
 * fail, a new attachment is forgotten again (and `whenNoneLeft` runs if no
 * domain is left) before the error goes on.
 */
export function addAttachment(p: VolumePaths, st: VolumeState, domain: string, serve: () => void, whenNoneLeft: () => void): void {
  const added = !st.attachments.some((a) => a.domain === domain);
  if (added) st.attachments.push({ domain, active: false });
  saveState(p, st);
  try {
    serve();
  } catch (e) {
    if (added) st.attachments = st.attachments.filter((a) => a.domain !== domain);
    if (st.attachments.length === 0) whenNoneLeft();
    storeState(p, st);
    throw e;
  }
}

/** Forgets the volume: its state and the sockets a killed daemon left (the lock file goes on release). */
export function removeState(p: VolumePaths): void {
  for (const f of [p.state, p.control, p.nbd]) fs.rmSync(f, { force: true });
}

/** State temporaries of writers that died mid-write: only lock holders write, so any found under the lock is stale. */
function removeTemporaries(p: VolumePaths): void {
  const dir = path.dirname(p.state);
  const prefix = `.${path.basename(p.state)}.`;
  for (const f of fs.readdirSync(dir)) if (f.startsWith(prefix) && f.endsWith('.tmp')) fs.rmSync(path.join(dir, f), { force: true });
}

/** Runs body holding the volume's datapath lock. */
export function withVolumeLock<T>(p: VolumePaths, body: () => T): T {
  fs.mkdirSync(path.dirname(p.lock), { recursive: true, mode: 0o700 });
  for (;;) {
    const lock = lockFile(p.lock, 'exclusive', { create: true, what: `the datapath of ${p.id}` });
    // undefined: the last detach removed the lock file while we waited; take a new one.
    if (!lock) continue;
    try {
      removeTemporaries(p);
      return body();
    } finally {
      // No state, no lock file: nothing is left once a volume is forgotten (waiters see it unlinked and retry).
      if (!fs.existsSync(p.state)) fs.rmSync(p.lock, { force: true });
      lock.release();
    }
  }
}
