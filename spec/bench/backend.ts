// Backend benchmark (prints figures; not a timed test). In one run on this
// machine: fio with io_uring on a pre-filled file as the baseline, and the
// same workloads through xenblkd (io_uring engine on the same file) driven by
// the simulated blkfront, alternating; then the null engine to isolate the
// backend's own cost. Prints a table with the ratios against design.md's targets.
import * as path from 'node:path';
import { SimHost } from '../harness/sim';
import { type BackendRun, DiskShape, FILE_MIB, fio, JOBS, median, MiB, nextDomid, prefill, printTable, ROUNDS, rssKiB, RUNTIME, selected, settle, throughBackend, WIDE_JOBS } from './lib';

const cores = require('node:os').cpus().length;

async function main(): Promise<void> {
  const host = await SimHost.start('xenblkd-bench-');
  try {
    await host.startDaemon(['--queues', '4']);
    const file = path.join(host.dir, 'bench.img');
    console.log(`pre-filling a ${FILE_MIB} MiB file ...`);
    prefill(file, FILE_MIB);

    const rows: string[][] = [];
    // The targets are for a stock guest; the wide rows show what the disk does with 1 MiB requests.
    for (const job of [...JOBS, ...selected(WIDE_JOBS)]) {
      const bw = job.bs === '1m';
      const pick = (x: { iops: number; mbs: number }) => (bw ? x.mbs : x.iops);
      const bases: ReturnType<typeof fio>[] = [];
      const urings: BackendRun[] = [];
      const ratios: number[] = [];
      const write = job.rw.includes('write');
      const fioDisk = new DiskShape(file, write);
      const oursDisk = new DiskShape(file, write);
      for (let r = 0; r < ROUNDS; r++) {
        // Whichever runs second runs while the host writes back what the first wrote: the order
        // alternates, and the file is flushed (down to the host's disk) before each run.
        const runFio = async () => { settle(file); bases.push(await fioDisk.around(() => fio(file, job))); };
        const runOurs = async () => { settle(file); urings.push(await oursDisk.around(() => throughBackend(host, { path: file }, job))); };
        if (r % 2 === 0) { await runFio(); await runOurs(); } else { await runOurs(); await runFio(); }
        ratios.push(pick(urings[r]) / pick(bases[r]));
      }
      const base = median(bases, pick);
      const uring = median(urings, pick);
      const nul = await throughBackend(host, { engine: 'null', size: FILE_MIB * MiB }, job);
      // Each xenblkd run against the fio run of its round: the median of those ratios, and their spread.
      const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
      rows.push([
        job.name, `${job.queues}x${job.depth}`,
        bw ? `${base.mbs.toFixed(0)} MB/s` : `${base.iops.toFixed(0)}`,
        bw ? `${uring.mbs.toFixed(0)} MB/s` : `${uring.iops.toFixed(0)}`,
        `${pct(median(ratios, (x) => x))} (${pct(Math.min(...ratios))}-${pct(Math.max(...ratios))}${job.indirectSegs ? '' : `; target ${bw ? 95 : 90}%`})`,
        `${base.latUs.toFixed(0)} / ${uring.backendLatUs.toFixed(0)} / ${uring.guestLatUs.toFixed(0)} µs`,
        `${fioDisk} / ${oursDisk}`,
        bw ? `${nul.mbs.toFixed(0)} MB/s` : `${nul.iops.toFixed(0)}`,
        `${nul.cpuUsPerReq.toFixed(2)} µs`,
      ]);
    }
    // Multi-queue scaling with the null engine, 1 vs 4 queues: here the one-thread guest and the backend share the cores.
    const one = await throughBackend(host, { engine: 'null', size: FILE_MIB * MiB }, { name: 'mq1', rw: 'randread', bs: '4k', queues: 1, depth: 32 });
    const four = await throughBackend(host, { engine: 'null', size: FILE_MIB * MiB }, { name: 'mq4', rw: 'randread', bs: '4k', queues: 4, depth: 32 });
    // The same where the backend is the bottleneck: each request costs the null engine 10 µs of CPU
    // (as checksums or encryption would), so the single-threaded guest needs a fraction of a core.
    const costly = { engine: 'null', size: FILE_MIB * MiB, null_cpu_us: 10 };
    const oneCostly = await throughBackend(host, costly, { name: 'mq1c', rw: 'randread', bs: '4k', queues: 1, depth: 32 });
    const fourCostly = await throughBackend(host, costly, { name: 'mq4c', rw: 'randread', bs: '4k', queues: 4, depth: 32 });

    // Resident memory per disk: 4 connected disks (4 queues each) at once.
    const ds: number[] = [];
    const rss0 = rssKiB(host.daemon!.pid!);
    const runs = [];
    for (let i = 0; i < 4; i++) {
      const d = nextDomid();
      ds.push(d);
      host.toolstack('create-domain', String(d));
      host.toolstack('add-vbd', String(d), '51712', '--kind', 'vbd');
      await host.rpc('disk_add', { name: `m${d}`, backend: `backend/vbd/${d}/51712`, engine: 'null', size: FILE_MIB * MiB });
      runs.push(host.guest(d, ['--domid', String(d), '--no-progress', '--rw', 'randrw', '--bs', '64k', '--iodepth', '32', '--queues', '4', '--ring-order', '2', '--runtime', '3']).done);
    }
    await new Promise((r) => setTimeout(r, 2000));
    const rss = rssKiB(host.daemon!.pid!);
    await Promise.all(runs);

    const head = ['workload', 'queues x depth', 'fio io_uring', 'xenblkd uring', 'ratio (range)', 'latency: fio / backend / guest', 'KiB/request at the disk: fio / xenblkd', 'xenblkd null', 'backend CPU/req (null)'];
    console.log(`\nxenblkd benchmark: medians of ${ROUNDS} alternating runs of ${RUNTIME} s, ${FILE_MIB} MiB file on ${path.dirname(file)} (machine: ${cores} cores)`);
    console.log('ratio: the median of each xenblkd run over the fio run beside it (lowest-highest); latency: means of the median runs,');
    console.log('fio\'s, inside xenblkd (taken off the ring to answered), and as the simulated guest saw it; KiB/request: the mean size');
    console.log('of the requests the disk under the file completed, over all runs (it sets a 1 MiB run\'s bandwidth on a disk that splits scattered pages)');
    printTable(head, rows);
    console.log(`\nmulti-queue (null engine, 4k randread, depth 32 per queue): 1 queue ${one.iops.toFixed(0)} IOPS, 4 queues ${four.iops.toFixed(0)} IOPS: ${(four.iops / one.iops).toFixed(2)}x (target 1.7x)`);
    // Queues share no lock and no cache line on the data path: with cores to spare, throughput grows
    // with queues as long as this stays flat.
    console.log(`  backend CPU per request: 1 queue ${one.cpuUsPerReq.toFixed(2)} µs, 4 queues ${four.cpuUsPerReq.toFixed(2)} µs; the simulated guest is one thread for all its queues, and guest and backend share ${cores} cores`);
    console.log(`multi-queue where the backend is the bottleneck (null engine spending 10 µs of CPU per request): 1 queue ${oneCostly.iops.toFixed(0)} IOPS, 4 queues ${fourCostly.iops.toFixed(0)} IOPS: ${(fourCostly.iops / oneCostly.iops).toFixed(2)}x (target 1.7x; at most ${cores}x on this machine)`);
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
