// The datapath plugin (datapath/spdk): a user-space blkif backend per attached volume.
import type { QueryResult } from '../wire/schemas';
import type { Handlers } from './handlers';
import { COPYRIGHT, DATAPATH_SCHEME, VENDOR, VERSION } from './identity';
import { isLvolUri } from '../store/spdk/target';

export function datapathQuery(): QueryResult {
  return {
    plugin: DATAPATH_SCHEME,
    name: 'SPDK datapath plugin',
    description: 'Serves volumes to Xen guests through a user-space blkif backend',
    vendor: VENDOR,
    copyright: COPYRIGHT,
    version: VERSION,
    required_api_version: '5.0',
    // Datapath.open/close implement reset-on-boot themselves (reference 3.6).
    features: ['NONPERSISTENT'],
    configuration: {},
    required_cluster_stack: [],
  };
}

type A = { [k: string]: any }; // eslint-disable-line @typescript-eslint/no-explicit-any -- validated by the method schema

// The lifecycle (and with it node:crypto and ffi-rs) loads only for the calls that need it:
// the file store's (a daemon per volume) or the SPDK store's (the SR's daemon), by URI.
const lifecycle = () => require('../datapath/lifecycle') as typeof import('../datapath/lifecycle'); // eslint-disable-line @typescript-eslint/no-require-imports
const lvol = () => require('../datapath/lvol') as typeof import('../datapath/lvol'); // eslint-disable-line @typescript-eslint/no-require-imports
const datapathOf = (uri: string) => (typeof uri === 'string' && isLvolUri(uri) ? lvol() : lifecycle());

export const datapathHandlers: Handlers = {
  'Plugin.query': () => datapathQuery(),
  'Plugin.ls': () => [],
  'Plugin.diagnostics': () => [`${DATAPATH_SCHEME} datapath plugin ${VERSION}`, ...lifecycle().describeAttached()].join('\n'),
  'Datapath.open': (a: A) => datapathOf(a.uri).open(a.uri, a.persistent),
  'Datapath.attach': (a: A) => datapathOf(a.uri).attach(a.uri, a.domain),
  'Datapath.activate': (a: A) => datapathOf(a.uri).activate(a.uri, a.domain),
  'Datapath.deactivate': (a: A) => datapathOf(a.uri).deactivate(a.uri, a.domain),
  'Datapath.detach': (a: A) => datapathOf(a.uri).detach(a.uri, a.domain),
  'Datapath.close': (a: A) => datapathOf(a.uri).close(a.uri),
};
