// What a file-store datapath URI names: spdk://file<abs path>/volumes/<key>.img
// (layout.ts). The datapath reads the volume's sidecar here, without the
// SR lock: metadata is replaced atomically.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { errors } from '../../wire/errors';
import { readJson } from '../../util/atomic';
import { SrLayout, URI_SCHEME } from './layout';
import type { VolumeMetadata } from './volumes';

export interface FileTarget {
  image: string;
  key: string;
  layout: SrLayout;
  uuid: string;
  readOnly: boolean;
  sharable: boolean;
}

const KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Parses and checks a URI; undefined when it is not a file-store URI at all. */
export function fileTargetOf(uri: string): FileTarget | undefined {
  const prefix = `${URI_SCHEME}://file/`;
  if (!uri.startsWith(prefix)) return undefined;
  let image: string;
  try {
    image = path.resolve(fileURLToPath(`file://${uri.slice(prefix.length - 1)}`));
  } catch {
    throw errors.invalidArguments(`${uri} is not a valid volume URI`);
  }
  const volumesDir = path.dirname(image);
  const key = path.basename(image, '.img');
  if (path.basename(volumesDir) !== 'volumes' || !image.endsWith('.img') || !KEY.test(key) || key.includes('..')) {
    throw errors.invalidArguments(`${uri} does not name a volume image`);
  }
  const layout = new SrLayout(path.dirname(volumesDir));
  const meta = readJson<VolumeMetadata>(layout.volumeMetadata(key));
  if (!meta || !fs.existsSync(image)) throw errors.volumeDoesNotExist(key);
  return { image, key, layout, uuid: meta.uuid, readOnly: !meta.read_write, sharable: meta.sharable };
}
