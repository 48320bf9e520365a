// Names of the SPDK store: the SR string xapi holds (spdk-lvs:<sr uuid>) and
// a volume's datapath URI (spdk://lvol/<sr uuid>/<key>), whose scheme names
// our datapath plugin as the file store's URIs do.
import { errors } from '../../wire/errors';
import { registry } from '../registry';
import type { Configuration } from '../types';
import { URI_SCHEME } from '../file/layout';

export const SR_PREFIX = 'spdk-lvs:';
const URI_PREFIX = `${URI_SCHEME}://lvol/`;
const PART = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export function lvolUri(srUuid: string, key: string): string {
  return `${URI_PREFIX}${srUuid}/${key}`;
}

export interface LvolTarget {
  srUuid: string;
  key: string;
  /** The attached SR's device-config. */
  configuration: Configuration;
}

export function isLvolUri(uri: string): boolean {
  return uri.startsWith(URI_PREFIX);
}

/** The volume a URI names, on an SR attached on this host. */
export function lvolTargetOf(uri: string): LvolTarget {
  const [srUuid, key, ...rest] = uri.slice(URI_PREFIX.length).split('/');
  if (!isLvolUri(uri) || rest.length || !PART.test(srUuid ?? '') || !PART.test(key ?? '')) throw errors.invalidArguments(`${uri} is not a volume URI of this plugin`);
  const attached = registry.get(`${SR_PREFIX}${srUuid}`);
  if (!attached) throw errors.srNotAttached(`SR ${srUuid} of ${uri} is not attached on this host`);
  return { srUuid, key, configuration: attached.configuration };
}
