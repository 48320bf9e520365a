// Reset-on-boot (Datapath.open with persistent=false): the volume's contents
// at open are kept beside it (volumes/<key>.reset, a reflink where the
// filesystem allows) and put back at close. A copy found at open is from a
// run that never closed (the host crashed): it is put back first.
import * as fs from 'node:fs';
import { copyImage } from '../store/file/copy';
import type { FileTarget } from '../store/file/target';
import { fromSystemError } from '../wire/errors';
import { log } from '../util/log';

function savedPath(t: FileTarget): string {
  return t.image.replace(/\.img$/, '.reset');
}

export function hasSavedContents(t: FileTarget): boolean {
  return fs.existsSync(savedPath(t));
}

/** Keeps the contents to return to (or returns to them, if a copy is already kept). */
export function keepContents(t: FileTarget): void {
  const saved = savedPath(t);
  if (fs.existsSync(saved)) {
    log.warning(`volume ${t.key}: resetting to the contents kept by an open that was never closed`);
    copyImage(saved, t.image);
    return;
  }
  const tmp = `${saved}.tmp`;
  try {
    copyImage(t.image, tmp);
    fs.renameSync(tmp, saved); // only a complete copy counts
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw fromSystemError(e, `keeping the contents of volume ${t.key}`);
  }
}

/** Throws away the writes made since keepContents. */
export function resetContents(t: FileTarget): void {
  const saved = savedPath(t);
  if (!fs.existsSync(saved)) return;
  copyImage(saved, t.image);
  fs.rmSync(saved, { force: true });
  log.info(`volume ${t.key}: writes since open discarded (reset on boot)`);
}

/** The volume became persistent: its current contents stay. */
export function dropSavedContents(t: FileTarget): void {
  fs.rmSync(savedPath(t), { force: true });
}
