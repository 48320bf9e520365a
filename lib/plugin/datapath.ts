// The datapath plugin (datapath/spdk): only Plugin.* until the backend lands.
import type { QueryResult } from '../wire/schemas';
import type { Handlers } from './handlers';
import { COPYRIGHT, DATAPATH_SCHEME, VENDOR, VERSION } from './identity';

export function datapathQuery(): QueryResult {
  return {
    plugin: DATAPATH_SCHEME,
    name: 'SPDK datapath plugin',
    description: 'Serves volumes to Xen guests through a user-space blkif backend',
    vendor: VENDOR,
    copyright: COPYRIGHT,
    version: VERSION,
    required_api_version: '5.0',
    features: [],
    configuration: {},
    required_cluster_stack: [],
  };
}

export const datapathHandlers: Handlers = {
  'Plugin.query': () => datapathQuery(),
  'Plugin.ls': () => [],
  'Plugin.diagnostics': () => `${DATAPATH_SCHEME} datapath plugin ${VERSION}`,
};
