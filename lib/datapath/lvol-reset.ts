// Reset-on-boot for lvol volumes (Datapath.open with persistent=false): at
// open the volume is snapshotted into reset-<key>; at close the volume is
// deleted and cloned again from that snapshot, which then goes (SPDK deletes
// a snapshot with one clone by handing it its clusters). A reset-<key> found
// at open is from a run that never closed (the host crashed): the volume is
// put back to it first. Everything holds the device's lock.
import { errors } from '../wire/errors';
import { log } from '../util/log';
import { deviceOf } from '../store/spdk/device';
import { ensureRunning, withDevice } from '../store/spdk/daemon';
import { findStore, lvolsOf, RESET_PREFIX, rpc, type Lvol } from '../store/spdk/lvstore';
import { load, type SrHandle } from '../store/spdk/metadata';
import { collect, deleteLvol } from '../store/spdk/store';
import type { LvolTarget } from '../store/spdk/target';

interface Ctx extends SrHandle {
  lvols: Map<string, Lvol>;
}

function onStore<R>(t: LvolTarget, body: (c: Ctx) => R): R {
  const device = deviceOf(t.configuration);
  return withDevice(device, (p) => {
    ensureRunning(device, p);
    const store = findStore(p, t.srUuid);
    if (!store) throw errors.srDoesNotExist(`SR ${t.srUuid} is gone from ${device.label}`);
    const h: SrHandle = { uuid: t.srUuid, device, p, store };
    // A reset snapshot marked destroyed (volume snapshots still stand on it) is no saved contents.
    const destroyed = new Set(load(h).destroyed ?? []);
    const lvols = new Map([...lvolsOf(p, store)].filter(([name]) => !destroyed.has(name)));
    return body({ ...h, lvols });
  });
}

const clonesOf = (c: Ctx, name: string) => [...c.lvols.values()].filter((l) => l.baseSnapshot === name).length;

/** The volume becomes its saved contents again (also after a restore that was cut short). */
function restore(c: Ctx, t: LvolTarget, saved: Lvol): void {
  const current = c.lvols.get(t.key);
  if (current) rpc(c.p, 'bdev_lvol_delete', { name: current.alias });
  rpc(c.p, 'bdev_lvol_clone', { snapshot_name: saved.alias, clone_name: t.key });
}

/** Keeps the volume's contents to return to at close (or returns to them, when an earlier open left them). */
export function keepContents(t: LvolTarget, opened: boolean): void {
  onStore(t, (c) => {
    const saved = c.lvols.get(`${RESET_PREFIX}${t.key}`);
    if (saved && opened) return;
    if (saved) {
      log.warning(`volume ${t.key}: resetting to the contents kept by an open that was never closed`);
      restore(c, t, saved);
      return;
    }
    const lvol = c.lvols.get(t.key);
    if (!lvol) throw errors.volumeDoesNotExist(t.key);
    if (lvol.readOnly) return; // read-only: nothing can be written to throw away
    rpc(c.p, 'bdev_lvol_snapshot', { lvol_name: lvol.alias, snapshot_name: `${RESET_PREFIX}${t.key}` });
  });
}

/** Throws away the writes made since keepContents. */
export function resetContents(t: LvolTarget): void {
  onStore(t, (c) => {
    const saved = c.lvols.get(`${RESET_PREFIX}${t.key}`);
    if (!saved) return;
    restore(c, t, saved);
    deleteLvol(c, saved, [...lvolsOf(c.p, c.store).values()].filter((l) => l.baseSnapshot === saved.name).length);
    collect(c);
    log.info(`volume ${t.key}: writes since open discarded (reset on boot)`);
  });
}

/** The volume became persistent: its current contents stay. */
export function dropSavedContents(t: LvolTarget): void {
  onStore(t, (c) => {
    const saved = c.lvols.get(`${RESET_PREFIX}${t.key}`);
    if (!saved) return;
    deleteLvol(c, saved, clonesOf(c, saved.name));
    collect(c);
  });
}
