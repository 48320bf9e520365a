// Datapath.open/attach/activate/deactivate/detach/close (reference 3.5) for
// the file store. Everything is counted by (uri, domain); every call holds
// the volume's datapath lock, is idempotent, and leaves the runtime state
// consistent if the plugin is killed at any point (the daemon is found by
// its socket, the state is written before the daemon starts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJson } from '../util/atomic';
import { errors } from '../wire/errors';
import type { Backend } from '../wire/schemas';
import { fileTargetOf, type FileTarget } from '../store/file/target';
import { log } from '../util/log';
import { markActive, markInactive } from './activity';
import { daemonsFor, EXPORT_NAME, listDisks, rpc, startBackend, stopBackend, type DiskInfo } from './daemon';
import { dropSavedContents, hasSavedContents, keepContents, resetContents } from './nonpersistent';
import { addAttachment, datapathDir, loadState, pathsOf, saveState, storeState, withVolumeLock, type VolumePaths, type VolumeState } from './state';

/** The sm-data key xenopsd writes from XenDisk.extra and the daemon claims by. */
export const CLAIM_KEY = 'xenblkd-disk';
const MAX_DOMID = 32752;

function targetOf(uri: string): FileTarget {
  const t = fileTargetOf(uri);
  if (!t) throw errors.invalidArguments(`${uri} is not a URI of this plugin`);
  return t;
}

/** A guest's domid, or undefined for dom0's users ("0" on 8.2, "u0-..." on 8.3). */
export function guestDomid(domain: string): number | undefined {
  if (/^u0-/.test(domain)) return undefined;
  if (!/^\d{1,5}$/.test(domain) || Number(domain) > MAX_DOMID) throw errors.invalidArguments(`domain ${JSON.stringify(domain)} is neither a domid nor u0-...`);
  const domid = Number(domain);
  return domid === 0 ? undefined : domid;
}

const diskName = (domid: number) => `dom${domid}`;

/** Adds the guest's disk to the daemon: it claims backend/qdisk/<domid>/* with our sm-data, paused until activate. */
function addGuestDisk(p: VolumePaths, t: FileTarget, domid: number, active: boolean): void {
  rpc(p, 'disk_add', {
    name: diskName(domid),
    path: t.image,
    readonly: t.readOnly,
    claim: { domid, value: p.id },
    paused: !active,
  });
}

/** Makes sure a daemon runs and serves every attached guest (after a crash too). */
function ensureDaemon(p: VolumePaths, st: VolumeState, t: FileTarget): void {
  let disks: DiskInfo[] | undefined = listDisks(p);
  if (disks && daemonsFor(p).length > 1) {
    // Calls killed while starting daemons left two racing for the socket: start over with one.
    log.warning(`more than one daemon for ${t.image}: restarting`);
    disks = undefined;
  }
  if (!disks) {
    if (st.pid) log.warning(`the daemon of ${t.image} (pid ${st.pid}) is gone: starting a new one`);
    stopBackend(p, st.pid); // a hung one that no longer answers
    st.pid = undefined;
    saveState(p, st);
    st.pid = startBackend(p, t.image, t.readOnly);
    saveState(p, st);
    disks = [];
  }
  for (const a of st.attachments) {
    const domid = guestDomid(a.domain);
    if (domid !== undefined && !disks.some((d) => d.name === diskName(domid))) addGuestDisk(p, t, domid, a.active);
  }
}

function shutDown(p: VolumePaths, st: VolumeState): void {
  stopBackend(p, st.pid);
  st.pid = undefined;
  storeState(p, st);
}

/** Runs body on the volume's target, paths and state, holding its datapath lock. */
function onVolume<R>(uri: string, body: (t: FileTarget, p: VolumePaths, st: VolumeState) => R, t = targetOf(uri)): R {
  const p = pathsOf(t.image);
  return withVolumeLock(p, () => body(t, p, loadState(p, uri, t.image)));
}

/** A control call on the guest's disk, when the domain is a guest and the daemon has its disk. */
function guestDiskCall(p: VolumePaths, domain: string, method: string): void {
  const domid = guestDomid(domain);
  if (domid !== undefined && listDisks(p)?.some((d) => d.name === diskName(domid))) rpc(p, method, { name: diskName(domid) });
}

export function attach(uri: string, domain: string): Backend {
  guestDomid(domain); // checks it
  const p = onVolume(uri, (t, p, st) => {
    try {
      addAttachment(p, st, domain, () => ensureDaemon(p, st, t), () => shutDown(p, st));
    } catch (e) {
      throw errors.io(`cannot start the backend for ${t.key}: ${(e as Error).message}`);
    }
    return p;
  });
  return backendOf(p, EXPORT_NAME);
}

/** What attach hands xenopsd: a qdisk device our daemon claims by its sm-data, and the NBD export. */
export function backendOf(p: VolumePaths, exportName: string): Backend {
  return {
    implementations: [
      ['XenDisk', { backend_type: 'qdisk', params: `xenblkd:${p.id}`, extra: { [CLAIM_KEY]: p.id } }],
      ['Nbd', { uri: `nbd:unix:${p.nbd}:exportname=${exportName}` }],
    ],
  };
}

export function activate(uri: string, domain: string): void {
  const domid = guestDomid(domain);
  onVolume(uri, (t, p, st) => {
    const a = st.attachments.find((x) => x.domain === domain);
    if (!a) throw errors.notAttached(`${uri} is not attached to domain ${domain}`);
    if (a.active) return;
    markActive(
      t,
      domain,
      st.attachments.filter((x) => x.active).map((x) => x.domain),
    );
    try {
      ensureDaemon(p, st, t);
      if (domid !== undefined) rpc(p, 'disk_resume', { name: diskName(domid) });
    } catch (e) {
      markInactive(t, domain);
      throw errors.io(`cannot activate ${t.key} for domain ${domain}: ${(e as Error).message}`);
    }
    a.active = true;
    saveState(p, st);
  });
}

/** Stops new I/O for the domain (in-flight requests complete). */
function quiesce(p: VolumePaths, t: FileTarget, domain: string): void {
  guestDiskCall(p, domain, 'disk_pause');
  markInactive(t, domain);
}

export function deactivate(uri: string, domain: string): void {
  guestDomid(domain);
  onVolume(uri, (t, p, st) => {
    const a = st.attachments.find((x) => x.domain === domain);
    if (!a || !a.active) return;
    quiesce(p, t, domain);
    a.active = false;
    saveState(p, st);
  });
}

/** Releases everything the domain held; never fails (the IDL calls any error a bug). */
export function detach(uri: string, domain: string): void {
  let target: FileTarget;
  try {
    target = targetOf(uri);
    guestDomid(domain);
  } catch (e) {
    log.warning(`detach of ${uri} for domain ${domain}: nothing to do (${(e as Error).message})`);
    return;
  }
  onVolume(uri, (t, p, st) => {
    const a = st.attachments.find((x) => x.domain === domain);
    try {
      if (a?.active) quiesce(p, t, domain);
    } catch (e) {
      log.error(`detach: quiescing ${t.key} for domain ${domain}: ${(e as Error).message}`);
    }
    try {
      guestDiskCall(p, domain, 'disk_remove');
    } catch (e) {
      log.error(`detach: removing ${t.key} from domain ${domain}: ${(e as Error).message}`);
    }
    st.attachments = st.attachments.filter((x) => x.domain !== domain);
    if (st.attachments.length === 0) shutDown(p, st);
    else saveState(p, st);
  }, target);
}

export function open(uri: string, persistent: boolean): void {
  onVolume(uri, (t, p, st) => {
    if (persistent) {
      dropSavedContents(t);
      st.nonPersistent = undefined;
    } else {
      if (st.nonPersistent && hasSavedContents(t)) return; // opened already
      if (t.readOnly) return; // nothing can be written to throw away
      keepContents(t);
      st.nonPersistent = true;
    }
    storeState(p, st);
  });
}

export function close(uri: string): void {
  onVolume(uri, (t, p, st) => {
    if (st.attachments.some((a) => a.active)) throw errors.vdiInUse(`${t.key} is still active for domain ${st.attachments.filter((a) => a.active).map((a) => a.domain).join(', ')}`);
    resetContents(t);
    st.nonPersistent = undefined;
    storeState(p, st);
  });
}

/** After Volume.resize: the running guests and the NBD export learn the new size. Never fails. */
export function resized(uri: string): void {
  const t = fileTargetOf(uri);
  if (!t) return;
  const p = pathsOf(t.image);
  if (!fs.existsSync(p.state)) return; // not attached here
  withVolumeLock(p, () => {
    try {
      for (const d of listDisks(p) ?? []) rpc(p, 'disk_resize', { name: d.name });
    } catch (e) {
      log.error(`volume ${t.key} was resized, but its backend could not be told: ${(e as Error).message}`);
    }
  });
}

/** One line per volume this host serves: for Plugin.diagnostics. */
export function describeAttached(): string[] {
  const dir = datapathDir();
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => {
      const st = readJson<VolumeState>(path.join(dir, f));
      if (!st) return `${f}: gone`;
      const who = st.attachments.map((a) => `${a.domain}${a.active ? ' (active)' : ''}`).join(', ') || 'none';
      if (st.image.startsWith('lvol:')) return `${st.uri}: attached to ${who}; served by its SR's SPDK daemon`;
      const p = pathsOf(st.image);
      const running = listDisks(p);
      return `${st.uri}: attached to ${who}; daemon ${running ? `${st.pid ?? '?'} serving ${running.map((d) => d.name).join(', ')}` : 'not running'}${st.nonPersistent ? '; reset on close' : ''}`;
    });
}
