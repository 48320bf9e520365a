// xapi and xenopsd played over the simulator: the plugin executables called
// as xapi-storage-script calls them (xss.ts), the xenstore entries xenopsd
// writes for a qdisk VBD (reference smapiv3.md 5.1, through
// xensim-toolstack), and simulated guests that find our backend there. The
// datapath plugin starts the real daemon on the simulated platform.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backendType, T } from './rpclib';
import { srCreate, vdiCreate, type Volume } from './fixtures';
import { bin, processesUsing, SimHost } from './sim';
import { Host } from './xss';

export interface Attached {
  xenDisk: { params: string; extra: Record<string, string>; backend_type: string };
  nbdUri: string;
}

export interface Plugged {
  domid: number;
  devid: number;
  backend: string;
}

/** The NBD URI's socket and export name (xapi parses it the same strict way). */
export function parseNbdUri(uri: string): { socket: string; exportName: string } {
  const m = /^nbd:unix:([^:]+):exportname=(.+)$/.exec(uri);
  if (!m) throw new Error(`not an Nbd URI: ${uri}`);
  return { socket: m[1], exportName: m[2] };
}

export class XapiSim {
  sr = '';
  private domains = new Set<number>();

  private constructor(
    readonly sim: SimHost,
    readonly host: Host,
  ) {}

  /** A simulated host with one SR attached: a file SR, or the one `configure` describes (e.g. an SPDK SR). */
  static async start(prefix = 'xapi-sim-', configure?: (host: Host) => Record<string, string>): Promise<XapiSim> {
    const sim = await SimHost.start(prefix);
    const host = new Host(prefix);
    Object.assign(host.env, {
      XENSTORED_PATH: sim.env.XENSTORED_PATH,
      XENSIM_HV_PATH: sim.env.XENSIM_HV_PATH,
      XAPI_SPDK_PLATFORM: 'sim',
      XAPI_SPDK_HOST_UUID: 'c0ffee00-0000-4000-8000-000000000001',
      XAPI_SPDK_XENBLKD: bin('xenblkd'),
      XAPI_SPDK_XENBLKD_SPDK: bin('xenblkd-spdk'),
      XAPI_SPDK_DAEMON_LOG_DIR: path.join(host.dir, 'daemon-logs'),
    });
    const x = new XapiSim(sim, host);
    try {
      x.sr = srCreate(host, configure ? configure(host) : { path: host.srsDir }, 'simulated SR').sr;
    } catch (e) {
      await x.stop().catch(() => undefined);
      throw e;
    }
    return x;
  }

  get runDir(): string {
    return this.host.env.XAPI_SPDK_RUN_DIR!;
  }

  volume(sizeBytes: number, name = 'disk', sharable = false): Volume {
    return vdiCreate(this.host, this.sr, sizeBytes, name, sharable);
  }

  stat(key: string): Volume {
    return this.host.call<Volume>('volume', 'Volume.stat', { dbg: 'xapi', sr: this.sr, key }, T.volume);
  }

  /** VBD.plug's storage half: Volume.stat, Datapath.attach, Volume.stat, Datapath.activate. */
  attach(key: string, domain: string): Attached {
    const uri = this.stat(key).uri[0];
    const b = this.host.call<{ implementations: [string, any][] }>('datapath', 'Datapath.attach', { dbg: 'xapi', uri, domain }, backendType);
    const xenDisk = b.implementations.find(([k]) => k === 'XenDisk')?.[1];
    const nbd = b.implementations.find(([k]) => k === 'Nbd')?.[1];
    if (!xenDisk || !nbd) throw new Error(`attach returned ${JSON.stringify(b)}`);
    return { xenDisk, nbdUri: nbd.uri };
  }

  datapath(method: 'activate' | 'deactivate' | 'detach', key: string, domain: string): void {
    const uri = this.stat(key).uri[0];
    this.host.call('datapath', `Datapath.${method}`, { dbg: 'xapi', uri, domain }, T.unit);
  }

  /** What xenopsd writes for a qdisk VBD, then waits for hotplug-status (Device.Vbd.add). */
  plug(att: Attached, domid: number, devid = 51712, mode: 'w' | 'r' = 'w'): Plugged {
    if (!this.domains.has(domid)) {
      this.sim.toolstack('create-domain', String(domid));
      this.domains.add(domid);
    }
    const extra = { ...att.xenDisk.extra, 'backend-kind': att.xenDisk.backend_type };
    const keys = Object.entries(extra).flatMap(([k, v]) => ['--backend-key', `sm-data/${k}=${v}`]);
    // No BlockDevice or File: params is the Nbd URI and qemu-params XenDisk.params.
    this.sim.toolstack('--timeout', '20', 'add-vbd', String(domid), String(devid), '--kind', att.xenDisk.backend_type, '--mode', mode, '--params', att.nbdUri, '--backend-key', `qemu-params=${att.xenDisk.params}`, ...keys, '--wait-hotplug');
    return { domid, devid, backend: `/local/domain/0/backend/${att.xenDisk.backend_type}/${domid}/${devid}` };
  }

  /**
   * Clean VBD unplug (online=0, Closing, wait, remove). When the wait runs
   * out xenopsd removes the device all the same; so does this (exit 1).
   */
  unplug(p: Plugged, opts: { timeoutS?: number } = {}): 'clean' | 'timed out' {
    const r = spawnSync(bin('xensim-toolstack'), ['--timeout', String(opts.timeoutS ?? 20), 'remove-vbd', String(p.domid), String(p.devid), '--kind', 'qdisk'], { env: this.sim.env, encoding: 'utf8', timeout: 60_000 });
    if (r.status === 0) return 'clean';
    if (r.status === 1) return 'timed out';
    throw new Error(`remove-vbd ${p.domid} ${p.devid}: ${r.stderr || r.stdout}`);
  }

  destroyDomain(domid: number): void {
    this.sim.toolstack('destroy-domain', String(domid));
    this.domains.delete(domid);
  }

  /** VM start for one disk: attach, activate, plug. */
  vmStart(key: string, domid: number, devid = 51712): Plugged & Attached {
    const att = this.attach(key, String(domid));
    this.datapath('activate', key, String(domid));
    return { ...att, ...this.plug(att, domid, devid) };
  }

  /** VM shutdown for one disk: unplug, deactivate, detach, domain destroyed. */
  vmShutdown(key: string, p: Plugged): void {
    this.unplug(p);
    this.datapath('deactivate', key, String(p.domid));
    this.datapath('detach', key, String(p.domid));
    this.destroyDomain(p.domid);
  }

  /** Daemons still running for this host, and datapath files left in the run directory. */
  leftovers(): { daemons: number[]; files: string[] } {
    const daemons = processesUsing(this.host.dir).filter((pid) => {
      try {
        return /xenblkd(-spdk)?$/.test(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]);
      } catch {
        return false;
      }
    });
    const dir = path.join(this.runDir, 'datapath');
    const files = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
    return { daemons, files };
  }

  daemonLogs(): string {
    const dir = this.host.env.XAPI_SPDK_DAEMON_LOG_DIR!;
    if (!fs.existsSync(dir)) return '';
    return fs
      .readdirSync(dir)
      .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'))
      .join('\n');
  }

  async stop(): Promise<void> {
    const left = this.leftovers();
    for (const pid of left.daemons) process.kill(pid, 'SIGKILL');
    try {
      await this.sim.stop();
    } finally {
      this.host.cleanup();
    }
    if (left.daemons.length) throw new Error(`daemons left behind: ${left.daemons.join(', ')}`);
  }
}
