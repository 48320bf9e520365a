// Crash-safe small files: write a temporary, fsync it, rename it over the
// target, fsync the directory. A reader sees the old or the new file, whole.
import * as fs from 'node:fs';
import * as path from 'node:path';

let counter = 0;

export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Atomically replaces `target`; the temporary lives in `tmpDir` (same filesystem). */
export function writeFileAtomic(target: string, data: string, tmpDir = path.dirname(target)): void {
  const tmp = path.join(tmpDir, `.${path.basename(target)}.${process.pid}.${counter++}.tmp`);
  const fd = fs.openSync(tmp, 'wx', 0o644);
  try {
    try {
      fs.writeSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(path.dirname(target));
}

export function writeJsonAtomic(target: string, value: unknown, tmpDir?: string): void {
  writeFileAtomic(target, `${JSON.stringify(value, null, 1)}\n`, tmpDir);
}

/** Reads a JSON file; undefined when it does not exist. */
export function readJson<T>(file: string): T | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  return JSON.parse(text) as T;
}
