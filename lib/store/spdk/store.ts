// The SPDK store: an SR is an lvol store on a drive SPDK owns (or, in tests,
// on a bdev over a file); volumes are thin lvols; snapshots are SPDK
// snapshots (read-only), clones SPDK clones. Every change holds the device's
// lock and goes through the SR's daemon (daemon.ts), started here when
// needed; the lvol store holds the data, metadata.ts the names.
import { errors } from '../../wire/errors';
import type { ProbeResult, SrStat, Volume } from '../../wire/schemas';
import { log } from '../../util/log';
import { registry } from '../registry';
import type { Configuration, VolumeStore } from '../types';
import { accepts, deviceOf, type SpdkDevice } from './device';
import { ensureRunning, servedDisks, stop, withDevice, type SrDaemonPaths } from './daemon';
import { collectHidden, findStore, HIDDEN_PREFIX, lvolsOf, lvolStores, lvsName, META_LVOL, MiB, rpc, type Lvol } from './lvstore';
import * as metadata from './metadata';
import { lvolUri, SR_PREFIX } from './target';

// node:crypto loads on use: Plugin.Query and read-only calls don't need it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const randomUUID = () => (require('node:crypto') as typeof import('node:crypto')).randomUUID();

const SR_UUID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,57}$/;

function checkSrUuid(uuid: string | undefined): string {
  if (!uuid) throw errors.invalidConfiguration('sr_uuid is missing: use the configuration SR.create returned');
  if (!SR_UUID.test(uuid)) throw errors.invalidArguments(`SR uuid ${JSON.stringify(uuid)} is not valid`);
  return uuid;
}

type SrContext = metadata.SrHandle;

// Loaded only when a daemon was (re)started: the datapath re-adds the disks it served.
const datapath = () => require('../../datapath/lvol') as typeof import('../../datapath/lvol'); // eslint-disable-line @typescript-eslint/no-require-imports

/** Sizes are whole MiB (SPDK's unit); the lvol rounds up to whole clusters. */
const isHidden = (record: metadata.SrRecord) => (name: string) => metadata.hides(record, name);

/** Deletes the lvols no volume needs any more, and forgets them. */
export function collect(h: metadata.SrHandle): void {
  const record = metadata.load(h);
  const deleted = collectHidden(h.p, h.store, (name) => metadata.collectible(record, name));
  if (deleted.length && record.destroyed?.some((n) => deleted.includes(n))) {
    record.destroyed = record.destroyed.filter((n) => !deleted.includes(n));
    metadata.save(h, record);
  }
}

function sizeInMiB(size: number): number {
  const mib = Math.ceil(size / MiB);
  if (!Number.isSafeInteger(mib * MiB)) throw errors.invalidSize(`size ${size} is too large`);
  return Math.max(mib, 1);
}

/** Deletes an lvol, or, for a snapshot two lvols still stand on, marks it destroyed (SPDK keeps it until one goes). */
export function deleteLvol(h: metadata.SrHandle, lvol: Lvol, clones: number): void {
  if (lvol.snapshot && clones > 1) {
    const record = metadata.load(h);
    record.destroyed = [...(record.destroyed ?? []).filter((n) => n !== lvol.name), lvol.name];
    metadata.save(h, record);
  } else {
    try {
      rpc(h.p, 'bdev_lvol_delete', { name: lvol.alias }, () => new LvolGone());
    } catch (e) {
      if (!(e instanceof LvolGone)) throw e; // deleted already (by a call killed while SPDK deleted it)
    }
  }
}

class LvolGone extends Error {}

export class SpdkStore implements VolumeStore {
  accepts(configuration: Configuration): boolean {
    return accepts(configuration);
  }

  owns(sr: string): boolean {
    return sr.startsWith(SR_PREFIX);
  }

  /** Runs body with the device's daemon running: started for the call, stopped after unless it ran before. */
  private withTransientDaemon<T>(device: SpdkDevice, body: (p: SrDaemonPaths) => T): T {
    return withDevice(device, (p) => {
      const started = ensureRunning(device, p);
      try {
        return body(p);
      } finally {
        if (started) stop(p);
      }
    });
  }

  probe(configuration: Configuration): ProbeResult[] {
    const device = deviceOf(configuration);
    const base = { ...(configuration.nvme !== undefined ? { nvme: configuration.nvme } : { bdev: configuration.bdev }) };
    return this.withTransientDaemon(device, (p) => {
      const stores = lvolStores(p).filter((s) => s.base_bdev === device.baseBdev);
      if (!stores.length) return [{ configuration: base, complete: true, extra_info: {} }];
      return stores.map((s): ProbeResult => {
        const uuid = s.name.startsWith('xapi-') ? s.name.slice(5) : undefined;
        if (uuid && SR_UUID.test(uuid)) {
          return { configuration: { ...base, sr_uuid: uuid }, complete: true, sr: this.statOf({ uuid, device, p, store: s }), extra_info: {} };
        }
        return {
          configuration: { ...base, force: 'true' },
          complete: false,
          extra_info: { existing_lvstore: s.name, warning: 'SR.create with force=true destroys it' },
        };
      });
    });
  }

  create(uuid: string, configuration: Configuration, name: string, description: string): Configuration {
    checkSrUuid(uuid);
    const device = deviceOf(configuration);
    const returned: Configuration = { ...configuration, sr_uuid: uuid };
    delete returned.force;
    this.withTransientDaemon(device, (p) => {
      for (const s of lvolStores(p).filter((s) => s.base_bdev === device.baseBdev)) {
        if (configuration.force !== 'true') throw errors.deviceInUse(`${device.label} already holds lvol store ${s.name}; add device-config:force=true to destroy it`);
        log.warning(`SR.create with force=true: destroying lvol store ${s.name} on ${device.label}`);
        rpc(p, 'bdev_lvol_delete_lvstore', { uuid: s.uuid });
      }
      rpc(p, 'bdev_lvol_create_lvstore', { bdev_name: device.baseBdev, lvs_name: lvsName(uuid), clear_method: 'unmap' });
      try {
        const store = findStore(p, uuid);
        if (!store) throw errors.io(`lvol store ${lvsName(uuid)} vanished as it was made`);
        metadata.removeLegacy(uuid); // an SR of this uuid a version before this one destroyed elsewhere
        metadata.save({ uuid, device, p, store }, { format: 1, uuid, name, description, created: new Date().toISOString(), volumes: {} });
      } catch (e) {
        rpc(p, 'bdev_lvol_delete_lvstore', { lvs_name: lvsName(uuid) });
        throw e;
      }
      log.info(`created SR ${uuid}: lvol store ${lvsName(uuid)} on ${device.label}`);
    });
    return returned;
  }

  attach(configuration: Configuration): string {
    const uuid = checkSrUuid(configuration.sr_uuid);
    const device = deviceOf(configuration);
    const sr = `${SR_PREFIX}${uuid}`;
    const started = withDevice(device, (p) => {
      const started = ensureRunning(device, p);
      const store = findStore(p, uuid);
      if (!store) {
        if (started) stop(p);
        throw errors.srDoesNotExist(`no SR ${uuid} on ${device.label}`);
      }
      collect({ uuid, device, p, store });
      registry.add({ sr, configuration });
      return started;
    });
    if (started) datapath().restoreDisks(uuid);
    return sr;
  }

  detach(sr: string): void {
    const attached = registry.get(sr);
    if (!attached) return; // detached already
    withDevice(deviceOf(attached.configuration), (p) => {
      const disks = servedDisks(p) ?? [];
      if (disks.length) throw errors.vdiInUse(`SR ${sr} still serves ${disks.map((d) => d.name).join(', ')}`);
      stop(p);
      registry.remove(sr);
    });
  }

  destroy(sr: string): void {
    this.onSr(sr, (c) => {
      const disks = servedDisks(c.p) ?? [];
      if (disks.length) throw errors.vdiInUse(`SR ${sr} still serves ${disks.map((d) => d.name).join(', ')}`);
      rpc(c.p, 'bdev_lvol_delete_lvstore', { uuid: c.store.uuid });
      metadata.removeLegacy(c.uuid);
      stop(c.p);
      registry.remove(sr);
      log.info(`destroyed SR ${c.uuid}`);
    });
  }

  /**
   * Runs body on an attached SR holding its device's lock, its daemon
   * running: restarted if it died, and then the datapath's disks re-added.
   */
  private onSr<T>(sr: string, body: (c: SrContext) => T): T {
    const attached = registry.get(sr);
    if (!attached) throw errors.srNotAttached(sr);
    const uuid = checkSrUuid(attached.configuration.sr_uuid);
    const device = deviceOf(attached.configuration);
    let started = false;
    const result = withDevice(device, (p) => {
      started = ensureRunning(device, p);
      if (started) log.warning(`the SPDK daemon of SR ${uuid} was not running: started it again`);
      const store = findStore(p, uuid);
      if (!store) throw errors.srDoesNotExist(`lvol store ${lvsName(uuid)} is gone from ${device.label}`);
      return body({ uuid, device, p, store });
    });
    if (started) datapath().restoreDisks(uuid);
    return result;
  }

  private statOf(h: SrContext): SrStat {
    const record = metadata.load(h);
    const { uuid, store } = h;
    // The names' lvol is the SR's own: not space volumes can have.
    const meta = lvolsOf(h.p, store, true).get(META_LVOL)?.allocatedClusters ?? 0;
    return {
      sr: `${SR_PREFIX}${uuid}`,
      name: record.name,
      uuid,
      description: record.description,
      free_space: store.free_clusters * store.cluster_size,
      total_space: (store.total_data_clusters - meta) * store.cluster_size,
      datasources: [],
      clustered: false,
      health: ['Healthy', ''],
    };
  }

  stat(sr: string): SrStat {
    return this.onSr(sr, (c) => this.statOf(c));
  }

  private updateSr(sr: string, change: (r: metadata.SrRecord) => void): void {
    this.onSr(sr, (c) => {
      const record = metadata.load(c);
      change(record);
      metadata.save(c, record);
    });
  }

  setName(sr: string, name: string): void {
    this.updateSr(sr, (r) => void (r.name = name));
  }

  setDescription(sr: string, description: string): void {
    this.updateSr(sr, (r) => void (r.description = description));
  }

  private toVolume(c: SrContext, lvol: Lvol, record: metadata.VolumeRecord | undefined): Volume {
    return {
      key: lvol.name,
      uuid: record?.uuid ?? lvol.name,
      name: record?.name ?? lvol.name,
      description: record?.description ?? '',
      read_write: !lvol.readOnly,
      sharable: record?.sharable ?? false,
      virtual_size: lvol.size,
      physical_utilisation: lvol.allocatedClusters * c.store.cluster_size,
      uri: [lvolUri(c.uuid, lvol.name)],
      keys: { ...(record?.keys ?? {}) },
    };
  }

  /** The SR's volumes; metadata entries whose lvol is gone (a create or destroy killed half way) are dropped. */
  ls(sr: string): Volume[] {
    return this.onSr(sr, (c) => {
      const lvols = lvolsOf(c.p, c.store);
      const record = metadata.load(c);
      const stale = Object.keys(record.volumes).filter((k) => !lvols.has(k));
      if (stale.length) {
        for (const k of stale) delete record.volumes[k];
        metadata.save(c, record);
      }
      return [...lvols.values()]
        .filter((l) => !isHidden(record)(l.name))
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((l) => this.toVolume(c, l, record.volumes[l.name]));
    });
  }

  private lvolOf(c: SrContext, key: string): Lvol {
    const lvol = isHidden(metadata.load(c))(key) ? undefined : lvolsOf(c.p, c.store).get(key);
    if (!lvol) throw errors.volumeDoesNotExist(key);
    return lvol;
  }

  /**
   * A new volume: its record is saved first, then SPDK makes the lvol. A
   * call killed in between leaves a record without an lvol, which ls drops.
   */
  private newVolume(c: SrContext, record: Omit<metadata.VolumeRecord, 'uuid' | 'created'>, make: (key: string) => void): Volume {
    const key = randomUUID();
    const sr = metadata.load(c);
    sr.volumes[key] = { ...record, uuid: key, created: new Date().toISOString() };
    metadata.save(c, sr);
    try {
      make(key);
    } catch (e) {
      delete sr.volumes[key];
      metadata.save(c, sr);
      throw e;
    }
    return this.toVolume(c, this.lvolOf(c, key), sr.volumes[key]);
  }

  volumeCreate(sr: string, name: string, description: string, size: number, sharable: boolean): Volume {
    const mib = sizeInMiB(size);
    return this.onSr(sr, (c) =>
      this.newVolume(c, { name, description, sharable, keys: {} }, (key) => {
        rpc(c.p, 'bdev_lvol_create', { lvs_name: c.store.name, lvol_name: key, size_in_mib: mib, thin_provision: true, clear_method: 'unmap' });
      }),
    );
  }

  /** Snapshot: read-only, SPDK's own (the volume goes on as its clone). */
  volumeSnapshot(sr: string, key: string): Volume {
    return this.onSr(sr, (c) => {
      const source = this.lvolOf(c, key);
      const r = metadata.load(c).volumes[key];
      return this.newVolume(c, { name: r?.name ?? key, description: r?.description ?? '', sharable: r?.sharable ?? false, keys: {}, parent: key }, (newKey) => {
        if (!source.readOnly) {
          rpc(c.p, 'bdev_lvol_snapshot', { lvol_name: source.alias, snapshot_name: newKey }, () => errors.volumeDoesNotExist(key));
          return;
        }
        // SPDK snapshots only writable lvols; a read-only one never changes, so a read-only clone is its snapshot.
        rpc(c.p, 'bdev_lvol_clone', { snapshot_name: source.alias, clone_name: newKey }, () => errors.volumeDoesNotExist(key));
        rpc(c.p, 'bdev_lvol_set_read_only', { name: `${c.store.name}/${newKey}` });
      });
    });
  }

  /** Clone: writable. SPDK clones only snapshots, so a writable volume is first snapshotted into a hidden lvol. */
  volumeClone(sr: string, key: string): Volume {
    return this.onSr(sr, (c) => {
      const source = this.lvolOf(c, key);
      const r = metadata.load(c).volumes[key];
      return this.newVolume(c, { name: r?.name ?? key, description: r?.description ?? '', sharable: r?.sharable ?? false, keys: {}, parent: key }, (newKey) => {
        let base = source.alias;
        if (!source.readOnly) {
          const hidden = `${HIDDEN_PREFIX}${newKey}`;
          rpc(c.p, 'bdev_lvol_snapshot', { lvol_name: source.alias, snapshot_name: hidden }, () => errors.volumeDoesNotExist(key));
          base = `${c.store.name}/${hidden}`;
        }
        try {
          rpc(c.p, 'bdev_lvol_clone', { snapshot_name: base, clone_name: newKey }, () => errors.volumeDoesNotExist(key));
        } finally {
          collect(c); // a hidden snapshot left without its clone
        }
      });
    });
  }

  /**
   * Destroys a volume; idempotent. A snapshot two volumes still stand on
   * cannot go yet (SPDK) nor be renamed: it is listed as destroyed and
   * deleted once at most one clone is left.
   */
  volumeDestroy(sr: string, key: string): void {
    this.onSr(sr, (c) => {
      const record = metadata.load(c);
      const lvols = lvolsOf(c.p, c.store);
      const lvol = isHidden(record)(key) ? undefined : lvols.get(key);
      if (lvol) {
        const users = (servedDisks(c.p) ?? []).filter((d) => (d as { path?: string }).path === lvol.alias);
        if (users.length) throw errors.vdiInUse(`volume ${key} is attached (${users.map((d) => d.name).join(', ')})`);
      }
      const clones = [...lvols.values()].filter((l) => l.baseSnapshot === key).length;
      if (record.volumes[key]) {
        delete record.volumes[key];
        metadata.save(c, record); // from here on it is no volume of xapi's
      }
      if (lvol) deleteLvol(c, lvol, clones);
      collect(c);
    });
  }

  volumeStat(sr: string, key: string): Volume {
    return this.onSr(sr, (c) => this.toVolume(c, this.lvolOf(c, key), metadata.load(c).volumes[key]));
  }

  private updateVolume(sr: string, key: string, change: (r: metadata.VolumeRecord) => void): void {
    this.onSr(sr, (c) => {
      this.lvolOf(c, key);
      const record = metadata.load(c);
      const v = (record.volumes[key] ??= { uuid: key, name: key, description: '', sharable: false, keys: {}, created: new Date().toISOString() });
      change(v);
      metadata.save(c, record);
    });
  }

  volumeSetName(sr: string, key: string, name: string): void {
    this.updateVolume(sr, key, (v) => void (v.name = name));
  }
  volumeSetDescription(sr: string, key: string, description: string): void {
    this.updateVolume(sr, key, (v) => void (v.description = description));
  }
  volumeSet(sr: string, key: string, k: string, value: string): void {
    this.updateVolume(sr, key, (v) => void (v.keys[k] = value));
  }
  volumeUnset(sr: string, key: string, k: string): void {
    this.updateVolume(sr, key, (v) => void delete v.keys[k]);
  }

  volumeResize(sr: string, key: string, newSize: number): void {
    const mib = sizeInMiB(newSize);
    this.onSr(sr, (c) => {
      const lvol = this.lvolOf(c, key);
      if (lvol.readOnly) throw errors.readOnly(key);
      if (mib * MiB < lvol.size) throw errors.invalidSize(`shrinking not allowed (${lvol.size} bytes to ${newSize})`);
      if (mib * MiB === lvol.size) return;
      rpc(c.p, 'bdev_lvol_resize', { name: lvol.alias, size_in_mib: mib }, () => errors.volumeDoesNotExist(key));
      log.info(`volume ${key} grown from ${lvol.size} to ${mib * MiB} bytes`);
    });
  }
}
