// Datapath.* for volumes of the SPDK store: the SR's one daemon serves every
// attached volume, so attach adds disks to it rather than starting one. Per
// volume: an NBD-only disk named <key> (dom0's users, HVM boot) while any
// domain has it attached, and one disk <key>@dom<domid> per guest, claiming
// the guest's qdisk backend entry, paused until activate. Counting by
// (uri, domain), locking and the runtime state are the file store's
// (state.ts); the daemon is the SR's (store/spdk/daemon.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJson } from '../util/atomic';
import { log } from '../util/log';
import { tryLockFile, withLock } from '../util/lock';
import { errors } from '../wire/errors';
import type { Backend } from '../wire/schemas';
import { deviceOf } from '../store/spdk/device';
import { ensureRunning, servedDisks, withDevice, type SrDaemonPaths, daemonPaths } from '../store/spdk/daemon';
import { findStore, lvolsOf, type Lvol } from '../store/spdk/lvstore';
import { hides, load, type SrRecord } from '../store/spdk/metadata';
import { lvolTargetOf, type LvolTarget } from '../store/spdk/target';
import { callDaemon } from './shim';
import { dropSavedContents, keepContents, resetContents } from './lvol-reset';
import { backendOf, guestDomid } from './lifecycle';
import { addAttachment, datapathDir, loadState, pathsOf, saveState, storeState, withVolumeLock, type VolumePaths, type VolumeState } from './state';

const IMAGE_PREFIX = 'lvol:';
const guestDisk = (key: string, domid: number) => `${key}@dom${domid}`;

interface Served {
  t: LvolTarget;
  lvol: Lvol;
  daemon: SrDaemonPaths;
  /** The SR's names, as read with the lock held. */
  record: SrRecord;
  /** disk_add's parameters for the volume's lvol on this SR. */
  engine: { engine: 'spdk'; path: string; readonly: boolean; flush_nvme?: string };
}

/** The volume's lvol, with the SR's daemon running (restarted if it died; then every volume's disks come back). */
function serve(t: LvolTarget): Served {
  const device = deviceOf(t.configuration);
  let started = false;
  const served = withDevice(device, (daemon) => {
    started = ensureRunning(device, daemon);
    const store = findStore(daemon, t.srUuid);
    if (!store) throw errors.srDoesNotExist(`SR ${t.srUuid} is gone from ${device.label}`);
    const record = load({ uuid: t.srUuid, device, p: daemon, store });
    const lvol = hides(record, t.key) ? undefined : lvolsOf(daemon, store).get(t.key);
    if (!lvol) throw errors.volumeDoesNotExist(t.key);
    const engine = { engine: 'spdk' as const, path: lvol.alias, readonly: lvol.readOnly, ...(device.flushNvme ? { flush_nvme: device.flushNvme } : {}) };
    return { t, lvol, daemon, record, engine };
  });
  if (started) restoreDisks(t.srUuid, t.key);
  return served;
}

function call(s: Served, method: string, params: object): unknown {
  return callDaemon(s.daemon.control, method, params);
}

/** Adds whatever of the volume's disks the daemon lacks: the NBD export, and each attached guest's. */
function ensureDisks(s: Served, p: VolumePaths, st: VolumeState): void {
  const have = new Set((servedDisks(s.daemon) ?? []).map((d) => d.name));
  if (!have.has(s.t.key)) fs.rmSync(p.nbd, { force: true }); // a dead daemon's socket
  if (!have.has(s.t.key)) call(s, 'disk_add', { name: s.t.key, ...s.engine, nbd_socket: p.nbd });
  for (const a of st.attachments) {
    const domid = guestDomid(a.domain);
    if (domid === undefined || have.has(guestDisk(s.t.key, domid))) continue;
    call(s, 'disk_add', { name: guestDisk(s.t.key, domid), ...s.engine, claim: { domid, value: p.id }, paused: !a.active });
  }
}

function removeDisk(s: Served, name: string): void {
  if ((servedDisks(s.daemon) ?? []).some((d) => d.name === name)) call(s, 'disk_remove', { name });
}

function onVolume<R>(uri: string, body: (t: LvolTarget, p: VolumePaths, st: VolumeState) => R, t = lvolTargetOf(uri)): R {
  const image = `${IMAGE_PREFIX}${t.srUuid}/${t.key}`;
  const p = pathsOf(image);
  return withVolumeLock(p, () => body(t, p, loadState(p, uri, image)));
}

export function attach(uri: string, domain: string): Backend {
  guestDomid(domain);
  const { p, key } = onVolume(uri, (t, p, st) => {
    const s = serve(t);
    try {
      addAttachment(p, st, domain, () => ensureDisks(s, p, st), () => removeDisk(s, t.key));
    } catch (e) {
      throw errors.io(`cannot serve ${t.key}: ${(e as Error).message}`);
    }
    return { p, key: t.key };
  });
  return backendOf(p, key); // the export is named after its disk, the volume's key
}

export function activate(uri: string, domain: string): void {
  const domid = guestDomid(domain);
  onVolume(uri, (t, p, st) => {
    const a = st.attachments.find((x) => x.domain === domain);
    if (!a) throw errors.notAttached(`${uri} is not attached to domain ${domain}`);
    if (a.active) return;
    const s = serve(t);
    // The drive is local: a writable, non-sharable volume is active for one domain of this host at a time.
    const others = st.attachments.filter((x) => x.active && x.domain !== domain).map((x) => x.domain);
    const sharable = s.record.volumes[t.key]?.sharable ?? false;
    if (others.length && !sharable && !s.lvol.readOnly) throw errors.vdiInUse(`volume ${t.key} is active for domain ${others.join(', ')}`);
    ensureDisks(s, p, st);
    if (domid !== undefined) call(s, 'disk_resume', { name: guestDisk(t.key, domid) });
    a.active = true;
    saveState(p, st);
  });
}

export function deactivate(uri: string, domain: string): void {
  const domid = guestDomid(domain);
  onVolume(uri, (t, p, st) => {
    const a = st.attachments.find((x) => x.domain === domain);
    if (!a || !a.active) return;
    const s = serve(t);
    if (domid !== undefined && (servedDisks(s.daemon) ?? []).some((d) => d.name === guestDisk(t.key, domid))) call(s, 'disk_pause', { name: guestDisk(t.key, domid) });
    a.active = false;
    saveState(p, st);
  });
}

/** Releases what the domain held; never fails (the IDL calls any error a bug). */
export function detach(uri: string, domain: string): void {
  let target: LvolTarget;
  let domid: number | undefined;
  try {
    target = lvolTargetOf(uri);
    domid = guestDomid(domain);
  } catch (e) {
    log.warning(`detach of ${uri} for domain ${domain}: nothing to do (${(e as Error).message})`);
    return;
  }
  onVolume(
    uri,
    (t, p, st) => {
      st.attachments = st.attachments.filter((x) => x.domain !== domain);
      try {
        const daemon = daemonPaths(deviceOf(t.configuration));
        const have = (servedDisks(daemon) ?? []).map((d) => d.name);
        const gone = [...(domid !== undefined ? [guestDisk(t.key, domid)] : []), ...(st.attachments.length === 0 ? [t.key] : [])];
        for (const name of gone.filter((n) => have.includes(n))) callDaemon(daemon.control, 'disk_remove', { name });
      } catch (e) {
        log.error(`detach: removing ${t.key}'s disks for domain ${domain}: ${(e as Error).message}`);
      }
      storeState(p, st);
    },
    target,
  );
}

export function open(uri: string, persistent: boolean): void {
  onVolume(uri, (t, p, st) => {
    if (persistent) {
      dropSavedContents(t);
      st.nonPersistent = undefined;
    } else {
      keepContents(t, st.nonPersistent === true);
      st.nonPersistent = true;
    }
    storeState(p, st);
  });
}

export function close(uri: string): void {
  onVolume(uri, (t, p, st) => {
    if (st.attachments.some((a) => a.active)) throw errors.vdiInUse(`${t.key} is still active for domain ${st.attachments.filter((a) => a.active).map((a) => a.domain).join(', ')}`);
    if (st.attachments.length) throw errors.vdiInUse(`${t.key} is still attached to domain ${st.attachments.map((a) => a.domain).join(', ')}`);
    resetContents(t);
    st.nonPersistent = undefined;
    storeState(p, st);
  });
}

/** After Volume.resize: the daemon re-reads the lvol's size for the volume's disks. Never fails. */
export function resized(uri: string): void {
  try {
    const t = lvolTargetOf(uri);
    const daemon = daemonPaths(deviceOf(t.configuration));
    for (const d of servedDisks(daemon) ?? []) {
      if (d.name === t.key || d.name.startsWith(`${t.key}@`)) callDaemon(daemon.control, 'disk_resize', { name: d.name });
    }
  } catch (e) {
    log.error(`volume ${uri} was resized, but its backend could not be told: ${(e as Error).message}`);
  }
}

/**
 * After the SR's daemon was restarted: every volume of the SR attached here
 * gets its disks back. A volume whose lock is held is skipped: the call
 * holding it is already serving it.
 */
export function restoreDisks(srUuid: string, except?: string): void {
  const dir = datapathDir();
  if (!fs.existsSync(dir)) return;
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.json'))) {
    const st = readJson<VolumeState>(path.join(dir, f));
    if (!st?.image.startsWith(`${IMAGE_PREFIX}${srUuid}/`) || st.image.endsWith(`/${except}`)) continue;
    const p = pathsOf(st.image);
    const lock = tryLockFile(p.lock, 'exclusive');
    if (!lock) continue;
    withLock(lock, () => {
      try {
        const now = loadState(p, st.uri, st.image);
        if (now.attachments.length) ensureDisks(serve(lvolTargetOf(st.uri)), p, now);
      } catch (e) {
        log.error(`restoring the disks of ${st.uri}: ${(e as Error).message}`);
      }
    });
  }
}
