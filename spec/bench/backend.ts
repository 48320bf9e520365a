// Backend benchmark (prints figures; not a timed test). In one run on this
// machine: fio with io_uring on a pre-filled file as the baseline, and the
// same workloads through xenblkd (io_uring engine on the same file) driven by
// the simulated blkfront, alternating; then the null engine to isolate the
// backend's own cost. Prints a table with the ratios against design.md's targets.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SimHost } from '../harness/sim';

const MiB = 1024 * 1024;
const RUNTIME = Number(process.env.BENCH_RUNTIME ?? 5);
// The disk under a VM's file system varies from minute to minute: fio and xenblkd runs
// alternate, ROUNDS times each, and the medians are compared.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const FILE_MIB = Number(process.env.BENCH_FILE_MIB ?? 1024);

interface Job {
  name: string;
  rw: 'randread' | 'randwrite' | 'read' | 'write';
  bs: string;
  queues: number;
  depth: number;
}

const JOBS: Job[] = [
  { name: '4k randread', rw: 'randread', bs: '4k', queues: 4, depth: 32 },
  { name: '4k randwrite', rw: 'randwrite', bs: '4k', queues: 4, depth: 32 },
  { name: '1M seq read', rw: 'read', bs: '1m', queues: 1, depth: 8 },
  { name: '1M seq write', rw: 'write', bs: '1m', queues: 1, depth: 8 },
];

function fio(file: string, job: Job): { iops: number; mbs: number } {
  const r = spawnSync('fio', ['--name=base', `--filename=${file}`, '--ioengine=io_uring', '--direct=1', `--rw=${job.rw}`, `--bs=${job.bs}`,
    `--iodepth=${job.depth}`, `--numjobs=${job.queues}`, '--group_reporting', '--time_based', `--runtime=${RUNTIME}`, '--output-format=json'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`fio: ${r.stderr}`);
  const j = JSON.parse(r.stdout).jobs[0];
  const side = job.rw.includes('read') ? j.read : j.write;
  return { iops: side.iops, mbs: side.bw_bytes / 1e6 };
}

function cpuTicks(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

let domid = 200;
async function throughBackend(host: SimHost, disk: object, job: Job): Promise<{ iops: number; mbs: number; cpuUsPerReq: number; requests: number }> {
  const d = domid++;
  host.toolstack('create-domain', String(d), '--pages', '65536', '--grants', '16384');
  host.toolstack('add-vbd', String(d), '51712', '--kind', 'vbd');
  const name = `b${d}`;
  await host.rpc('disk_add', { name, backend: `backend/vbd/${d}/51712`, queues: job.queues, ...disk });
  const pid = host.daemon!.pid!;
  const before = cpuTicks(pid);
  const { done } = host.guest(d, ['--domid', String(d), '--no-progress', '--rw', job.rw, '--bs', job.bs, '--iodepth', String(job.depth), '--queues', String(job.queues),
    '--ring-order', '2', '--runtime', String(RUNTIME), '--indirect-segs', '256', '--timeout', '60']);
  const r = await done;
  const ticks = cpuTicks(pid) - before;
  if (r.status !== 0) throw new Error(`guest: ${r.stdout.slice(-1000)} ${r.stderr.slice(-500)}`);
  const stats = await host.rpc<any>('disk_stats', { name });
  const requests = stats.queues.reduce((n: number, q: any) => n + q.reads + q.writes, 0);
  host.toolstack('destroy-domain', String(d));
  await host.rpc('disk_remove', { name }).catch(() => undefined);
  const hz = 100;
  return { iops: r.summary.iops, mbs: r.summary.mb_s.total, cpuUsPerReq: requests ? ((ticks / hz) * 1e6) / requests : 0, requests };
}

async function main(): Promise<void> {
  const host = await SimHost.start('xenblkd-bench-');
  try {
    await host.startDaemon(['--queues', '4']);
    const file = path.join(host.dir, 'bench.img');
    console.log(`pre-filling a ${FILE_MIB} MiB file ...`);
    const fill = spawnSync('fio', ['--name=fill', `--filename=${file}`, `--size=${FILE_MIB}m`, '--rw=write', '--bs=1m', '--ioengine=io_uring', '--direct=1', '--iodepth=8'], { encoding: 'utf8' });
    if (fill.status !== 0) throw new Error(fill.stderr);

    const rows: string[][] = [];
    const median = <T>(xs: T[], key: (x: T) => number): T => [...xs].sort((a, b) => key(a) - key(b))[Math.floor(xs.length / 2)];
    for (const job of JOBS) {
      const bases = [];
      const urings = [];
      for (let r = 0; r < ROUNDS; r++) {
        bases.push(fio(file, job));
        urings.push(await throughBackend(host, { path: file }, job));
      }
      const pick = (x: { iops: number; mbs: number }) => (job.bs === '1m' ? x.mbs : x.iops);
      const base = median(bases, pick);
      const uring = median(urings, pick);
      const nul = await throughBackend(host, { engine: 'null', size: FILE_MIB * MiB }, job);
      const bw = job.bs === '1m';
      const ratio = bw ? uring.mbs / base.mbs : uring.iops / base.iops;
      rows.push([
        job.name, `${job.queues}x${job.depth}`,
        bw ? `${base.mbs.toFixed(0)} MB/s` : `${base.iops.toFixed(0)}`,
        bw ? `${uring.mbs.toFixed(0)} MB/s` : `${uring.iops.toFixed(0)}`,
        `${(ratio * 100).toFixed(0)}% (target ${bw ? 95 : 90}%)`,
        bw ? `${nul.mbs.toFixed(0)} MB/s` : `${nul.iops.toFixed(0)}`,
        `${nul.cpuUsPerReq.toFixed(2)} µs`,
      ]);
    }
    // Multi-queue scaling where the backend is the bottleneck: null engine, 1 vs 4 queues.
    const one = await throughBackend(host, { engine: 'null', size: FILE_MIB * MiB }, { name: 'mq1', rw: 'randread', bs: '4k', queues: 1, depth: 32 });
    const four = await throughBackend(host, { engine: 'null', size: FILE_MIB * MiB }, { name: 'mq4', rw: 'randread', bs: '4k', queues: 4, depth: 32 });

    // Resident memory per disk: 4 connected disks (4 queues each) at once.
    const ds: number[] = [];
    const rss0 = rssKiB(host.daemon!.pid!);
    const runs = [];
    for (let i = 0; i < 4; i++) {
      const d = domid++;
      ds.push(d);
      host.toolstack('create-domain', String(d));
      host.toolstack('add-vbd', String(d), '51712', '--kind', 'vbd');
      await host.rpc('disk_add', { name: `m${d}`, backend: `backend/vbd/${d}/51712`, engine: 'null', size: FILE_MIB * MiB });
      runs.push(host.guest(d, ['--domid', String(d), '--no-progress', '--rw', 'randrw', '--bs', '64k', '--iodepth', '32', '--queues', '4', '--ring-order', '2', '--runtime', '3']).done);
    }
    await new Promise((r) => setTimeout(r, 2000));
    const rss = rssKiB(host.daemon!.pid!);
    await Promise.all(runs);

    const head = ['workload', 'queues x depth', 'fio io_uring', 'xenblkd uring', 'ratio', 'xenblkd null', 'backend CPU/req (null)'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i])).join('  ');
    console.log(`\nxenblkd benchmark: medians of ${ROUNDS} alternating runs of ${RUNTIME} s, ${FILE_MIB} MiB file on ${path.dirname(file)} (machine: ${require('node:os').cpus().length} cores)`);
    console.log(line(head));
    console.log(line(widths.map((w) => '-'.repeat(w))));
    for (const r of rows) console.log(line(r));
    console.log(`\nmulti-queue (null engine, 4k randread, depth 32 per queue): 1 queue ${one.iops.toFixed(0)} IOPS, 4 queues ${four.iops.toFixed(0)} IOPS: ${(four.iops / one.iops).toFixed(2)}x (target 1.7x)`);
    console.log(`backend CPU per 4 KiB request, null engine, 1 queue: ${one.cpuUsPerReq.toFixed(2)} µs (target 1.5 µs)`);
    console.log(`resident memory: ${((rss - rss0) / 1024 / 4).toFixed(1)} MiB per disk with 4 disks x 4 queues busy (daemon total ${(rss / 1024).toFixed(1)} MiB; target 64 MiB per disk)`);
    for (const d of ds) host.toolstack('destroy-domain', String(d));
  } finally {
    await host.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
