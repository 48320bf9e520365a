// The lvol store of an SPDK SR, through SPDK's RPC methods (bdev_lvol_*):
// what the store needs to know of lvols and how SPDK's failures reach xapi.
import { errors } from '../../wire/errors';
import { spdkCall, SpdkRpcError, type SrDaemonPaths } from './daemon';

export const MiB = 1024 * 1024;
/** Snapshots taken to clone a writable volume: lvols of ours that are no volumes. */
export const HIDDEN_PREFIX = 'hidden-';
/** reset-<key>: the snapshot a volume opened with persistent=false returns to at close. */
export const RESET_PREFIX = 'reset-';
/** The SR's names (metadata.ts): a thick lvol of ours that is no volume. */
export const META_LVOL = 'xapi-meta';
export const META_MIB = 8;

export interface LvolStore {
  uuid: string;
  name: string;
  base_bdev: string;
  total_data_clusters: number;
  free_clusters: number;
  block_size: number;
  cluster_size: number;
}

export interface Lvol {
  /** The lvol's name in its store: the volume key. */
  name: string;
  /** <store>/<name>: how the daemon and SPDK's RPC methods name it. */
  alias: string;
  size: number;
  blockSize: number;
  allocatedClusters: number;
  /** SPDK's snapshot flag: some lvol is a clone of it. */
  snapshot: boolean;
  /** Writes refused: a snapshot (also one whose clones are gone), or made read-only. */
  readOnly: boolean;
  /** The snapshot it is a clone of. */
  baseSnapshot?: string;
}

/** The lvol store name of an SR. */
export const lvsName = (srUuid: string) => `xapi-${srUuid}`;

const BUSY_RETRY_MS = 20_000;

/**
 * One SPDK call, SPDK's failures mapped to the errors xapi knows. An lvol
 * operation a killed call started goes on in the daemon after its lock is
 * released: SPDK answers EBUSY for that lvol meanwhile, and the call is
 * retried until it is done. `missing` names the error for a lvol that is gone.
 */
export function rpc<T>(p: SrDaemonPaths, method: string, params?: object, missing?: () => Error): T {
  const deadline = Date.now() + BUSY_RETRY_MS;
  for (let wait = 5; ; wait = Math.min(wait * 2, 500)) {
    try {
      return spdkCall<T>(p, method, params);
    } catch (e) {
      if (!(e instanceof SpdkRpcError)) throw e;
      if (/busy/i.test(e.detail) && Date.now() < deadline) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait);
        continue;
      }
      if (missing && /no such device|not found/i.test(e.detail)) throw missing();
      if (/no space|ENOSPC/i.test(e.detail)) throw errors.noSpace(`SPDK ${method}: ${e.detail}`);
      throw errors.io(`SPDK ${method}: ${e.detail}`);
    }
  }
}

export function lvolStores(p: SrDaemonPaths): LvolStore[] {
  return rpc<LvolStore[]>(p, 'bdev_lvol_get_lvstores');
}

export function findStore(p: SrDaemonPaths, srUuid: string): LvolStore | undefined {
  return lvolStores(p).find((s) => s.name === lvsName(srUuid));
}

interface BdevInfo {
  name: string;
  aliases: string[];
  block_size: number;
  num_blocks: number;
  supported_io_types?: { write?: boolean };
  driver_specific?: { lvol?: { lvol_store_uuid: string; num_allocated_clusters: number; snapshot: boolean; base_snapshot?: string } };
}

/** Every lvol of the store, by name; the names' own lvol (META_LVOL) only when asked for. */
export function lvolsOf(p: SrDaemonPaths, store: LvolStore, withMeta = false): Map<string, Lvol> {
  const found = new Map<string, Lvol>();
  for (const b of rpc<BdevInfo[]>(p, 'bdev_get_bdevs')) {
    const lvol = b.driver_specific?.lvol;
    const alias = b.aliases.find((a) => a.startsWith(`${store.name}/`));
    if (!lvol || lvol.lvol_store_uuid !== store.uuid || !alias) continue;
    const name = alias.slice(store.name.length + 1);
    if (name === META_LVOL && !withMeta) continue;
    found.set(name, {
      name,
      alias,
      size: b.num_blocks * b.block_size,
      blockSize: b.block_size,
      allocatedClusters: lvol.num_allocated_clusters,
      snapshot: lvol.snapshot,
      // The lvol bdev supports WRITE exactly when its blob is not read-only.
      readOnly: b.supported_io_types?.write === false,
      baseSnapshot: lvol.base_snapshot,
    });
  }
  return found;
}

/**
 * Deletes hidden snapshots no volume needs any more: SPDK deletes a snapshot
 * with at most one clone (the clone takes its clusters); one that two
 * volumes still share stays. Returns the names deleted.
 */
export function collectHidden(p: SrDaemonPaths, store: LvolStore, hidden: (name: string) => boolean): string[] {
  const deleted: string[] = [];
  for (;;) {
    const lvols = [...lvolsOf(p, store).values()];
    const removable = lvols.find((l) => hidden(l.name) && lvols.filter((c) => c.baseSnapshot === l.name).length <= 1);
    if (!removable) return deleted;
    rpc(p, 'bdev_lvol_delete', { name: removable.alias });
    deleted.push(removable.name);
  }
}
