// What the backend benchmarks share (backend.ts: io_uring and null engines
// against fio; spdk.ts: the SPDK engine's bdevs beside them): the workloads,
// fio as the baseline, one run of the simulated blkfront through a disk of
// the daemon with the daemon's CPU time and the request count, the table.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import type { SimHost } from '../harness/sim';

export const MiB = 1024 * 1024;
// The disk under a VM's file system varies from minute to minute, and one run's bandwidth with the
// physical layout of its buffers (see DiskShape): fio and xenblkd runs alternate, many short ones,
// and each xenblkd run is compared with the fio run of its round.
export const RUNTIME = Number(process.env.BENCH_RUNTIME ?? 2);
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 11);
export const FILE_MIB = Number(process.env.BENCH_FILE_MIB ?? 1024);

export interface Job {
  name: string;
  rw: 'randread' | 'randwrite' | 'read' | 'write';
  bs: string;
  queues: number;
  depth: number;
  /** Segments per request the guest uses; unset: blkfront's default (max_indirect_segments=32, 128 KiB). */
  indirectSegs?: number;
}

// The guest is a stock Linux blkfront: a 1 MiB I/O goes as 8 requests of 128 KiB.
const ALL_JOBS: Job[] = [
  { name: '4k randread', rw: 'randread', bs: '4k', queues: 4, depth: 32 },
  { name: '4k randwrite', rw: 'randwrite', bs: '4k', queues: 4, depth: 32 },
  { name: '1M seq read', rw: 'read', bs: '1m', queues: 1, depth: 8 },
  { name: '1M seq write', rw: 'write', bs: '1m', queues: 1, depth: 8 },
];
/**
 * A guest raised to blkfront's maximum (max_indirect_segments=256): one request per 1 MiB, 256
 * scattered guest pages, which a disk taking fewer segments (virtio: 254) splits in two.
 */
export const WIDE_JOBS: Job[] = [
  { name: '1M seq read (256-segment guest)', rw: 'read', bs: '1m', queues: 1, depth: 8, indirectSegs: 256 },
  { name: '1M seq write (256-segment guest)', rw: 'write', bs: '1m', queues: 1, depth: 8, indirectSegs: 256 },
];
// BENCH_JOBS="1M seq read,1M seq write" runs only those (when looking into one figure).
const only = process.env.BENCH_JOBS?.split(',').map((s) => s.trim());
export const selected = (jobs: Job[]) => (only ? jobs.filter((j) => only.includes(j.name)) : jobs);
export const JOBS = selected(ALL_JOBS);

export function fio(file: string, job: Job): { iops: number; mbs: number; latUs: number } {
  const r = spawnSync('fio', ['--name=base', `--filename=${file}`, '--ioengine=io_uring', '--direct=1', `--rw=${job.rw}`, `--bs=${job.bs}`,
    `--iodepth=${job.depth}`, `--numjobs=${job.queues}`, '--group_reporting', '--time_based', `--runtime=${RUNTIME}`, '--output-format=json'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`fio: ${r.stderr}`);
  const j = JSON.parse(r.stdout).jobs[0];
  const side = job.rw.includes('read') ? j.read : j.write;
  return { iops: side.iops, mbs: side.bw_bytes / 1e6, latUs: side.lat_ns.mean / 1000 };
}

export function cpuTicks(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime
}

export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/**
 * The requests the disk under a file saw, from its /sys/dev/block/M:m/stat. A 1 MiB request of
 * scattered 4 KiB pages needs 256 segments; a disk taking fewer (a virtio disk: 254) gets it split,
 * while physically contiguous pages merge into fewer, larger requests. fio's malloc'd buffers are
 * sometimes contiguous and sometimes not, so the size of the requests at the disk, more than the
 * program, sets a 1 MiB run's bandwidth on such a disk; the table prints it for both sides.
 */
export class DiskShape {
  private readonly stat: string | null;
  private ios = 0;
  private kib = 0;

  constructor(file: string, private readonly write: boolean) {
    const dev = fs.statSync(file).dev;
    const major = Math.floor(dev / 256) & 0xfff;
    const minor = (dev & 0xff) | ((Math.floor(dev / 4096) & ~0xff) >>> 0);
    const stat = `/sys/dev/block/${major}:${minor}/stat`;
    this.stat = fs.existsSync(stat) ? stat : null;
  }

  private sample(): [number, number] {
    if (!this.stat) return [0, 0];
    const f = fs.readFileSync(this.stat, 'utf8').trim().split(/\s+/).map(Number);
    return this.write ? [f[4], f[6] / 2] : [f[0], f[2] / 2]; // requests, 512-byte sectors
  }

  /** Runs `fn`, counting the requests the disk completed meanwhile. */
  async around<T>(fn: () => T | Promise<T>): Promise<T> {
    const [ios0, kib0] = this.sample();
    const r = await fn();
    const [ios1, kib1] = this.sample();
    this.ios += ios1 - ios0;
    this.kib += kib1 - kib0;
    return r;
  }

  /** Mean KiB per request at the disk over every run counted, or 'n/a' (no block device: tmpfs). */
  toString(): string {
    return this.stat && this.ios ? `${(this.kib / this.ios).toFixed(0)}` : 'n/a';
  }
}

let domid = 200;
export const nextDomid = () => domid++;

/** One guest run through a new disk of the daemon (`disk`: disk_add's engine and path). */
export interface BackendRun {
  iops: number;
  mbs: number;
  cpuUsPerReq: number;
  requests: number;
  /** Mean latency of a request as the guest saw it, and inside the backend (taken off the ring to answered). */
  guestLatUs: number;
  backendLatUs: number;
}

export async function throughBackend(host: SimHost, disk: object, job: Job): Promise<BackendRun> {
  const d = nextDomid();
  host.toolstack('create-domain', String(d), '--pages', '65536', '--grants', '16384');
  host.toolstack('add-vbd', String(d), '51712', '--kind', 'vbd');
  const name = `b${d}`;
  await host.rpc('disk_add', { name, backend: `backend/vbd/${d}/51712`, queues: job.queues, ...disk });
  const pid = host.daemon!.pid!;
  const before = cpuTicks(pid);
  const { done } = host.guest(d, ['--domid', String(d), '--no-progress', '--rw', job.rw, '--bs', job.bs, '--iodepth', String(job.depth), '--queues', String(job.queues),
    '--ring-order', '2', '--runtime', String(RUNTIME), '--timeout', '60', ...(job.indirectSegs ? ['--indirect-segs', String(job.indirectSegs)] : [])]);
  const r = await done;
  const ticks = cpuTicks(pid) - before;
  if (r.status !== 0) throw new Error(`guest: ${r.stdout.slice(-1000)} ${r.stderr.slice(-500)}`);
  const stats = await host.rpc<any>('disk_stats', { name });
  const requests = stats.queues.reduce((n: number, q: any) => n + q.reads + q.writes, 0);
  const backendLatUs = requests ? stats.queues.reduce((n: number, q: any) => n + q.latency_avg_us * (q.reads + q.writes), 0) / requests : 0;
  host.toolstack('destroy-domain', String(d));
  await host.rpc('disk_remove', { name }).catch(() => undefined);
  const hz = 100;
  return {
    iops: r.summary.iops, mbs: r.summary.mb_s.total, cpuUsPerReq: requests ? ((ticks / hz) * 1e6) / requests : 0, requests,
    guestLatUs: r.summary.latency_us.all.mean, backendLatUs,
  };
}


export const median = <T>(xs: T[], key: (x: T) => number): T => [...xs].sort((a, b) => key(a) - key(b))[Math.floor(xs.length / 2)];

/** Flushes `file` down to the disk under this machine (a VM's host writes back what it cached): the next run
 * does not pay for the writes of the one before. */
export function settle(file: string): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Pre-fills `file` with `mib` MiB through fio (reads of holes would measure nothing). */
export function prefill(file: string, mib: number): void {
  const fill = spawnSync('fio', ['--name=fill', `--filename=${file}`, `--size=${mib}m`, '--rw=write', '--bs=1m', '--ioengine=io_uring', '--direct=1', '--iodepth=8'], { encoding: 'utf8' });
  if (fill.status !== 0) throw new Error(fill.stderr);
}

export function printTable(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i])).join('  ');
  console.log(line(head));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(r));
}
