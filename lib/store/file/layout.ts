// Where a file SR keeps things. An SR is a directory ("root"):
//   sr.json           SR metadata; its presence means the SR exists
//   sr.lock           shared by volume operations, exclusive for SR-wide ones
//   volumes/<key>.img the volume: a sparse raw file (also its lock)
//   volumes/<key>.json the volume's metadata; written last, removed first
//   tmp/              images and metadata being written
// The SR string handed to xapi is the root as a file:// URI.
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { errors } from '../../wire/errors';

export const URI_SCHEME = 'spdk';

export class SrLayout {
  constructor(readonly root: string) {}

  static fromSr(sr: string): SrLayout {
    if (!sr.startsWith('file:///')) throw errors.srDoesNotExist(sr);
    let root: string;
    try {
      root = fileURLToPath(sr);
    } catch {
      throw errors.srDoesNotExist(sr);
    }
    return new SrLayout(path.resolve(root));
  }

  get sr(): string {
    return pathToFileURL(this.root).href;
  }
  get metadata(): string {
    return path.join(this.root, 'sr.json');
  }
  get lockFile(): string {
    return path.join(this.root, 'sr.lock');
  }
  get volumesDir(): string {
    return path.join(this.root, 'volumes');
  }
  get tmpDir(): string {
    return path.join(this.root, 'tmp');
  }
  image(key: string): string {
    return path.join(this.volumesDir, `${key}.img`);
  }
  volumeMetadata(key: string): string {
    return path.join(this.volumesDir, `${key}.json`);
  }
  tmpImage(key: string): string {
    return path.join(this.tmpDir, `${key}.img`);
  }
  /** The datapath URI of a volume: the scheme names the datapath plugin. */
  uri(key: string): string {
    return `${URI_SCHEME}://file${pathToFileURL(this.image(key)).pathname}`;
  }
}

const KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Volume keys and SR uuids become file names: accept nothing that could escape. */
export function checkName(value: string, what: string): string {
  if (!KEY.test(value) || value.includes('..')) throw errors.invalidArguments(`${what} ${JSON.stringify(value)} is not a valid name`);
  return value;
}
