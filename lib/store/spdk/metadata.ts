// What xapi names that SPDK cannot hold: the SR's and its volumes' names,
// descriptions and keys, in <state dir>/spdk/<sr uuid>.json (persistent; the
// run directory is not). The lvol store is the truth for which volumes exist,
// their sizes and which are snapshots; a volume this file does not know is
// listed under its key, and an entry without its lvol is dropped.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as z from 'zod/mini';
import { readJson, writeJsonAtomic } from '../../util/atomic';
import { config } from '../../util/config';
import { log } from '../../util/log';
import { fromSystemError } from '../../wire/errors';
import { HIDDEN_PREFIX, RESET_PREFIX } from './lvstore';

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

/** Lvols no volume needs once at most one clone stands on them: hidden snapshots, destroyed snapshots. */
export function collectible(record: SrRecord, name: string): boolean {
  return name.startsWith(HIDDEN_PREFIX) || (record.destroyed ?? []).includes(name);
}

/** Lvols that are no volumes: those, and the contents a reset-on-boot volume returns to. */
export function hides(record: SrRecord, name: string): boolean {
  return collectible(record, name) || name.startsWith(RESET_PREFIX);
}

function file(uuid: string): string {
  return path.join(config().stateDir, 'spdk', `${uuid}.json`);
}

/** The SR's record; a fresh one when there is none or it is damaged (the lvol store still holds the data). */
export function load(uuid: string): SrRecord {
  let raw: unknown;
  try {
    raw = readJson<unknown>(file(uuid));
  } catch (e) {
    log.warning(`${file(uuid)}: ${(e as Error).message}: volume names are lost, the volumes are not`);
  }
  const parsed = raw === undefined ? undefined : SR_RECORD.safeParse(raw);
  if (parsed?.success && parsed.data.uuid === uuid) return parsed.data;
  if (parsed) log.warning(`${file(uuid)} is not this SR's record: starting afresh`);
  return { format: 1, uuid, name: '', description: '', created: new Date().toISOString(), volumes: {} };
}

/** Saves the record atomically (call holding the device lock). */
export function save(record: SrRecord): void {
  fs.mkdirSync(path.dirname(file(record.uuid)), { recursive: true, mode: 0o700 });
  try {
    writeJsonAtomic(file(record.uuid), record);
  } catch (e) {
    throw fromSystemError(e, `saving the metadata of SR ${record.uuid}`);
  }
}

export function remove(uuid: string): void {
  fs.rmSync(file(uuid), { force: true });
}
