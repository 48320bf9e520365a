// The few libc calls Node lacks (flock, syslog), through ffi-rs. Loaded on
// first use so that read-only plugin calls never pay for the native module.
import type * as FfiRs from 'ffi-rs';

let ffi: typeof FfiRs | undefined;

function lib(): typeof FfiRs {
  if (!ffi) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ffi = require('ffi-rs') as typeof FfiRs;
    ffi.open({ library: 'libc', path: 'libc.so.6' });
  }
  return ffi;
}

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;
const EWOULDBLOCK = 11;
const EINTR = 4;

/** flock(2); returns false when LOCK_NB was given and the lock is held elsewhere. */
export function flock(fd: number, operation: number): boolean {
  const f = lib();
  for (;;) {
    const r = f.load({
      library: 'libc',
      funcName: 'flock',
      retType: f.DataType.I32,
      paramsType: [f.DataType.I32, f.DataType.I32],
      paramsValue: [fd, operation],
      errno: true,
    }) as { value: number; errnoCode: number; errnoMessage: string };
    if (r.value === 0) return true;
    if (r.errnoCode === EWOULDBLOCK) return false;
    if (r.errnoCode !== EINTR) throw new Error(`flock(${fd}): ${r.errnoMessage}`);
  }
}

const LOG_LOCAL2 = 18 << 3;
// openlog keeps the ident pointer for later syslog calls: it must outlive
// the call, so it lives in a heap string held here for the whole process.
let syslogIdent: unknown[] | undefined;

/** syslog(3) with facility local2 and ident "SMAPIv3", as XCP-ng's Python plugins log. */
export function syslog(priority: number, message: string): void {
  const f = lib();
  if (!syslogIdent) {
    syslogIdent = f.unwrapPointer(f.createPointer({ paramsType: [f.DataType.String], paramsValue: [SYSLOG_IDENT] }));
    f.load({
      library: 'libc',
      funcName: 'openlog',
      retType: f.DataType.Void,
      paramsType: [f.DataType.External, f.DataType.I32, f.DataType.I32],
      paramsValue: [syslogIdent[0], 0, LOG_LOCAL2],
    });
  }
  f.load({
    library: 'libc',
    funcName: 'syslog',
    retType: f.DataType.Void,
    paramsType: [f.DataType.I32, f.DataType.String, f.DataType.String],
    paramsValue: [LOG_LOCAL2 | priority, '%s', message],
  });
}
const SYSLOG_IDENT = 'SMAPIv3';
