// Helpers for the concurrency and crash tests: asynchronous calls read the
// way xapi-storage-script reads them, and a check of the on-disk invariants
// of a file SR (lib/store/file/layout.ts).
import type { VolumeMetadata } from '../../lib/store/file/volumes';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod/mini';
import { findMethod } from '../../lib/wire/methods';
import { decodeEnvelope, type RpcType } from '../harness/rpclib';
import { interpret, PluginError, ScriptFailed, type Envelope, type Host, type RawOutcome } from '../harness/xss';

export type Outcome<T> = { ok: true; value: T; raw: RawOutcome } | { ok: false; envelope: Envelope; raw: RawOutcome };

/**
 * What the daemon makes of a finished call: a decoded result (also checked
 * against the method's strict result schema, as Host.call does), or a
 * well-formed error envelope. Anything else (a signal, bad JSON, a malformed
 * envelope, a result of the wrong type) is SCRIPT_FAILED and throws.
 */
export function judge<T>(method: string, raw: RawOutcome, type: RpcType): Outcome<T> {
  try {
    const value = interpret(method, raw, type) as T;
    const checked = findMethod(method)!.result.safeParse(JSON.parse(raw.stdout));
    if (!checked.success) throw new Error(`${method} result does not fit its schema: ${z.prettifyError(checked.error)}: ${raw.stdout}`);
    return { ok: true, value, raw };
  } catch (e) {
    if (e instanceof PluginError) {
      // interpret() already decoded it; decode again to be explicit about the contract.
      decodeEnvelope(JSON.parse(raw.stdout));
      return { ok: false, envelope: e.envelope, raw };
    }
    if (e instanceof ScriptFailed) throw new ScriptFailed(`${e.message}\nstderr: ${raw.stderr}`);
    throw new Error(`${method}: result does not decode: ${(e as Error).message}: ${raw.stdout}`);
  }
}

/** Runs one volume-plugin call asynchronously and judges it. */
export async function callAsync<T = unknown>(host: Host, method: string, args: object, type: RpcType): Promise<Outcome<T>> {
  const { done } = host.spawn('volume', method, args);
  return judge<T>(method, await done, type);
}

/** The SMAPIv3 error name inside SR_BACKEND_FAILURE [Name, detail], else the code. */
export function errorName(env: Envelope): string {
  return env.code === 'SR_BACKEND_FAILURE' ? (env.params[0] ?? env.code) : env.code;
}

export function srRoot(sr: string): string {
  return fileURLToPath(sr);
}

/** A volume's sidecar, as the store writes it. */
export type VolumeJson = VolumeMetadata;

/**
 * Checks the on-disk invariants of an SR and returns its volumes' metadata:
 * every volumes/<key>.json parses, names its own key and has <key>.img; no
 * .img without .json; nothing else in volumes/; tmp/ empty.
 */
export function checkSrFiles(root: string): Map<string, VolumeJson> {
  const volumesDir = path.join(root, 'volumes');
  const names = fs.readdirSync(volumesDir);
  const problems: string[] = [];
  const found = new Map<string, VolumeJson>();
  for (const name of names) {
    if (name.endsWith('.json')) {
      const key = name.slice(0, -5);
      const text = fs.readFileSync(path.join(volumesDir, name), 'utf8');
      let meta: VolumeJson;
      try {
        meta = JSON.parse(text) as VolumeJson;
      } catch (e) {
        problems.push(`${name} is not valid JSON (${(e as Error).message}): ${JSON.stringify(text.slice(0, 200))}`);
        continue;
      }
      if (meta.key !== key) problems.push(`${name} has key ${meta.key}`);
      if (meta.format !== 1 || typeof meta.read_write !== 'boolean' || typeof meta.keys !== 'object' || meta.keys === null) {
        problems.push(`${name} is not volume metadata: ${text}`);
      }
      if (!names.includes(`${key}.img`)) problems.push(`${name} has no image`);
      found.set(key, meta);
    } else if (name.endsWith('.img')) {
      if (!names.includes(`${name.slice(0, -4)}.json`)) problems.push(`orphan image ${name}`);
    } else {
      problems.push(`unexpected file volumes/${name}`);
    }
  }
  const tmp = fs.readdirSync(path.join(root, 'tmp'));
  if (tmp.length) problems.push(`tmp/ is not empty: ${tmp.join(', ')}`);
  if (problems.length) throw new Error(`SR ${root} is inconsistent:\n  ${problems.join('\n  ')}`);
  return found;
}

/** Resolves once `cond` holds, polling; rejects after `timeoutMs`. */
export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** True when an exclusive flock on `file` can be taken right now (util-linux flock -n). */
export function lockFree(file: string): boolean {
  const r = spawnSync('flock', ['-n', '-x', file, 'true']);
  return r.status === 0;
}

/**
 * A helper process holding an flock on `file` (util-linux flock(1) takes it on
 * fd 9, then the shell becomes `sleep`, which keeps the fd: one process to
 * kill). Resolves once the lock is held.
 */
export async function holdLock(file: string, mode: 'exclusive' | 'shared', seconds = 10): Promise<ChildProcess> {
  const child = spawn('bash', ['-c', `exec 9<"$1"; flock ${mode === 'shared' ? '-s' : '-x'} 9; echo locked; exec sleep ${seconds}`, 'holdLock', file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`lock holder exited early (${code})`)));
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('locked')) resolve();
    });
  });
  child.removeAllListeners('exit');
  return child;
}

/** Kills a child we started and waits for it to be gone. */
export async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A small deterministic PRNG, seeded from the environment when given, for reproducible runs. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

/**
 * Follows a Host's plugin log (inotify, with a polling fallback) to learn the
 * moment each call logs "called with": its arguments are parsed and its work
 * begins. Calls are told apart by their unique dbg.
 */
export class LogWatch {
  readonly started = new Map<string, number>();
  private offset = 0;
  private partial = '';
  private readonly waiters = new Map<string, () => void>();
  private readonly watcher: fs.FSWatcher;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly file: string) {
    fs.appendFileSync(file, '');
    this.watcher = fs.watch(file, () => this.poll());
    this.timer = setInterval(() => this.poll(), 20);
  }

  private poll(): void {
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return;
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size <= this.offset) return;
      const buf = Buffer.alloc(size - this.offset);
      fs.readSync(fd, buf, 0, buf.length, this.offset);
      this.offset = size;
      const lines = (this.partial + buf.toString('utf8')).split('\n');
      this.partial = lines.pop() ?? '';
      const now = Date.now();
      for (const line of lines) {
        const m = / - INFO - \S+: called with (\{.*\})$/.exec(line);
        if (!m) continue;
        let dbg: string | undefined;
        try {
          dbg = (JSON.parse(m[1]) as { dbg?: string }).dbg;
        } catch {
          continue;
        }
        if (!dbg) continue;
        this.started.set(dbg, now);
        this.waiters.get(dbg)?.();
        this.waiters.delete(dbg);
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Resolves when the call with this dbg has logged its start. */
  whenStarted(dbg: string): Promise<void> {
    this.poll();
    if (this.started.has(dbg)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.set(dbg, resolve));
  }

  /** Reads what is left (after the calls have ended). */
  flush(): void {
    this.poll();
  }

  close(): void {
    this.watcher.close();
    clearInterval(this.timer);
  }
}

/**
 * Resolves when process `pid` has a file under one of `dirs` open (seen in
 * /proc/<pid>/fd, polled every millisecond): it is then inside its work on
 * them, e.g. holding a volume's lock. Never resolves if that does not happen;
 * call the returned stop() once the process is gone.
 */
export function whenOpens(pid: number, dirs: string[]): { touched: Promise<void>; stop: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const touched = new Promise<void>((resolve) => {
    timer = setInterval(() => {
      let fds: string[];
      try {
        fds = fs.readdirSync(`/proc/${pid}/fd`);
      } catch {
        clearInterval(timer);
        return;
      }
      for (const fd of fds) {
        let target: string;
        try {
          target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          continue;
        }
        if (dirs.some((d) => target.startsWith(d))) {
          clearInterval(timer);
          resolve();
          return;
        }
      }
    }, 1);
  });
  return { touched, stop: () => clearInterval(timer) };
}
