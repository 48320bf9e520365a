// Snapshot and clone data copies: an instant reflink (FICLONE) where the
// filesystem shares extents, else a sparse full copy, logged as such.
import { errors, fromSystemError } from '../../wire/errors';
import { runStatus } from '../../util/run';
import { dieWithUs } from '../../util/orphan-guard';
import { log } from '../../util/log';

export type CopyKind = 'reflink' | 'full';

/** Copies src over dst (which may exist, e.g. as a locked placeholder). */
export function copyImage(src: string, dst: string): CopyKind {
  const reflink = runStatus(dieWithUs(['cp', '--reflink=always', src, dst]));
  if (reflink.status === 0) return 'reflink';
  log.warning(`reflink of ${src} not possible (${reflink.stderr.trim()}): making a full copy`);
  const full = runStatus(dieWithUs(['cp', '--reflink=never', '--sparse=always', src, dst]));
  if (full.status !== 0) {
    const msg = full.stderr.trim();
    if (/No space left/i.test(msg)) throw fromSystemError(Object.assign(new Error(msg), { code: 'ENOSPC' }), `copy of ${src}`);
    throw errors.io(`copy of ${src} failed: ${msg}`);
  }
  return 'full';
}
