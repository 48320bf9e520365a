// The volume plugin (org.xen.xapi.storage.spdk): SR.*, Volume.*, Plugin.*.
import { errors } from '../wire/errors';
import type { QueryResult } from '../wire/schemas';
import { registry } from '../store/registry';
import type { Configuration, VolumeStore } from '../store/types';
import { FILE_STORE_CONFIGURATION, FileStore } from '../store/file/store';
import { SPDK_STORE_CONFIGURATION } from '../store/spdk/device';
import { SpdkStore } from '../store/spdk/store';
import { isLvolUri } from '../store/spdk/target';
import type { Handlers } from './handlers';
import { COPYRIGHT, SR_TYPE, VENDOR, VERSION } from './identity';

const stores: VolumeStore[] = [new FileStore(), new SpdkStore()];

function storeForConfiguration(configuration: Configuration): VolumeStore {
  const accepting = stores.filter((s) => s.accepts(configuration));
  if (accepting.length > 1) throw errors.invalidConfiguration(`device-config [${Object.keys(configuration).join(', ')}] mixes the file store's keys (path, device) with the SPDK store's (nvme, bdev)`);
  const store = accepting[0];
  if (!store) throw errors.invalidConfiguration(`no store accepts device-config keys [${Object.keys(configuration).join(', ')}]; expected path or device (file store), nvme or bdev (SPDK store)`);
  return store;
}

function storeForSr(sr: string): VolumeStore {
  const store = stores.find((s) => s.owns(sr));
  if (!store) throw errors.srDoesNotExist(sr);
  return store;
}

/**
 * Features beyond those xapi-storage-script derives from the executables
 * present (reference 4.2). VDI_RESIZE_ONLINE holds because Volume.resize
 * tells the running backend, which publishes the size to the guest and NBD.
 */
export const VOLUME_FEATURES = [
  'SR_ATTACH',
  'SR_DETACH',
  'SR_CREATE',
  'SR_DELETE',
  'SR_PROBE',
  'SR_SCAN',
  'SR_UPDATE',
  'VDI_CREATE',
  'VDI_DESTROY',
  'VDI_UPDATE',
  'VDI_RESIZE',
  'VDI_SNAPSHOT',
  'VDI_CLONE',
  'VDI_RESIZE_ONLINE',
  'THIN_PROVISIONING',
  'LARGE_VDI',
];

export function volumeQuery(): QueryResult {
  return {
    plugin: SR_TYPE,
    name: 'SPDK volume plugin',
    description: 'Thin volumes on local storage, served to guests by a user-space blkif backend',
    vendor: VENDOR,
    copyright: COPYRIGHT,
    version: VERSION,
    required_api_version: '5.0',
    features: VOLUME_FEATURES,
    configuration: {
      ...FILE_STORE_CONFIGURATION,
      ...SPDK_STORE_CONFIGURATION,
      force: 'true to create the SR over what the device holds: a filesystem or partition table (device), an lvol store (nvme, bdev)',
    },
    required_cluster_stack: [],
  };
}

function diagnostics(): string {
  const lines = [`${SR_TYPE} volume plugin ${VERSION}`];
  for (const { sr } of registry.list()) {
    try {
      const s = storeForSr(sr).stat(sr);
      const n = storeForSr(sr).ls(sr).length;
      lines.push(`SR ${s.uuid ?? ''} ${sr}: ${n} volumes, ${s.free_space} of ${s.total_space} bytes free, ${s.health[0]}`);
    } catch (e) {
      lines.push(`SR ${sr}: ${(e as Error).message}`);
    }
  }
  return lines.join('\n');
}

// Loaded only by Volume.resize: other volume calls stay free of the datapath's modules.
const lifecycle = () => require('../datapath/lifecycle') as typeof import('../datapath/lifecycle'); // eslint-disable-line @typescript-eslint/no-require-imports
const lvolDatapath = () => require('../datapath/lvol') as typeof import('../datapath/lvol'); // eslint-disable-line @typescript-eslint/no-require-imports

type A = { [k: string]: any }; // eslint-disable-line @typescript-eslint/no-explicit-any -- validated by the method schema

export const volumeHandlers: Handlers = {
  'Plugin.query': () => volumeQuery(),
  'Plugin.ls': () => registry.list().map((r) => r.sr),
  'Plugin.diagnostics': () => diagnostics(),

  'SR.probe': (a: A) => storeForConfiguration(a.configuration).probe(a.configuration),
  'SR.create': (a: A) => storeForConfiguration(a.configuration).create(a.uuid, a.configuration, a.name, a.description),
  'SR.attach': (a: A) => storeForConfiguration(a.configuration).attach(a.configuration),
  'SR.detach': (a: A) => storeForSr(a.sr).detach(a.sr),
  'SR.destroy': (a: A) => storeForSr(a.sr).destroy(a.sr),
  'SR.stat': (a: A) => storeForSr(a.sr).stat(a.sr),
  'SR.set_name': (a: A) => storeForSr(a.sr).setName(a.sr, a.new_name),
  'SR.set_description': (a: A) => storeForSr(a.sr).setDescription(a.sr, a.new_description),
  'SR.ls': (a: A) => storeForSr(a.sr).ls(a.sr),

  'Volume.create': (a: A) => storeForSr(a.sr).volumeCreate(a.sr, a.name, a.description, a.size, a.sharable),
  'Volume.snapshot': (a: A) => storeForSr(a.sr).volumeSnapshot(a.sr, a.key),
  'Volume.clone': (a: A) => storeForSr(a.sr).volumeClone(a.sr, a.key),
  'Volume.destroy': (a: A) => storeForSr(a.sr).volumeDestroy(a.sr, a.key),
  'Volume.stat': (a: A) => storeForSr(a.sr).volumeStat(a.sr, a.key),
  'Volume.set_name': (a: A) => storeForSr(a.sr).volumeSetName(a.sr, a.key, a.new_name),
  'Volume.set_description': (a: A) => storeForSr(a.sr).volumeSetDescription(a.sr, a.key, a.new_description),
  'Volume.set': (a: A) => storeForSr(a.sr).volumeSet(a.sr, a.key, a.k, a.v),
  'Volume.unset': (a: A) => storeForSr(a.sr).volumeUnset(a.sr, a.key, a.k),
  'Volume.resize': (a: A) => {
    const store = storeForSr(a.sr);
    store.volumeResize(a.sr, a.key, a.new_size);
    // An attached volume's backend publishes the new size to the guest and the NBD export.
    for (const uri of store.volumeStat(a.sr, a.key).uri) (isLvolUri(uri) ? lvolDatapath() : lifecycle()).resized(uri);
  },
};
