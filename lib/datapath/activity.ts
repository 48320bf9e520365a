// Who has a volume active, recorded in the SR itself (volumes/<key>.active)
// so that every host sharing the SR sees it, as XCP-ng's tapdisk datapath
// keeps active_on. A non-sharable, writable volume is active in one place
// at a time: another host gets Activated_on_another_host (xapi redirects),
// another domain of this host VDIInUse. A record from an earlier boot of
// this host is stale (the host crashed or rebooted) and is replaced.
import * as fs from 'node:fs';
import { errors } from '../wire/errors';
import { readJson, writeJsonAtomic } from '../util/atomic';
import { lockFile } from '../util/lock';
import type { FileTarget } from '../store/file/target';
import { bootId, hostUuid } from './host';

interface ActiveRecord {
  host: string;
  boot: string;
  domains: string[];
}

function recordPath(t: FileTarget): string {
  return t.layout.volumeMetadata(t.key).replace(/\.json$/, '.active');
}

function withVolume<T>(t: FileTarget, body: () => T): T {
  // The image's own lock, as the volume plugin takes it for metadata changes.
  const lock = lockFile(t.image, 'exclusive', { what: `volume ${t.key}` });
  if (!lock) throw errors.volumeDoesNotExist(t.key);
  try {
    return body();
  } finally {
    lock.release();
  }
}

/**
 * Records `domain` as active on this host. `activeHere` lists the domains
 * this host's runtime state knows as active on the volume (others are stale).
 */
export function markActive(t: FileTarget, domain: string, activeHere: string[]): void {
  withVolume(t, () => {
    const file = recordPath(t);
    const me = hostUuid();
    const boot = bootId();
    let rec = readJson<ActiveRecord>(file);
    if (rec && (rec.host !== me || rec.boot === boot)) {
      const others = rec.host === me ? rec.domains.filter((d) => d !== domain && activeHere.includes(d)) : rec.domains;
      if (!t.sharable && !t.readOnly && others.length > 0) {
        if (rec.host !== me) throw errors.activatedOnAnotherHost(rec.host);
        throw errors.vdiInUse(`volume ${t.key} is active for domain ${others.join(', ')}`);
      }
      if (rec.host !== me) return; // sharable, and recorded by another host: leave its record be
      rec.domains = others;
    } else {
      rec = { host: me, boot, domains: [] };
    }
    rec.domains.push(domain);
    writeJsonAtomic(file, rec, t.layout.tmpDir);
  });
}

/** Forgets `domain`; the record goes with the last one. Never fails on a missing record. */
export function markInactive(t: FileTarget, domain: string): void {
  withVolume(t, () => {
    const file = recordPath(t);
    const rec = readJson<ActiveRecord>(file);
    if (!rec || rec.host !== hostUuid()) return;
    rec.domains = rec.domains.filter((d) => d !== domain);
    if (rec.domains.length === 0) fs.rmSync(file, { force: true });
    else writeJsonAtomic(file, rec, t.layout.tmpDir);
  });
}
