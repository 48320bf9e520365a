// The SPDK engine beside the io_uring engine (prints figures; not a timed
// test; needs xenblkd-spdk, built where SPDK is installed). One xenblkd-spdk
// serves, in turns on the same pre-filled file: our io_uring engine, SPDK's
// aio bdev and SPDK's uring bdev; then a thick lvol in an lvol store on a
// second pre-filled file (the SPDK store's volumes, here without NVMe);
// fio with io_uring on the file is the baseline. Then the null engine beside
// SPDK's null bdev: the backend's own cost per request on each path.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bin, rpcOn, SimHost } from '../harness/sim';
import { FILE_MIB, fio, JOBS, median, MiB, prefill, printTable, ROUNDS, RUNTIME, throughBackend } from './lib';

type Result = { iops: number; mbs: number; cpuUsPerReq: number };

async function main(): Promise<void> {
  if (!fs.existsSync(bin('xenblkd-spdk'))) {
    console.log('xenblkd-spdk was not built (no SPDK found by pkg-config): nothing to compare');
    return;
  }
  const host = await SimHost.start('xenblkd-spdk-bench-');
  try {
    const file = path.join(host.dir, 'bench.img');
    const lvolFile = path.join(host.dir, 'lvol.img');
    console.log(`pre-filling two ${FILE_MIB} MiB files ...`);
    prefill(file, FILE_MIB);
    prefill(lvolFile, FILE_MIB + 64);
    const blocks = (FILE_MIB * MiB) / 512;
    const config = {
      subsystems: [
        {
          subsystem: 'bdev',
          config: [
            { method: 'bdev_aio_create', params: { name: 'aio0', filename: file, block_size: 512 } },
            { method: 'bdev_uring_create', params: { name: 'uring0', filename: file, block_size: 512 } },
            { method: 'bdev_null_create', params: { name: 'null0', num_blocks: blocks, block_size: 512 } },
            { method: 'bdev_aio_create', params: { name: 'lvbase', filename: lvolFile, block_size: 512 } },
          ],
        },
      ],
    };
    const configFile = path.join(host.dir, 'spdk.json');
    fs.writeFileSync(configFile, JSON.stringify(config));
    const spdkSocket = path.join(host.dir, 'spdk.sock');
    await host.startDaemon(['--queues', '4', '--spdk-config', configFile, '--spdk-rpc', spdkSocket], 'xenblkd-spdk');
    // Thick, and nothing cleared: the lvol reads the pre-filled data, as a volume written before would.
    await rpcOn(spdkSocket, 'bdev_lvol_create_lvstore', { bdev_name: 'lvbase', lvs_name: 'lvs0', cluster_sz: 4 * MiB, clear_method: 'none' });
    await rpcOn(spdkSocket, 'bdev_lvol_create', { lvs_name: 'lvs0', lvol_name: 'vol0', size_in_mib: FILE_MIB, thin_provision: false, clear_method: 'none' });

    const paths: [string, object][] = [
      ['xenblkd uring', { path: file }],
      ['spdk aio bdev', { engine: 'spdk', path: 'aio0' }],
      ['spdk uring bdev', { engine: 'spdk', path: 'uring0' }],
      ['spdk lvol', { engine: 'spdk', path: 'lvs0/vol0' }],
    ];
    const rows: string[][] = [];
    for (const job of JOBS) {
      const bw = job.bs === '1m';
      const pick = (x: { iops: number; mbs: number }) => (bw ? x.mbs : x.iops);
      const show = (x: { iops: number; mbs: number }) => (bw ? `${x.mbs.toFixed(0)} MB/s` : x.iops.toFixed(0));
      const bases = [];
      const runs = new Map<string, Result[]>(paths.map(([name]) => [name, []]));
      for (let r = 0; r < ROUNDS; r++) {
        bases.push(fio(file, job));
        for (const [name, disk] of paths) runs.get(name)!.push(await throughBackend(host, disk, job));
      }
      const base = median(bases, pick);
      const cells = paths.map(([name]) => {
        const m = median(runs.get(name)!, pick);
        return `${show(m)} (${((pick(m) / pick(base)) * 100).toFixed(0)}%)`;
      });
      const nul = await throughBackend(host, { engine: 'null', size: FILE_MIB * MiB }, job);
      const spdkNull = await throughBackend(host, { engine: 'spdk', path: 'null0' }, job);
      rows.push([job.name, `${job.queues}x${job.depth}`, show(base), ...cells, `${nul.cpuUsPerReq.toFixed(2)} / ${spdkNull.cpuUsPerReq.toFixed(2)} µs`]);
    }
    console.log(`\nSPDK engine beside the io_uring engine: medians of ${ROUNDS} alternating runs of ${RUNTIME} s, ${FILE_MIB} MiB files on ${path.dirname(file)} (machine: ${require('node:os').cpus().length} cores); % of fio`);
    printTable(['workload', 'queues x depth', 'fio io_uring', ...paths.map(([name]) => name), 'backend CPU/req: null engine / spdk null bdev'], rows);
  } finally {
    await host.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
