// Which SRs this host has attached, under the runtime directory (tmpfs on
// XCP-ng, so it empties at reboot, when xapi re-plugs every PBD).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { config } from '../util/config';
import { readJson, writeJsonAtomic } from '../util/atomic';
import type { Configuration } from './types';

export interface AttachedSr {
  sr: string;
  configuration: Configuration;
}

function dir(): string {
  return path.join(config().runDir, 'attached');
}

function entry(sr: string): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const crypto = require('node:crypto') as typeof import('node:crypto');
  return path.join(dir(), `${crypto.createHash('sha256').update(sr).digest('hex').slice(0, 32)}.json`);
}

export const registry = {
  add(record: AttachedSr): void {
    fs.mkdirSync(dir(), { recursive: true });
    writeJsonAtomic(entry(record.sr), record);
  },
  remove(sr: string): void {
    fs.rmSync(entry(sr), { force: true });
  },
  get(sr: string): AttachedSr | undefined {
    return readJson<AttachedSr>(entry(sr));
  },
  list(): AttachedSr[] {
    let names: string[];
    try {
      names = fs.readdirSync(dir()).filter((n) => n.endsWith('.json'));
    } catch {
      return [];
    }
    return names.flatMap((n) => {
      const record = readJson<AttachedSr>(path.join(dir(), n));
      return record ? [record] : [];
    });
  },
};
