// The file store: an SR is a directory on a local filesystem, either inside
// an existing directory (device-config:path) or the root of an XFS filesystem
// the plugin makes on a block device (device-config:device).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as z from 'zod/mini';
import { errors, fromSystemError } from '../../wire/errors';
import type { ProbeResult, SrStat } from '../../wire/schemas';
import { readJson, writeJsonAtomic } from '../../util/atomic';
import { config } from '../../util/config';
import { lockFile, withLock } from '../../util/lock';
import { log } from '../../util/log';
import { registry } from '../registry';
import type { Configuration, VolumeStore } from '../types';
import * as device from './device';
import { checkName, SrLayout } from './layout';
import * as volumes from './volumes';

type Backing = { kind: 'path'; path: string } | { kind: 'device'; device: string };

interface SrMetadata {
  format: 1;
  uuid: string;
  name: string;
  description: string;
  backing: Backing;
  created: string;
}

/** The configuration keys of this store, as Plugin.Query describes them. */
export const FILE_STORE_CONFIGURATION: Configuration = {
  path: 'An existing directory on a local filesystem; the SR is made in <path>/<sr uuid>',
  device: 'A block device (/dev/...) to format as XFS with reflink for the SR',
  force: 'true to format a device that already holds a filesystem or partition table',
};

function backingOf(configuration: Configuration): Backing {
  const { path: dir, device: dev } = configuration;
  if (dir !== undefined && dev !== undefined) throw errors.invalidConfiguration('give either device-config:path or device-config:device, not both');
  if (dir !== undefined) {
    if (!path.isAbsolute(dir)) throw errors.invalidConfiguration(`path ${dir} is not absolute`);
    return { kind: 'path', path: path.resolve(dir) };
  }
  if (dev !== undefined) return { kind: 'device', device: dev };
  throw errors.invalidConfiguration('device-config:path=<directory> or device-config:device=/dev/<disk> is required');
}

function rootOf(backing: Backing, uuid: string): string {
  return backing.kind === 'path' ? path.join(backing.path, uuid) : path.join(config().mountDir, uuid);
}

const SR_METADATA = z.object({
  format: z.literal(1),
  uuid: z.string(),
  name: z.string(),
  description: z.string(),
  backing: z.union([z.object({ kind: z.literal('path'), path: z.string() }), z.object({ kind: z.literal('device'), device: z.string() })]),
  created: z.string(),
});

/** The SR metadata in `root`; undefined when there is none or the folder is not one of our SRs (a foreign or damaged sr.json). */
function srMetadataIn(layout: SrLayout): SrMetadata | undefined {
  let raw: unknown;
  try {
    raw = readJson<unknown>(layout.metadata);
  } catch (e) {
    if (e instanceof SyntaxError) {
      log.warning(`${layout.metadata} is not JSON: not taken for an SR`);
      return undefined;
    }
    // A file where the SR folder would be (SR.probe lists every entry).
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw e;
  }
  if (raw === undefined) return undefined;
  const parsed = SR_METADATA.safeParse(raw);
  if (!parsed.success) {
    log.warning(`${layout.metadata} is not SR metadata of this plugin: not taken for an SR`);
    return undefined;
  }
  return parsed.data as SrMetadata;
}

function readSr(layout: SrLayout): SrMetadata {
  const meta = srMetadataIn(layout);
  if (!meta) throw errors.srNotAttached(layout.sr);
  return meta;
}

/** Serialises attach/detach/create of one SR uuid on this host (mounts). */
function withHostLock<T>(uuid: string, body: () => T): T {
  const dir = path.join(config().runDir, 'locks');
  fs.mkdirSync(dir, { recursive: true });
  const lock = lockFile(path.join(dir, `sr-${uuid}.lock`), 'exclusive', { create: true, what: `SR ${uuid}` });
  if (!lock) throw errors.busy(`lock for SR ${uuid}`);
  return withLock(lock, body);
}

function statfs(layout: SrLayout): { total: number; free: number } {
  const s = fs.statfsSync(layout.root);
  return { total: s.blocks * s.bsize, free: s.bavail * s.bsize };
}

export class FileStore implements VolumeStore {
  accepts(configuration: Configuration): boolean {
    return 'path' in configuration || 'device' in configuration;
  }

  owns(sr: string): boolean {
    return sr.startsWith('file:///');
  }

  probe(configuration: Configuration): ProbeResult[] {
    const backing = backingOf(configuration);
    if (backing.kind === 'path') {
      if (!fs.statSync(backing.path, { throwIfNoEntry: false })?.isDirectory()) throw errors.invalidConfiguration(`${backing.path} is not a directory`);
      const found = fs
        .readdirSync(backing.path)
        .map((n) => new SrLayout(path.join(backing.path, n)))
        .flatMap((layout) => {
          const meta = srMetadataIn(layout);
          return meta ? [{ layout, meta }] : [];
        });
      return [
        { configuration: { path: backing.path }, complete: true, extra_info: {} },
        ...found.map(({ layout, meta }) => ({
          configuration: { path: backing.path, sr_uuid: meta.uuid },
          complete: true,
          sr: this.statOf(layout, meta),
          extra_info: {},
        })),
      ];
    }
    device.checkBlockDevice(backing.device);
    const signature = device.existingSignature(backing.device);
    if (!signature) return [{ configuration: { device: backing.device }, complete: true, extra_info: {} }];
    const existing = signature === 'xfs' ? this.srOnDevice(backing.device) : undefined;
    if (existing) return [{ configuration: { device: backing.device, sr_uuid: existing.uuid ?? '' }, complete: true, sr: existing, extra_info: {} }];
    return [
      {
        configuration: { device: backing.device, force: 'true' },
        complete: false,
        extra_info: { existing_signature: signature, warning: 'SR.create with force=true erases it' },
      },
    ];
  }

  /** The SR an XFS device holds, read where it is mounted or from a brief read-only mount. */
  private srOnDevice(dev: string): SrStat | undefined {
    const describe = (root: string): SrStat | undefined => {
      const meta = srMetadataIn(new SrLayout(root));
      if (!meta || meta.backing.kind !== 'device') return undefined;
      return { ...this.statOf(new SrLayout(root), meta), sr: new SrLayout(rootOf(meta.backing, meta.uuid)).sr };
    };
    const mounted = device.mountPointsOf(dev);
    if (mounted.length) return describe(mounted[0]);
    const dir = path.join(config().runDir, 'probe');
    fs.mkdirSync(dir, { recursive: true });
    const mountPoint = fs.mkdtempSync(path.join(dir, 'mnt-'));
    try {
      device.mount(dev, mountPoint, ['ro', 'norecovery']);
    } catch (e) {
      log.warning(`probe: cannot read ${dev}: ${(e as Error).message}`);
      fs.rmSync(mountPoint, { recursive: true, force: true });
      return undefined;
    }
    try {
      return describe(mountPoint);
    } finally {
      device.unmount(mountPoint);
    }
  }

  create(uuid: string, configuration: Configuration, name: string, description: string): Configuration {
    checkName(uuid, 'SR uuid');
    const backing = backingOf(configuration);
    const meta: SrMetadata = { format: 1, uuid, name, description, backing, created: new Date().toISOString() };
    const returned: Configuration = { ...configuration, sr_uuid: uuid };
    delete returned.force;
    return withHostLock(uuid, () => {
      if (backing.kind === 'path') {
        if (!fs.statSync(backing.path, { throwIfNoEntry: false })?.isDirectory()) throw errors.invalidConfiguration(`${backing.path} is not a directory`);
        const layout = new SrLayout(rootOf(backing, uuid));
        if (fs.existsSync(layout.metadata)) throw errors.invalidConfiguration(`an SR with uuid ${uuid} already exists in ${backing.path}`);
        let made = false;
        try {
          fs.mkdirSync(layout.root);
          made = true;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
          // What an interrupted create left may be reused; anything else is not ours to touch.
          const foreign = fs.readdirSync(layout.root).filter((n) => !['volumes', 'tmp', 'sr.lock'].includes(n));
          if (foreign.length) throw errors.invalidConfiguration(`${layout.root} exists and holds files that are not an SR's: ${foreign.slice(0, 3).join(', ')}`);
        }
        try {
          this.initialise(layout, meta);
        } catch (e) {
          if (made) fs.rmSync(layout.root, { recursive: true, force: true });
          throw e;
        }
        return returned;
      }
      device.checkBlockDevice(backing.device);
      const mounted = device.mountPointsOf(backing.device);
      if (mounted.length) throw errors.deviceInUse(`${backing.device} is mounted on ${mounted.join(', ')}`);
      const signature = device.existingSignature(backing.device);
      if (signature && configuration.force !== 'true') {
        throw errors.deviceInUse(`${backing.device} already holds ${signature}; add device-config:force=true to erase it`);
      }
      device.makeXfs(backing.device);
      const layout = new SrLayout(rootOf(backing, uuid));
      device.mount(backing.device, layout.root);
      try {
        this.initialise(layout, meta);
      } catch (e) {
        device.unmount(layout.root);
        device.wipe(backing.device);
        throw e;
      }
      device.unmount(layout.root);
      return returned;
    });
  }

  private initialise(layout: SrLayout, meta: SrMetadata): void {
    fs.mkdirSync(layout.volumesDir, { recursive: true });
    fs.mkdirSync(layout.tmpDir, { recursive: true });
    fs.writeFileSync(layout.lockFile, '');
    writeJsonAtomic(layout.metadata, meta, layout.tmpDir); // the commit point
    log.info(`created SR ${meta.uuid} at ${layout.root}`);
  }

  attach(configuration: Configuration): string {
    const backing = backingOf(configuration);
    const uuid = configuration.sr_uuid;
    if (!uuid) throw errors.invalidConfiguration('sr_uuid is missing: use the configuration SR.create returned');
    checkName(uuid, 'sr_uuid');
    return withHostLock(uuid, () => {
      const layout = new SrLayout(rootOf(backing, uuid));
      if (backing.kind === 'device') {
        device.checkBlockDevice(backing.device);
        if (!device.isMounted(layout.root)) {
          const signature = device.existingSignature(backing.device);
          if (signature !== 'xfs') throw errors.srDoesNotExist(`no SR ${uuid} on ${backing.device}: it holds ${signature ?? 'no filesystem'}`);
        }
        device.mount(backing.device, layout.root);
      }
      const meta = srMetadataIn(layout);
      if (!meta || meta.uuid !== uuid) {
        if (backing.kind === 'device') device.unmount(layout.root);
        throw errors.srDoesNotExist(`no SR ${uuid} at ${layout.root}`);
      }
      volumes.collectOrphans(layout);
      registry.add({ sr: layout.sr, configuration });
      return layout.sr;
    });
  }

  detach(sr: string): void {
    const layout = SrLayout.fromSr(sr);
    const attached = registry.get(sr);
    const uuid = attached?.configuration.sr_uuid ?? path.basename(layout.root);
    withHostLock(uuid, () => {
      const mountPoint = path.join(config().mountDir, uuid);
      if (attached?.configuration.device !== undefined || (layout.root === mountPoint && device.isMounted(mountPoint))) {
        device.unmount(layout.root);
      }
      registry.remove(sr);
    });
  }

  destroy(sr: string): void {
    const layout = SrLayout.fromSr(sr);
    const meta = readSr(layout);
    withHostLock(meta.uuid, () => {
      const lock = lockFile(layout.lockFile, 'exclusive', { what: `SR ${sr}` });
      if (!lock) throw errors.srNotAttached(sr);
      withLock(lock, () => {
        fs.rmSync(layout.metadata); // from here on the SR no longer exists
        for (const name of ['volumes', 'tmp']) fs.rmSync(path.join(layout.root, name), { recursive: true, force: true });
        fs.rmSync(layout.lockFile, { force: true });
      });
      if (meta.backing.kind === 'device') {
        device.unmount(layout.root);
        device.wipe(meta.backing.device);
      } else {
        fs.rmSync(layout.root, { recursive: true, force: true });
      }
      registry.remove(sr);
      log.info(`destroyed SR ${meta.uuid}`);
    });
  }

  private statOf(layout: SrLayout, meta: SrMetadata): SrStat {
    const space = statfs(layout);
    return {
      sr: layout.sr,
      name: meta.name,
      uuid: meta.uuid,
      description: meta.description,
      free_space: space.free,
      total_space: space.total,
      datasources: [],
      clustered: false,
      health: ['Healthy', ''],
    };
  }

  stat(sr: string): SrStat {
    const layout = SrLayout.fromSr(sr);
    return this.statOf(layout, readSr(layout));
  }

  private updateSr(sr: string, change: (meta: SrMetadata) => void): void {
    const layout = SrLayout.fromSr(sr);
    const lock = lockFile(layout.lockFile, 'exclusive', { what: `SR ${sr}` });
    if (!lock) throw errors.srNotAttached(sr);
    withLock(lock, () => {
      const meta = readSr(layout);
      change(meta);
      try {
        writeJsonAtomic(layout.metadata, meta, layout.tmpDir);
      } catch (e) {
        throw fromSystemError(e, `updating the metadata of SR ${meta.uuid}`);
      }
    });
  }

  setName(sr: string, name: string): void {
    this.updateSr(sr, (m) => void (m.name = name));
  }

  setDescription(sr: string, description: string): void {
    this.updateSr(sr, (m) => void (m.description = description));
  }

  ls(sr: string) {
    const layout = SrLayout.fromSr(sr);
    readSr(layout);
    return volumes.withSr(layout, () => {
      volumes.collectOrphans(layout);
      return volumes.listVolumes(layout);
    });
  }

  private layoutOf(sr: string): SrLayout {
    const layout = SrLayout.fromSr(sr);
    if (!fs.existsSync(layout.metadata)) throw errors.srNotAttached(sr);
    return layout;
  }

  volumeCreate(sr: string, name: string, description: string, size: number, sharable: boolean) {
    return volumes.createVolume(this.layoutOf(sr), name, description, size, sharable);
  }
  volumeSnapshot(sr: string, key: string) {
    return volumes.copyVolume(this.layoutOf(sr), key, false);
  }
  volumeClone(sr: string, key: string) {
    return volumes.copyVolume(this.layoutOf(sr), key, true);
  }
  volumeDestroy(sr: string, key: string) {
    volumes.destroyVolume(this.layoutOf(sr), key);
  }
  volumeStat(sr: string, key: string) {
    return volumes.statVolume(this.layoutOf(sr), key);
  }
  volumeSetName(sr: string, key: string, name: string) {
    volumes.setVolumeName(this.layoutOf(sr), key, name);
  }
  volumeSetDescription(sr: string, key: string, description: string) {
    volumes.setVolumeDescription(this.layoutOf(sr), key, description);
  }
  volumeSet(sr: string, key: string, k: string, v: string) {
    volumes.setVolumeKey(this.layoutOf(sr), key, k, v);
  }
  volumeUnset(sr: string, key: string, k: string) {
    volumes.unsetVolumeKey(this.layoutOf(sr), key, k);
  }
  volumeResize(sr: string, key: string, newSize: number) {
    volumes.resizeVolume(this.layoutOf(sr), key, newSize);
  }
}
