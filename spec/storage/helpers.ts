// Helpers for the storage tests: real loop devices, real mounts, and the
// cleanup that must run whatever happened in the tests.
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Volume } from '../harness/fixtures';

export interface Outcome {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a host tool; never throws (a missing tool is status 127). */
export function sh(argv: string[], timeoutMs = 60_000): Outcome {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, LC_ALL: 'C' } });
  if (r.error) return { status: 127, stdout: '', stderr: r.error.message };
  return { status: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a host tool that must succeed; returns its stdout. */
export function must(argv: string[], timeoutMs?: number): string {
  const r = sh(argv, timeoutMs);
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** `describe` when `reason` is undefined, else `describe.skip` with the reason printed. */
export function describeIf(reason: string | undefined, name: string, body: () => void): void {
  if (reason === undefined) {
    describe(name, body);
  } else {
    console.warn(`SKIPPED "${name}": ${reason}`);
    describe.skip(`${name} (skipped: ${reason})`, body);
  }
}

function which(tool: string): boolean {
  return ['/usr/sbin', '/usr/bin', '/sbin', '/bin', ...(process.env.PATH ?? '').split(':')].some((d) => d && fs.existsSync(path.join(d, tool)));
}

/**
 * Why loop devices cannot be used here, or undefined when they can: the
 * tools must exist and a loop device must really attach to a file.
 */
export function loopUnavailable(tools: string[] = []): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root (loop devices and mounts need it)';
  for (const tool of ['losetup', 'blkid', 'wipefs', 'mount', 'umount', ...tools]) {
    if (!which(tool)) return `${tool} is not installed`;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loop-probe-'));
  try {
    const file = path.join(dir, 'probe.img');
    fs.writeFileSync(file, '');
    fs.truncateSync(file, 1 << 20);
    const r = sh(['losetup', '--find', '--show', file]);
    if (r.status !== 0) return `losetup --find --show failed: ${(r.stderr || r.stdout).trim() || `exit ${r.status}`}`;
    const dev = r.stdout.trim();
    sh(['losetup', '-d', dev]);
    if (!dev.startsWith('/dev/loop')) return `losetup gave an unexpected device ${JSON.stringify(dev)}`;
    return undefined;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Why a tmpfs cannot be mounted here, or undefined when it can. */
export function tmpfsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root (mount needs it)';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tmpfs-probe-'));
  try {
    const r = sh(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
    if (r.status !== 0) return `mount -t tmpfs failed: ${(r.stderr || r.stdout).trim() || `exit ${r.status}`}`;
    sh(['umount', dir]);
    return undefined;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface MountEntry {
  mountPoint: string;
  fstype: string;
  source: string;
  options: string;
}

const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** /proc/self/mountinfo, parsed. */
export function mounts(): MountEntry[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [left, right] = line.split(' - ');
      const f = left.split(' ');
      const [fstype, source] = right.split(' ');
      return { mountPoint: unescape(f[4]), fstype, source: unescape(source), options: f[5] };
    });
}

export function mountAt(mountPoint: string): MountEntry | undefined {
  return mounts()
    .filter((m) => m.mountPoint === mountPoint)
    .pop();
}

export function mountsUnder(dir: string): MountEntry[] {
  return mounts().filter((m) => m.mountPoint === dir || m.mountPoint.startsWith(`${dir}/`));
}

/** The loop devices whose backing file lives under `dir`. */
export function loopsBackedUnder(dir: string): string[] {
  const r = sh(['losetup', '--list', '--noheadings', '--output', 'NAME,BACK-FILE']);
  if (r.status !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([name, file]) => name && file && (file === dir || file.startsWith(`${dir}/`)))
    .map(([name]) => name);
}

/**
 * Unmounts everything mounted under `dir` (deepest first, lazily if busy),
 * detaches the loop devices backed by files under it and the `extraLoops`,
 * then removes `dir`. Collects failures and reports them at the end so that
 * one failure does not stop the rest of the cleanup.
 */
export function cleanupDir(dir: string | undefined, extraLoops: string[] = []): void {
  if (!dir) return;
  const problems: string[] = [];
  const entries = mountsUnder(dir).sort((a, b) => b.mountPoint.length - a.mountPoint.length);
  for (const m of entries) {
    if (sh(['umount', m.mountPoint]).status !== 0) {
      const lazy = sh(['umount', '-l', m.mountPoint]);
      if (lazy.status !== 0) problems.push(`umount ${m.mountPoint}: ${lazy.stderr.trim()}`);
    }
  }
  for (const dev of new Set([...loopsBackedUnder(dir), ...extraLoops])) {
    const r = sh(['losetup', '-d', dev]);
    if (r.status !== 0 && !/No such device/i.test(r.stderr)) problems.push(`losetup -d ${dev}: ${r.stderr.trim()}`);
  }
  if (mountsUnder(dir).length === 0) {
    fs.rmSync(dir, { recursive: true, force: true });
  } else {
    problems.push(`still mounted under ${dir}; not removing it`);
  }
  if (problems.length) throw new Error(`cleanup of ${dir}: ${problems.join('; ')}`);
}

/** A sparse file of `size` bytes attached to a fresh loop device. */
export function attachLoop(file: string, size: number): string {
  fs.writeFileSync(file, '');
  fs.truncateSync(file, size);
  return must(['losetup', '--find', '--show', file]).trim();
}

/** The image file of a volume, from its spdk://file<path> uri. */
export function imageOf(volume: Volume): string {
  expect(volume.uri).toHaveLength(1);
  const m = /^spdk:\/\/file(\/.*)$/.exec(volume.uri[0]);
  if (!m) throw new Error(`unexpected volume uri ${volume.uri[0]}`);
  return decodeURIComponent(m[1]);
}

/** Writes `data` at `offset` of an existing file, in place, and fsyncs it. */
export function writeAt(file: string, offset: number, data: Buffer): void {
  const fd = fs.openSync(file, 'r+');
  try {
    let done = 0;
    while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, offset + done);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function sha256(file: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(4 << 20);
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** What blkid -p finds on a device: {} when nothing (exit 2). */
export function blkid(dev: string): Record<string, string> {
  const r = sh(['blkid', '-p', '-o', 'export', dev]);
  if (r.status === 2) return {};
  if (r.status !== 0) throw new Error(`blkid -p ${dev}: exit ${r.status}: ${r.stderr.trim()}`);
  return Object.fromEntries(
    r.stdout
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/** Extents of a file as `filefrag -v` shows them, with their flags. */
export function extents(file: string): { length: number; flags: string[] }[] {
  const out = must(['filefrag', '-v', file]);
  return out
    .split('\n')
    .map((l) => /^\s*\d+:\s+\d+\.\.\s*\d+:\s+\d+\.\.\s*\d+:\s+(\d+):\s*(?:\d+:)?\s*(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ length: Number(m[1]), flags: m[2].split(',').map((s) => s.trim()).filter(Boolean) }));
}

/** Bytes of a file's data that share their blocks with another file. */
export function sharedBytes(file: string, blockSize = 4096): number {
  return extents(file)
    .filter((e) => e.flags.includes('shared'))
    .reduce((sum, e) => sum + e.length * blockSize, 0);
}

/** The files in a directory (names), sorted; [] when it does not exist. */
export function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}
