// Runs the built plugin executables exactly as xapi-storage-script does
// (reference 1.4, 2.1-2.6): the method file found case-insensitively in the
// plugin directory, which must be a regular executable file (symlinks
// followed); argv [path, "--json"]; the argument object on stdin with no
// trailing newline, then EOF; stdout parsed as one JSON value; a non-zero
// exit carries the error envelope.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decode, decodeEnvelope, type RpcType } from './rpclib';
import { findMethod } from '../../lib/wire/methods';
import * as z from 'zod/mini';

/** The checkout: the nearest folder above this file (or the bundle made from it) with plugins/. */
function findRepo(start: string): string {
  for (let dir = start; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'plugins', 'volume'))) return dir;
  }
  throw new Error(`no plugins/ directory above ${start}`);
}
export const REPO = findRepo(__dirname);
export const PLUGIN_DIRS = {
  volume: path.join(REPO, 'plugins/volume/org.xen.xapi.storage.spdk'),
  datapath: path.join(REPO, 'plugins/datapath/spdk'),
};
export type Kind = keyof typeof PLUGIN_DIRS;

export interface Envelope {
  code: string;
  params: string[];
  backtrace: { error: string; files: string[]; lines: number[] };
}

export class PluginError extends Error {
  constructor(
    readonly method: string,
    readonly envelope: Envelope,
  ) {
    super(`${method} failed: ${envelope.code} ${JSON.stringify(envelope.params)}`);
  }
}

/** A failure xapi-storage-script itself would report (SCRIPT_FAILED and friends). */
export class ScriptFailed extends Error {}

export interface RawOutcome {
  stdout: string;
  stderr: string;
  status: number | null;
  signal: NodeJS.Signals | null;
}

/** The method's executable, looked up as the daemon does. */
export function scriptPath(kind: Kind, method: string, dir = PLUGIN_DIRS[kind]): string {
  const match = fs.readdirSync(dir).find((f) => f.toLowerCase() === method.toLowerCase());
  if (!match) throw new ScriptFailed(`SCRIPT_MISSING ${path.join(dir, method)}`);
  const file = path.join(dir, match);
  const st = fs.statSync(file);
  if (!st.isFile()) throw new ScriptFailed(`SCRIPT_MISSING ${file} is not a regular file`);
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch {
    throw new ScriptFailed(`SCRIPT_NOT_EXECUTABLE ${file}`);
  }
  return file;
}

/** Per-test host: its own runtime dir, mount dir and log file, under one temporary folder. */
export class Host {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  /** Where the plugin directories are: the checkout's, or an installed tree's. */
  dirs: Record<Kind, string> = { ...PLUGIN_DIRS };
  constructor(prefix = 'xss-') {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    for (const d of ['run', 'mnt', 'srs']) fs.mkdirSync(path.join(this.dir, d));
    this.env = {
      ...process.env,
      XAPI_SPDK_RUN_DIR: path.join(this.dir, 'run'),
      XAPI_SPDK_MOUNT_DIR: path.join(this.dir, 'mnt'),
      XAPI_SPDK_LOG_FILE: path.join(this.dir, 'plugin.log'),
      XAPI_SPDK_STATE_DIR: path.join(this.dir, 'state'),
    };
  }
  get srsDir(): string {
    return path.join(this.dir, 'srs');
  }
  log(): string {
    try {
      return fs.readFileSync(path.join(this.dir, 'plugin.log'), 'utf8');
    } catch {
      return '';
    }
  }
  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Runs the script and returns what the daemon would see, without interpreting it. */
  raw(kind: Kind, method: string, stdin: string, extraEnv: NodeJS.ProcessEnv = {}): RawOutcome {
    const r = spawnSync(scriptPath(kind, method, this.dirs[kind]), ['--json'], { input: stdin, env: { ...this.env, ...extraEnv }, encoding: 'utf8', timeout: 120_000 });
    return { stdout: r.stdout, stderr: r.stderr, status: r.status, signal: r.signal };
  }

  /** Same, asynchronously: for parallel calls and for killing a call midway. */
  spawn(kind: Kind, method: string, args: object) {
    const child = spawn(scriptPath(kind, method, this.dirs[kind]), ['--json'], { env: this.env, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(JSON.stringify(args));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const done = new Promise<RawOutcome>((resolve) => child.on('close', (status, signal) => resolve({ stdout, stderr, status, signal })));
    return { child, done };
  }

  /**
   * A call that must succeed; the result decoded as rpclib would, into
   * `type`, and checked against the method's strict result schema.
   */
  call<T = unknown>(kind: Kind, method: string, args: object, type: RpcType): T {
    const out = this.raw(kind, method, JSON.stringify(args));
    const decoded = interpret(method, out, type);
    const schema = findMethod(method)?.result;
    if (!schema) throw new Error(`no schema for ${method}`);
    const checked = schema.safeParse(JSON.parse(out.stdout));
    if (!checked.success) throw new Error(`${method} result does not fit its schema: ${z.prettifyError(checked.error)}`);
    return decoded as T;
  }

  /** A call that must fail with a well-formed envelope; returns the envelope. */
  fail(kind: Kind, method: string, args: object | string): Envelope {
    const text = typeof args === 'string' ? args : JSON.stringify(args);
    const out = this.raw(kind, method, text);
    try {
      interpret(method, out, 'unit');
    } catch (e) {
      if (e instanceof PluginError) return e.envelope;
      throw e;
    }
    throw new Error(`${method} succeeded but was expected to fail: ${out.stdout}`);
  }
}

/** The daemon's reading of a finished script (XSS-new fork_exec_rpc / return_rpc). */
export function interpret(method: string, out: RawOutcome, type: RpcType): unknown {
  if (out.signal) throw new ScriptFailed(`SCRIPT_FAILED ${method} signalled ${out.signal}`);
  let value: unknown;
  try {
    value = JSON.parse(out.stdout);
  } catch {
    throw new ScriptFailed(`SCRIPT_FAILED ${method}: bad json on stdout (exit ${out.status}): ${JSON.stringify(out.stdout)} stderr: ${out.stderr}`);
  }
  if (out.status !== 0) {
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(value);
    } catch (e) {
      throw new ScriptFailed(`SCRIPT_FAILED ${method}: non-zero exit and bad json on stdout: ${(e as Error).message}: ${out.stdout}`);
    }
    throw new PluginError(method, envelope);
  }
  return decode(type, value);
}
