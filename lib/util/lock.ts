// Cross-process locks with flock(2): the kernel drops them when a process
// dies, so a killed plugin never leaves a stale lock. Waiting is bounded.
import * as fs from 'node:fs';
import { errors } from '../wire/errors';
import { config } from './config';
import { flock, LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN } from './libc';

export type LockMode = 'shared' | 'exclusive';

export interface Lock {
  readonly fd: number;
  readonly path: string;
  release(): void;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/**
 * Locks `path` (creating it when `create`). Returns undefined when the file
 * does not exist or was unlinked while we waited: the caller's object is gone.
 */
export function lockFile(path: string, mode: LockMode, opts: { create?: boolean; what?: string } = {}): Lock | undefined {
  const deadline = Date.now() + config().lockTimeoutMs;
  const op = (mode === 'shared' ? LOCK_SH : LOCK_EX) | LOCK_NB;
  let fd: number;
  try {
    fd = fs.openSync(path, opts.create ? fs.constants.O_RDWR | fs.constants.O_CREAT : fs.constants.O_RDONLY, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let wait = 2;
  while (!flock(fd, op)) {
    if (Date.now() >= deadline) {
      fs.closeSync(fd);
      throw errors.busy(`timed out after ${config().lockTimeoutMs} ms waiting for ${opts.what ?? path}`);
    }
    sleepMs(wait);
    wait = Math.min(wait * 2, 100);
  }
  // Whoever held it may have deleted the file before letting go.
  if (fs.fstatSync(fd).nlink === 0) {
    fs.closeSync(fd);
    return undefined;
  }
  return held(fd, path);
}

function held(fd: number, path: string): Lock {
  return {
    fd,
    path,
    release() {
      flock(fd, LOCK_UN);
      fs.closeSync(fd);
    },
  };
}

/** Tries once, without waiting; undefined if held elsewhere or gone. */
export function tryLockFile(path: string, mode: LockMode): Lock | undefined {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY);
  } catch {
    return undefined;
  }
  if (!flock(fd, (mode === 'shared' ? LOCK_SH : LOCK_EX) | LOCK_NB) || fs.fstatSync(fd).nlink === 0) {
    fs.closeSync(fd);
    return undefined;
  }
  return held(fd, path);
}

export function withLock<T>(lock: Lock, body: () => T): T {
  try {
    return body();
  } finally {
    lock.release();
  }
}
