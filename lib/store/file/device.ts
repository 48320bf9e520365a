// A block device given as device-config:device: formatted as XFS with
// reflink at SR.create, mounted at SR.attach, unmounted at detach/destroy.
import * as fs from 'node:fs';
import { errors } from '../../wire/errors';
import { run, runStatus } from '../../util/run';
import { log } from '../../util/log';

export function checkBlockDevice(device: string): void {
  if (!device.startsWith('/dev/')) throw errors.invalidConfiguration(`device ${device} is not a path under /dev/`);
  let st: fs.Stats;
  try {
    st = fs.statSync(device);
  } catch {
    throw errors.invalidConfiguration(`device ${device} does not exist`);
  }
  if (!st.isBlockDevice()) throw errors.invalidConfiguration(`${device} is not a block device`);
}

/** The filesystem or partition-table type blkid finds on the device, if any. */
export function existingSignature(device: string): string | undefined {
  const r = runStatus(['blkid', '-p', '-o', 'export', device]);
  if (r.status === 2) return undefined; // nothing found
  if (r.status !== 0) throw errors.io(`blkid ${device}: ${r.stderr.trim()}`);
  const fields = Object.fromEntries(
    r.stdout
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return fields.TYPE ?? fields.PTTYPE ?? 'unknown signature';
}

export function makeXfs(device: string): void {
  log.info(`formatting ${device} as XFS with reflink`);
  run(['mkfs.xfs', '-f', '-q', '-m', 'reflink=1,crc=1', device]);
}

export function wipe(device: string): void {
  run(['wipefs', '-a', '-q', device]);
}

const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Mount points as the kernel sees them (octal escapes decoded). */
function mountPoints(): Set<string> {
  const text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  return new Set(text.split('\n').filter(Boolean).map((line) => unescape(line.split(' ')[4])));
}

export function isMounted(mountPoint: string): boolean {
  return mountPoints().has(mountPoint);
}

/** Where the block device itself is mounted (matched by device number, so any alias of it counts). */
export function mountPointsOf(device: string): string[] {
  const rdev = fs.statSync(device).rdev;
  const id = `${Math.floor(rdev / 256) & 0xfff}:${(rdev & 0xff) | ((Math.floor(rdev / 1048576) & 0xfff) << 8)}`;
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .filter((f) => f[2] === id)
    .map((f) => unescape(f[4]));
}

export function mount(device: string, mountPoint: string, options = ['noatime']): void {
  if (isMounted(mountPoint)) return;
  fs.mkdirSync(mountPoint, { recursive: true });
  log.info(`mounting ${device} on ${mountPoint}`);
  try {
    run(['mount', '-t', 'xfs', '-o', options.join(','), device, mountPoint]);
  } catch (e) {
    try {
      fs.rmdirSync(mountPoint); // no empty mount point left behind
    } catch {
      // Not empty or already gone: leave it.
    }
    throw e;
  }
}

export function unmount(mountPoint: string): void {
  if (isMounted(mountPoint)) {
    log.info(`unmounting ${mountPoint}`);
    const r = runStatus(['umount', mountPoint]);
    if (r.status !== 0) throw errors.deviceInUse(`cannot unmount ${mountPoint}: ${r.stderr.trim()}`);
  }
  try {
    fs.rmdirSync(mountPoint);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
