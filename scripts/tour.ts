// The main job until the datapath lands: a scripted tour of the volume plugin
// on a file SR in a temporary folder, calling the plugin executables exactly
// as xapi-storage-script would, printing each step, and leaving nothing behind.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { T, volumeList } from '../spec/harness/rpclib';
import { Host } from '../spec/harness/xss';
import type { SrStat, Volume } from '../spec/harness/fixtures';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const host = new Host('spdk-tour-');
let step = 0;

function say(what: string, detail = ''): void {
  step++;
  process.stdout.write(`${String(step).padStart(2)}. ${what}${detail ? `\n      ${detail}` : ''}\n`);
}

function timed<R>(fn: () => R): [R, string] {
  const t = process.hrtime.bigint();
  const r = fn();
  return [r, `${(Number(process.hrtime.bigint() - t) / 1e6).toFixed(0)} ms`];
}

const size = (n: number) => (n >= GiB ? `${(n / GiB).toFixed(2)} GiB` : `${(n / MiB).toFixed(1)} MiB`);

function table(volumes: Volume[]): void {
  const rows = volumes.map((v) => [v.key.slice(0, 8), v.name, v.read_write ? 'rw' : 'ro', size(v.virtual_size), size(v.physical_utilisation), v.keys['vdi-type'] ?? '']);
  const head = ['key', 'name', 'mode', 'virtual', 'allocated', 'vdi-type'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `      ${cells.map((c, i) => c.padEnd(widths[i])).join('  ')}\n`;
  process.stdout.write(line(head) + line(widths.map((w) => '-'.repeat(w))) + rows.map(line).join(''));
}

function main(): void {
  process.stdout.write(`SMAPIv3 volume plugin tour (SR type spdk), working in ${host.dir}\n\n`);
  const uuid = '5f0c2d1e-0000-4000-8000-000000000001';
  const q = host.call<{ plugin: string; version: string; features: string[] }>('volume', 'Plugin.Query', { dbg: 'tour' }, T.queryResult);
  say(`Plugin.Query: plugin ${q.plugin} ${q.version}`, `features: ${q.features.join(' ')}`);

  const [config, tCreate] = timed(() =>
    host.call<Record<string, string>>('volume', 'SR.create', { dbg: 'tour', uuid, configuration: { path: host.srsDir }, name: 'Tour SR', description: 'a file SR' }, T.configuration),
  );
  say(`SR.create (xe sr-create type=spdk device-config:path=${host.srsDir}) in ${tCreate}`, `PBD device-config: ${JSON.stringify(config)}`);
  const sr = host.call<string>('volume', 'SR.attach', { dbg: 'tour', configuration: config }, T.string);
  const st = host.call<SrStat>('volume', 'SR.stat', { dbg: 'tour', sr }, T.srStat);
  say(`SR.attach -> ${sr}`, `SR.stat: "${st.name}", ${size(st.free_space)} free of ${size(st.total_space)}, ${st.health[0]}`);

  const [disk, tVol] = timed(() => host.call<Volume>('volume', 'Volume.create', { dbg: 'tour', sr, name: 'system disk', description: 'tour', size: 4 * GiB, sharable: false }, T.volume));
  host.call('volume', 'Volume.set', { dbg: 'tour', sr, key: disk.key, k: 'vdi-type', v: 'user' }, T.unit);
  say(`Volume.create 4 GiB (thin) + Volume.set vdi-type=user in ${tVol}`, `uri: ${disk.uri[0]}`);

  // Stand-in for a guest until the datapath exists: write 16 MiB into the image.
  const image = decodeURIComponent(disk.uri[0].slice('spdk://file'.length));
  const fd = fs.openSync(image, 'r+');
  for (let i = 0; i < 16; i++) fs.writeSync(fd, Buffer.alloc(MiB, i + 1), 0, MiB, i * 64 * MiB);
  fs.closeSync(fd);
  say('wrote 16 MiB into the volume', `Volume.stat: ${size(host.call<Volume>('volume', 'Volume.stat', { dbg: 'tour', sr, key: disk.key }, T.volume).physical_utilisation)} allocated`);

  const [snap, tSnap] = timed(() => host.call<Volume>('volume', 'Volume.snapshot', { dbg: 'tour', sr, key: disk.key }, T.volume));
  host.call('volume', 'Volume.set', { dbg: 'tour', sr, key: snap.key, k: 'is_a_snapshot', v: 'true' }, T.unit);
  host.call('volume', 'Volume.set', { dbg: 'tour', sr, key: snap.key, k: 'snapshot_of', v: disk.key }, T.unit);
  const how = /by reflink/.test(host.log()) ? 'reflink' : 'full copy (this filesystem has no reflink)';
  say(`Volume.snapshot in ${tSnap}: read-only ${snap.key.slice(0, 8)} by ${how}`);

  const [clone, tClone] = timed(() => host.call<Volume>('volume', 'Volume.clone', { dbg: 'tour', sr, key: snap.key }, T.volume));
  host.call('volume', 'Volume.set_name', { dbg: 'tour', sr, key: clone.key, new_name: 'clone of snapshot' }, T.unit);
  say(`Volume.clone of the snapshot in ${tClone}: writable ${clone.key.slice(0, 8)}`);

  host.call('volume', 'Volume.resize', { dbg: 'tour', sr, key: disk.key, new_size: 8 * GiB }, T.unit);
  say('Volume.resize 4 GiB -> 8 GiB');
  try {
    host.call('volume', 'Volume.resize', { dbg: 'tour', sr, key: disk.key, new_size: GiB }, T.unit);
  } catch (e) {
    say('Volume.resize 8 GiB -> 1 GiB is refused', (e as Error).message);
  }

  const volumes = host.call<Volume[]>('volume', 'SR.ls', { dbg: 'tour', sr }, volumeList);
  say(`SR.ls: ${volumes.length} volumes`);
  table(volumes);

  for (const v of volumes) host.call('volume', 'Volume.destroy', { dbg: 'tour', sr, key: v.key }, T.unit);
  say(`Volume.destroy x${volumes.length}`);
  host.call('volume', 'SR.destroy', { dbg: 'tour', sr }, T.unit);
  host.call('volume', 'SR.detach', { dbg: 'tour', sr }, T.unit);
  const left = fs.readdirSync(host.srsDir);
  say('SR.destroy', left.length ? `LEFT BEHIND: ${left.join(', ')}` : `nothing left in ${path.basename(host.srsDir)}/`);
  if (left.length) throw new Error('the SR left files behind');
}

try {
  main();
  process.stdout.write('\ntour complete\n');
} catch (e) {
  process.stdout.write(`\ntour FAILED: ${(e as Error).message}\n`);
  process.exitCode = 1;
} finally {
  host.cleanup();
}
