// The C shim (native/shim) through ffi-rs: start, stop and watch backend
// daemons. Strings go in, messages come back in a buffer we own (ffi-rs
// fills it in place): no strings or structs returned across the boundary.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as FfiRs from 'ffi-rs';

const LIBRARY = 'xenblk-shim';
const ERR_LEN = 1024;

export class ShimError extends Error {}

/** Where the library is: $XAPI_SPDK_SHIM, beside the program, or the checkout's native build. */
export function shimPath(): string {
  const candidates = [
    process.env.XAPI_SPDK_SHIM,
    path.join(__dirname, 'libxenblk-shim.so'),
    path.join(__dirname, '..', 'native', 'build', 'libxenblk-shim.so'),
    path.join(__dirname, '..', '..', 'native', 'build', 'libxenblk-shim.so'),
  ].filter((p): p is string => !!p);
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new ShimError(`libxenblk-shim.so not found (looked in ${candidates.join(', ')})`);
  return found;
}

let ffi: typeof FfiRs | undefined;
function lib(): typeof FfiRs {
  if (!ffi) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ffi = require('ffi-rs') as typeof FfiRs;
    ffi.open({ library: LIBRARY, path: shimPath() });
  }
  return ffi;
}

function message(buf: Buffer): string {
  const end = buf.indexOf(0);
  return buf.subarray(0, end < 0 ? buf.length : end).toString('utf8');
}

/**
 * Starts `program args...` as a daemon, with `env` added to our environment;
 * returns its pid once it said it is ready.
 */
export function startDaemon(program: string, args: string[], logPath: string, timeoutMs: number, env: Record<string, string> = {}): number {
  if (args.some((a) => a.includes('\n'))) throw new ShimError('daemon arguments may not contain newlines');
  const envLines = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  if (envLines.some((l) => l.includes('\n')) || Object.keys(env).some((k) => !k || k.includes('='))) throw new ShimError('bad environment entry');
  const f = lib();
  const err = Buffer.alloc(ERR_LEN);
  const pid = f.load({
    library: LIBRARY,
    funcName: 'xbs_start',
    retType: f.DataType.I32,
    paramsType: [f.DataType.String, f.DataType.String, f.DataType.String, f.DataType.String, f.DataType.I32, f.DataType.U8Array, f.DataType.I32],
    paramsValue: [program, args.join('\n'), envLines.join('\n'), logPath, timeoutMs, err, ERR_LEN],
  }) as number;
  if (pid <= 0) throw new ShimError(message(err) || `cannot start ${program}`);
  return pid;
}

/** Stops a daemon (ours or an earlier process's): 'stopped' politely or 'killed'. */
export function stopDaemon(pid: number, timeoutMs: number): 'stopped' | 'killed' {
  const f = lib();
  const err = Buffer.alloc(ERR_LEN);
  const r = f.load({
    library: LIBRARY,
    funcName: 'xbs_stop',
    retType: f.DataType.I32,
    paramsType: [f.DataType.I32, f.DataType.I32, f.DataType.U8Array, f.DataType.I32],
    paramsValue: [pid, timeoutMs, err, ERR_LEN],
  }) as number;
  if (r < 0) throw new ShimError(message(err) || `cannot stop ${pid}`);
  return r === 0 ? 'stopped' : 'killed';
}

/** True if `pid` runs a program named `exeName` (guards against pid reuse). */
export function daemonAlive(pid: number, exeName: string): boolean {
  const f = lib();
  return (
    f.load({
      library: LIBRARY,
      funcName: 'xbs_alive',
      retType: f.DataType.I32,
      paramsType: [f.DataType.I32, f.DataType.String],
      paramsValue: [pid, exeName],
    }) === 1
  );
}

/** A JSON-RPC error the daemon answered with (the call reached it). */
export class DaemonRpcError extends Error {
  constructor(
    readonly method: string,
    readonly code: number,
    message: string,
  ) {
    super(`${method}: ${message}`);
  }
}

const RESPONSE_LEN = 1 << 20;
let nextId = 1;

/**
 * One JSON-RPC 2.0 call on a daemon's control socket, synchronously, through
 * the shim. Throws ShimError when the daemon cannot be reached or does not
 * answer in time, DaemonRpcError when it answers with an error. A null
 * `params` is left out (SPDK refuses {} for methods without parameters).
 */
export function callDaemon<T = unknown>(socket: string, method: string, params: object | null = {}, timeoutMs = 10_000): T {
  const f = lib();
  const err = Buffer.alloc(ERR_LEN);
  const response = Buffer.alloc(RESPONSE_LEN);
  const id = nextId++;
  const n = f.load({
    library: LIBRARY,
    funcName: 'xbs_call',
    retType: f.DataType.I32,
    paramsType: [f.DataType.String, f.DataType.String, f.DataType.I32, f.DataType.U8Array, f.DataType.I32, f.DataType.U8Array, f.DataType.I32],
    paramsValue: [socket, JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === null ? {} : { params }) }), timeoutMs, response, RESPONSE_LEN, err, ERR_LEN],
  }) as number;
  if (n < 0) throw new ShimError(message(err) || `${method}: no answer from ${socket}`);
  let reply: { id?: unknown; result?: T; error?: { code?: number; message?: string } };
  try {
    reply = JSON.parse(response.subarray(0, n).toString('utf8'));
  } catch {
    throw new ShimError(`${method}: ${socket} answered with something that is not JSON`);
  }
  if (reply.id !== id) throw new ShimError(`${method}: ${socket} answered another request`);
  if (reply.error) throw new DaemonRpcError(method, reply.error.code ?? 0, reply.error.message ?? 'unknown error');
  return reply.result as T;
}
