// What xapi names that SPDK cannot hold: the SR's and its volumes' names,
// descriptions and keys. They live in the lvol store itself, so they go
// wherever the drive goes (a reinstalled dom0, another host): a thick lvol
// `xapi-meta` (META_LVOL) holds the record as JSON, in two CRC-checked slots
// that the SR's daemon writes in turn and flushes (meta_read/meta_write,
// native/daemon/meta_slots.h), so a write cut short leaves the one before.
// The lvol store is the truth for which volumes exist, their sizes and which
// are snapshots; a volume the record does not know is listed under its key,
// and an entry without its lvol is dropped.
//
// Versions before kept the record in <state dir>/spdk/<sr uuid>.json: such a
// file is moved into the lvol store at first use, then removed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as z from 'zod/mini';
import { readJson } from '../../util/atomic';
import { config } from '../../util/config';
import { log } from '../../util/log';
import { errors } from '../../wire/errors';
import { callDaemon, DaemonRpcError } from '../../datapath/shim';
import type { SrDaemonPaths } from './daemon';
import type { SpdkDevice } from './device';
import { HIDDEN_PREFIX, META_LVOL, META_MIB, RESET_PREFIX, rpc, type LvolStore } from './lvstore';

const VOLUME_RECORD = z.object({
  uuid: z.string(),
  name: z.string(),
  description: z.string(),
  sharable: z.boolean(),
  keys: z.record(z.string(), z.string()),
  parent: z.optional(z.string()),
  created: z.string(),
});

const SR_RECORD = z.object({
  format: z.literal(1),
  uuid: z.string(),
  name: z.string(),
  description: z.string(),
  created: z.string(),
  volumes: z.record(z.string(), VOLUME_RECORD),
  /** Destroyed snapshots SPDK keeps because two volumes still stand on them (it cannot rename a snapshot). */
  destroyed: z.optional(z.array(z.string())),
});

export type VolumeRecord = z.infer<typeof VOLUME_RECORD>;
export type SrRecord = z.infer<typeof SR_RECORD>;

/** An SR whose daemon runs, with its device's lock held: what reading and writing its record needs. */
export interface SrHandle {
  uuid: string;
  device: SpdkDevice;
  p: SrDaemonPaths;
  store: LvolStore;
}

/**
 * The record travels in one control-socket message (at most 1 MiB, JSON-escaped):
 * a few thousand volumes. Beyond this, a change is refused rather than lost.
 */
const MAX_RECORD_BYTES = 900 * 1024;

/** Lvols no volume needs once at most one clone stands on them: hidden snapshots, destroyed snapshots. */
export function collectible(record: SrRecord, name: string): boolean {
  return name.startsWith(HIDDEN_PREFIX) || (record.destroyed ?? []).includes(name);
}

/** Lvols that are no volumes: those, and the contents a reset-on-boot volume returns to. */
export function hides(record: SrRecord, name: string): boolean {
  return collectible(record, name) || name.startsWith(RESET_PREFIX);
}

function legacyFile(uuid: string): string {
  return path.join(config().stateDir, 'spdk', `${uuid}.json`);
}

const fresh = (uuid: string): SrRecord => ({ format: 1, uuid, name: '', description: '', created: new Date().toISOString(), volumes: {} });

/** Only a write flushes: a read does without the NVMe queue pair flush_nvme costs the daemon to open. */
function metaParams(h: SrHandle, writing: boolean): object {
  return { engine: 'spdk', path: `${h.store.name}/${META_LVOL}`, ...(writing && h.device.flushNvme ? { flush_nvme: h.device.flushNvme } : {}) };
}

class NoMetaLvol extends Error {}

function metaCall<T>(h: SrHandle, method: string, extra: object = {}): T {
  try {
    return callDaemon<T>(h.p.control, method, { ...metaParams(h, method === 'meta_write'), ...extra }, 30_000);
  } catch (e) {
    if (e instanceof DaemonRpcError && /no such SPDK bdev/.test(e.message)) throw new NoMetaLvol();
    throw errors.io(`the names of SR ${h.uuid} (lvol ${META_LVOL}): ${(e as Error).message}`);
  }
}

/** A record as read: this SR's, or undefined (with a warning) when it is damaged or another's. */
function parse(uuid: string, text: string, where: string): SrRecord | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    log.warning(`${where}: ${(e as Error).message}: volume names are lost, the volumes are not`);
    return undefined;
  }
  const parsed = SR_RECORD.safeParse(raw);
  if (parsed.success && parsed.data.uuid === uuid) return parsed.data;
  log.warning(`${where} is not this SR's record: starting afresh`);
  return undefined;
}

/** The record a version before this one left in the state directory, if any. */
function readLegacy(uuid: string): SrRecord | undefined {
  let raw: unknown;
  try {
    raw = readJson<unknown>(legacyFile(uuid));
  } catch (e) {
    log.warning(`${legacyFile(uuid)}: ${(e as Error).message}`);
  }
  return raw === undefined ? undefined : parse(uuid, JSON.stringify(raw), legacyFile(uuid));
}

/** The SR's record; a fresh one when there is none or it is damaged (the lvol store still holds the data). */
export function load(h: SrHandle): SrRecord {
  let stored: { generation: number; data: string | null };
  try {
    stored = metaCall(h, 'meta_read');
  } catch (e) {
    if (!(e instanceof NoMetaLvol)) throw e;
    stored = { generation: 0, data: null };
  }
  if (stored.data !== null) return parse(h.uuid, stored.data, `SR ${h.uuid}'s lvol ${META_LVOL}`) ?? fresh(h.uuid);
  const legacy = readLegacy(h.uuid);
  if (!legacy) return fresh(h.uuid);
  try {
    save(h, legacy);
    fs.rmSync(legacyFile(h.uuid), { force: true });
    log.info(`SR ${h.uuid}: the volume names moved from ${legacyFile(h.uuid)} into lvol ${META_LVOL}`);
  } catch (e) {
    log.warning(`SR ${h.uuid}: cannot move the volume names into the lvol store yet: ${(e as Error).message}`);
  }
  return legacy;
}

/** Saves the record, durably and atomically; the first save makes the lvol (call holding the device lock). */
export function save(h: SrHandle, record: SrRecord): void {
  const data = JSON.stringify(record);
  if (Buffer.byteLength(data) > MAX_RECORD_BYTES) throw errors.noSpace(`SR ${h.uuid}: the volume names take more than ${MAX_RECORD_BYTES} bytes`);
  try {
    metaCall(h, 'meta_write', { data });
  } catch (e) {
    if (!(e instanceof NoMetaLvol)) throw e;
    rpc(h.p, 'bdev_lvol_create', { lvs_name: h.store.name, lvol_name: META_LVOL, size_in_mib: META_MIB, thin_provision: false, clear_method: 'unmap' });
    metaCall(h, 'meta_write', { data });
  }
}

/** Forgets what a version before this one kept outside the lvol store (SR.destroy; the store takes its lvol). */
export function removeLegacy(uuid: string): void {
  fs.rmSync(legacyFile(uuid), { force: true });
}
