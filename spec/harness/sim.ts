// The simulated Xen host for tests, benchmarks and the demo: the simulated
// xenstored and hypervisor, our real backend daemon (xenblkd --platform sim)
// and simulated guests, each a real process. Everything lives in one
// temporary folder and stop() leaves no process behind.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO } from './xss';

export const NATIVE_BUILD = path.join(REPO, 'native', process.env.XENBLKD_SAN === '1' ? 'build/san' : 'build');
export const bin = (name: string) => path.join(NATIVE_BUILD, name);

/** Waits for a child to print `ready` on stdout (or on the given stream). */
function waitReady(child: ChildProcess, what: string, stream: NodeJS.ReadableStream | null, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`${what} not ready after ${timeoutMs} ms: ${seen}`)), timeoutMs);
    stream?.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code ?? signal}) before ready: ${seen}`));
    });
  });
}

/** Processes whose command line or environment names `dir` (ours all do, through their sockets). */
export function processesUsing(dir: string): number[] {
  const found: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8');
      const env = fs.readFileSync(`/proc/${name}/environ`, 'utf8');
      if (cmd.includes(dir) || env.includes(dir)) found.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/** SIGTERM, then SIGKILL if it has not exited within `ms`. */
export async function terminate(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), ms)));
  if (await Promise.race([exited.then(() => false), late])) {
    child.kill('SIGKILL');
    await exited;
  }
  clearTimeout(timer);
}

/**
 * One JSON-RPC 2.0 call on a Unix socket: the daemon's control socket, or
 * SPDK's RPC server in xenblkd-spdk (both end an answer with a newline).
 * `params` undefined is left out (SPDK refuses {} for methods without any).
 */
export function rpcOn<T = unknown>(socket: string, method: string, params?: object, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socket);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`${method}: no answer after ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('connect', () => sock.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method, ...(params ? { params } : {}) })));
    sock.on('data', (d) => {
      buf += d;
      if (!buf.includes('\n')) return;
      clearTimeout(timer);
      sock.end();
      const reply = JSON.parse(buf.slice(0, buf.indexOf('\n')));
      if (reply.error) reject(Object.assign(new Error(`${method}: ${reply.error.message}`), { code: reply.error.code }));
      else resolve(reply.result as T);
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

export interface SimDisk {
  domid: number;
  name: string;
  file: string;
}

export interface RpcError extends Error {
  code: number;
}

export class SimHost {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  private children: ChildProcess[] = [];
  private logs: string[] = [];
  daemon?: ChildProcess;
  daemonLog = '';

  private constructor(prefix: string) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    this.env = { ...process.env, XENSTORED_PATH: path.join(this.dir, 'socket'), XENSIM_HV_PATH: path.join(this.dir, 'hv') };
  }

  static async start(prefix = 'xensim-'): Promise<SimHost> {
    const host = new SimHost(prefix);
    try {
      host.xenstored = await host.startService(bin('xensim-xenstored'), host.xenstoredArgs(), 'xenstored');
      await host.startService(bin('xensim-hv'), ['--socket', host.env.XENSIM_HV_PATH!, '--xenstored', host.env.XENSTORED_PATH!], 'hv');
    } catch (e) {
      await host.stop();
      throw e;
    }
    return host;
  }

  /** The simulated xenstored; a live update (restartXenstored) keeps its store in this file. */
  xenstored?: ChildProcess;
  private xenstoredArgs(): string[] {
    return ['--dir', this.dir, '--state-file', path.join(this.dir, 'xenstored.state')];
  }

  /**
   * Restarts xenstored keeping its store, as oxenstored's live update: SIGUSR1 (the store goes
   * to the state file, the server exits, every connection drops), then a new server loads it.
   * `between` runs while no xenstored listens.
   */
  async restartXenstored(between?: () => Promise<void>): Promise<void> {
    const old = this.xenstored!;
    const exited = new Promise<number | null>((resolve) => old.once('exit', (code) => resolve(code)));
    old.kill('SIGUSR1');
    const code = await exited;
    if (code !== 0) throw new Error(`xenstored exited ${code} on SIGUSR1: ${this.serviceLog().slice(-2000)}`);
    await between?.();
    this.xenstored = await this.startService(bin('xensim-xenstored'), this.xenstoredArgs(), 'xenstored');
  }

  private async startService(file: string, args: string[], what: string): Promise<ChildProcess> {
    const child = spawn(file, args, { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.push(child);
    child.stderr!.on('data', (d) => this.logs.push(`${what}: ${d}`));
    await waitReady(child, what, child.stdout);
    return child;
  }

  /** Starts xenblkd (or `program`, e.g. xenblkd-spdk) on the simulated host; resolves once it is ready. */
  async startDaemon(extra: string[] = [], program = 'xenblkd'): Promise<void> {
    const child = spawn(bin(program), ['--platform', 'sim', '--socket', this.controlSocket, '--ready-fd', '3', ...extra], {
      env: this.env,
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    });
    this.daemon = child;
    this.children.push(child);
    child.stderr!.on('data', (d) => (this.daemonLog += d));
    await waitReady(child, 'xenblkd', child.stdio[3] as NodeJS.ReadableStream);
  }

  get controlSocket(): string {
    return path.join(this.dir, 'xenblkd.sock');
  }

  /** One JSON-RPC call on the daemon's control socket. */
  rpc<T = unknown>(method: string, params: object = {}, timeoutMs = 30_000): Promise<T> {
    return rpcOn<T>(this.controlSocket, method, params, timeoutMs);
  }

  /** Runs the toolstack stand-in (xl / xenopsd) synchronously. */
  toolstack(...args: string[]): string {
    const r = spawnSync(bin('xensim-toolstack'), args, { env: this.env, encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`xensim-toolstack ${args.join(' ')}: ${r.stderr || r.stdout}`);
    return r.stdout;
  }

  /** xenstore-read/-write through the real tools, as dom0. */
  xsRead(p: string): string | undefined {
    const r = spawnSync('xenstore-read', [p], { env: this.env, encoding: 'utf8' });
    return r.status === 0 ? r.stdout.replace(/\n$/, '') : undefined;
  }
  xsWrite(p: string, v: string): void {
    const r = spawnSync('xenstore-write', [p, v], { env: this.env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`xenstore-write ${p}: ${r.stderr}`);
  }

  /** Starts a simulated guest; `done` resolves with its exit and JSON summary. */
  guest(domid: number, args: string[]) {
    const env = { ...this.env, XENSTORED_PATH: path.join(this.dir, `socket.d${domid}`) };
    const child = spawn(bin('xensim-guest'), args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const done = new Promise<{ status: number | null; signal: NodeJS.Signals | null; summary: any; stdout: string; stderr: string }>((resolve) =>
      child.on('close', (status, signal) => {
        let summary: unknown;
        try {
          summary = JSON.parse(stdout);
        } catch {
          summary = undefined;
        }
        resolve({ status, signal, summary, stdout, stderr });
      }),
    );
    return { child, done };
  }

  nextDomid = 10;

  /**
   * A new domain with one vbd (devid 51712) served by the daemon from a fresh
   * sparse file, as the toolstack then the datapath would set it up.
   */
  async addDisk(opts: { features?: object; sizeMiB?: number; mode?: 'w' | 'r' } = {}): Promise<SimDisk> {
    const domid = this.nextDomid++;
    const file = path.join(this.dir, `disk${domid}.img`);
    fs.writeFileSync(file, '');
    fs.truncateSync(file, (opts.sizeMiB ?? 64) * 1024 * 1024);
    this.toolstack('create-domain', String(domid));
    this.toolstack('add-vbd', String(domid), '51712', '--kind', 'vbd', '--mode', opts.mode ?? 'w');
    const name = `d${domid}`;
    let where: object = { path: file };
    if (this.spdkSocket) {
      // The file behind an SPDK aio bdev (holes punched on UNMAP), served by the SPDK engine.
      await rpcOn(this.spdkSocket, 'bdev_aio_create', { name: `aio-${name}`, filename: file, block_size: 512, fallocate: true });
      where = { engine: 'spdk', path: `aio-${name}` };
    }
    await this.rpc('disk_add', { name, backend: `backend/vbd/${domid}/51712`, ...where, ...opts.features });
    return { domid, name, file };
  }

  /**
   * With an SPDK RPC socket, addDisk serves each disk's file through the SPDK
   * engine (an aio bdev); the daemon must be xenblkd-spdk started with it.
   */
  spdkSocket?: string;

  /** Starts xenblkd-spdk with no bdevs and SPDK's RPC server: addDisk then goes through the SPDK engine. */
  async startSpdkDaemon(extra: string[] = []): Promise<void> {
    const config = path.join(this.dir, 'spdk-empty.json');
    fs.writeFileSync(config, JSON.stringify({ subsystems: [{ subsystem: 'bdev', config: [] }] }));
    this.spdkSocket = path.join(this.dir, 'spdk.sock');
    await this.startDaemon([...extra, '--spdk-config', config, '--spdk-rpc', this.spdkSocket], 'xenblkd-spdk');
  }

  /** After the disk's file grew: an aio bdev must look at its file again before disk_resize. */
  async fileGrew(d: SimDisk): Promise<void> {
    if (this.spdkSocket) await rpcOn(this.spdkSocket, 'bdev_aio_rescan', { name: `aio-${d.name}` });
  }

  serviceLog(): string {
    return this.logs.join('');
  }

  /** Stops everything (daemon politely first) and removes the folder. */
  async stop(): Promise<void> {
    let daemonFailed = '';
    if (this.daemon) {
      const running = this.daemon.exitCode === null && this.daemon.signalCode === null;
      await terminate(this.daemon, 10_000);
      // A clean SIGTERM exit is 0; under the sanitizers a leak or error at exit is not.
      if (running && this.daemon.exitCode !== 0) daemonFailed = `xenblkd exited ${this.daemon.exitCode ?? this.daemon.signalCode}: ${this.daemonLog.slice(-3000)}`;
    }
    for (const c of this.children.reverse()) await terminate(c, 5_000);
    const left = processesUsing(this.dir);
    for (const pid of left) process.kill(pid, 'SIGKILL');
    fs.rmSync(this.dir, { recursive: true, force: true });
    if (left.length) throw new Error(`processes were left behind in ${this.dir}: ${left.join(', ')}`);
    if (daemonFailed) throw new Error(daemonFailed);
  }
}
