// Volumes of a file SR: sparse raw files with a JSON sidecar. Creation writes
// the image under tmp/ (locked), moves it into volumes/, then commits by
// writing the metadata; destruction removes the metadata first. A process
// killed anywhere leaves at most an unlocked image without metadata, which
// collectOrphans() removes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errors, fromSystemError } from '../../wire/errors';
import type { Volume } from '../../wire/schemas';
import { readJson, writeJsonAtomic, fsyncDir } from '../../util/atomic';
import { lockFile, tryLockFile, withLock, type Lock } from '../../util/lock';
import { log } from '../../util/log';
import { copyImage } from './copy';
import { SrLayout } from './layout';

/** What the sidecar holds; sizes come from the image itself. */
export interface VolumeMetadata {
  format: 1;
  key: string;
  uuid: string;
  name: string;
  description: string;
  read_write: boolean;
  sharable: boolean;
  keys: Record<string, string>;
  /** Key of the volume this one was snapshotted or cloned from. */
  parent?: string;
  created: string;
}

// node:crypto loads on use: read-only calls don't need it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const randomUUID = () => (require('node:crypto') as typeof import('node:crypto')).randomUUID();

/** Sizes are rounded up to whole 4 KiB blocks (the SPDK lvol block size too). */
export const SIZE_ALIGNMENT = 4096;
const VOLUME_KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function roundUpSize(size: number): number {
  const rounded = Math.ceil(size / SIZE_ALIGNMENT) * SIZE_ALIGNMENT;
  if (!Number.isSafeInteger(rounded)) throw errors.invalidSize(`size ${size} is too large`);
  return rounded;
}

/** Takes the SR's shared lock: volume operations run in parallel, SR.destroy waits. */
export function withSr<T>(layout: SrLayout, body: () => T): T {
  const lock = lockFile(layout.lockFile, 'shared', { what: `SR ${layout.sr}` });
  if (!lock) throw errors.srNotAttached(layout.sr);
  return withLock(lock, body);
}

function checkKey(key: string): void {
  if (!VOLUME_KEY.test(key) || key.includes('..')) throw errors.volumeDoesNotExist(key);
}

function readMetadata(layout: SrLayout, key: string): VolumeMetadata {
  checkKey(key);
  const meta = readJson<VolumeMetadata>(layout.volumeMetadata(key));
  if (!meta) throw errors.volumeDoesNotExist(key);
  return meta;
}

function toVolume(layout: SrLayout, meta: VolumeMetadata): Volume {
  let st: fs.Stats;
  try {
    st = fs.statSync(layout.image(meta.key));
  } catch {
    throw errors.volumeDoesNotExist(meta.key);
  }
  return {
    key: meta.key,
    uuid: meta.uuid,
    name: meta.name,
    description: meta.description,
    read_write: meta.read_write,
    sharable: meta.sharable,
    virtual_size: st.size,
    physical_utilisation: st.blocks * 512,
    uri: [layout.uri(meta.key)],
    keys: { ...meta.keys },
  };
}

export function statVolume(layout: SrLayout, key: string): Volume {
  return toVolume(layout, readMetadata(layout, key));
}

export function listVolumes(layout: SrLayout): Volume[] {
  const volumes: Volume[] = [];
  for (const name of fs.readdirSync(layout.volumesDir).sort()) {
    if (!name.endsWith('.json') || name.startsWith('.')) continue;
    const key = name.slice(0, -'.json'.length);
    try {
      volumes.push(statVolume(layout, key));
    } catch (e) {
      // Destroyed between readdir and stat: not listed.
      if (!(e instanceof Error && /Volume_does_not_exist/.test(e.message))) throw e;
    }
  }
  return volumes;
}

/** Locks a volume for a metadata change or its destruction; undefined when it does not exist. */
function lockVolume(layout: SrLayout, key: string, mode: 'shared' | 'exclusive'): Lock | undefined {
  checkKey(key);
  return lockFile(layout.image(key), mode, { what: `volume ${key}` });
}

function updateMetadata(layout: SrLayout, key: string, change: (meta: VolumeMetadata) => void): void {
  withSr(layout, () => {
    const lock = lockVolume(layout, key, 'exclusive');
    if (!lock) throw errors.volumeDoesNotExist(key);
    withLock(lock, () => {
      const meta = readMetadata(layout, key);
      change(meta);
      try {
        writeJsonAtomic(layout.volumeMetadata(key), meta, layout.tmpDir);
      } catch (e) {
        throw fromSystemError(e, `updating the metadata of volume ${key}`);
      }
    });
  });
}

/**
 * Makes a new volume: `fill` writes the image at the given (locked, empty)
 * path; then the image is moved in and the metadata committed.
 */
function newVolume(layout: SrLayout, meta: Omit<VolumeMetadata, 'key' | 'uuid' | 'created' | 'format'>, fill: (image: string) => void): Volume {
  // Between the file's creation and its lock, a concurrent collectOrphans
  // (SR.ls, SR.attach) may take it for an orphan and remove it: the lock then
  // fails, and we start again under a new key.
  let key = '';
  let tmp = '';
  let lock: Lock | undefined;
  for (let attempt = 0; !lock; attempt++) {
    if (attempt === 10) throw errors.busy(`new image ${tmp} was removed while being created`);
    key = randomUUID();
    tmp = layout.tmpImage(key);
    try {
      fs.closeSync(fs.openSync(tmp, 'wx', 0o600));
    } catch (e) {
      throw fromSystemError(e, `creating volume ${key}`); // a full XFS has no inode for it
    }
    lock = tryLockFile(tmp, 'exclusive');
  }
  try {
    fill(tmp);
    fs.fsyncSync(lock.fd);
    fs.renameSync(tmp, layout.image(key));
    fsyncDir(layout.volumesDir);
    const full: VolumeMetadata = { format: 1, key, uuid: key, created: new Date().toISOString(), ...meta };
    writeJsonAtomic(layout.volumeMetadata(key), full, layout.tmpDir);
    return toVolume(layout, full);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    fs.rmSync(layout.image(key), { force: true });
    throw fromSystemError(e, `creating volume ${key}`);
  } finally {
    lock.release();
  }
}

export function createVolume(layout: SrLayout, name: string, description: string, size: number, sharable: boolean): Volume {
  const virtualSize = roundUpSize(size);
  return withSr(layout, () =>
    newVolume(layout, { name, description, read_write: true, sharable, keys: {} }, (image) => {
      fs.truncateSync(image, virtualSize);
    }),
  );
}

/** Snapshot (read-only) or clone (writable) of any volume; keys are not copied. */
export function copyVolume(layout: SrLayout, key: string, readWrite: boolean): Volume {
  return withSr(layout, () => {
    const source = lockVolume(layout, key, 'shared');
    if (!source) throw errors.volumeDoesNotExist(key);
    return withLock(source, () => {
      const meta = readMetadata(layout, key);
      return newVolume(
        layout,
        { name: meta.name, description: meta.description, read_write: readWrite, sharable: meta.sharable, keys: {}, parent: key },
        (image) => {
          const kind = copyImage(layout.image(key), image);
          log.info(`${readWrite ? 'clone' : 'snapshot'} of ${key} by ${kind === 'reflink' ? 'reflink' : 'full copy'}`);
        },
      );
    });
  });
}

export function destroyVolume(layout: SrLayout, key: string): void {
  withSr(layout, () => {
    const lock = lockVolume(layout, key, 'exclusive');
    if (!lock) return; // already gone: destroy is idempotent
    withLock(lock, () => {
      fs.rmSync(layout.volumeMetadata(key), { force: true });
      fsyncDir(layout.volumesDir);
      fs.rmSync(layout.image(key), { force: true });
    });
  });
}

export function resizeVolume(layout: SrLayout, key: string, newSize: number): void {
  const target = roundUpSize(newSize);
  withSr(layout, () => {
    const lock = lockVolume(layout, key, 'exclusive');
    if (!lock) throw errors.volumeDoesNotExist(key);
    withLock(lock, () => {
      const meta = readMetadata(layout, key);
      if (!meta.read_write) throw errors.readOnly(key);
      const current = fs.fstatSync(lock.fd).size;
      if (target < current) throw errors.invalidSize(`shrinking not allowed (${current} bytes to ${newSize})`);
      if (target === current) return;
      try {
        fs.truncateSync(layout.image(key), target);
      } catch (e) {
        throw fromSystemError(e, `resizing volume ${key}`);
      }
      log.info(`volume ${key} grown from ${current} to ${target} bytes`);
    });
  });
}

export const setVolumeName = (layout: SrLayout, key: string, name: string) => updateMetadata(layout, key, (m) => void (m.name = name));
export const setVolumeDescription = (layout: SrLayout, key: string, d: string) => updateMetadata(layout, key, (m) => void (m.description = d));
export const setVolumeKey = (layout: SrLayout, key: string, k: string, v: string) => updateMetadata(layout, key, (m) => void (m.keys[k] = v));
export const unsetVolumeKey = (layout: SrLayout, key: string, k: string) => updateMetadata(layout, key, (m) => void delete m.keys[k]);

/** Metadata temporaries are named .<target>.<pid>.<n>.tmp (see writeFileAtomic). */
function writerAlive(file: string): boolean {
  const pid = Number(/\.(\d+)\.\d+\.tmp$/.exec(file)?.[1]);
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes what killed processes left: temporaries in tmp/ and images without
 * metadata, provided nobody holds their lock (their creator would).
 */
export function collectOrphans(layout: SrLayout): number {
  let removed = 0;
  const candidates = [
    ...fs.readdirSync(layout.tmpDir).map((n) => path.join(layout.tmpDir, n)),
    ...fs
      .readdirSync(layout.volumesDir)
      .filter((n) => n.endsWith('.img') && !fs.existsSync(layout.volumeMetadata(n.slice(0, -4))))
      .map((n) => path.join(layout.volumesDir, n)),
  ];
  for (const file of candidates) {
    const lock = file.endsWith('.img') ? tryLockFile(file, 'exclusive') : undefined;
    if (file.endsWith('.img') && !lock) continue; // being created right now
    try {
      // Re-check under the lock: a creator may have committed meanwhile.
      if (path.dirname(file) === layout.volumesDir && fs.existsSync(layout.volumeMetadata(path.basename(file, '.img')))) continue;
      if (!lock && writerAlive(file)) continue; // a metadata temporary in flight
      fs.rmSync(file, { force: true });
      removed++;
      log.warning(`removed orphan ${file}`);
    } catch {
      // Someone else removed it first.
    } finally {
      lock?.release();
    }
  }
  return removed;
}
