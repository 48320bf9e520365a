// Device-backed SRs on a real loop device: SR.create formats XFS with
// reflink, SR.attach mounts it, snapshots and clones are reflinks, detach and
// destroy unmount (and destroy wipes). Also the refusals: a device holding a
// foreign filesystem, paths that are not block devices.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { T, probeResults, volumeList } from '../harness/rpclib';
import { Host } from '../harness/xss';
import { newUuid, vdiCreate, type SrStat, type Volume } from '../harness/fixtures';
import { attachLoop, blkid, cleanupDir, describeIf, imageOf, listDir, loopUnavailable, mountAt, mountsUnder, must, sh, sha256, sharedBytes, writeAt } from './helpers';

const MiB = 1 << 20;
const GiB = 1 << 30;

const unavailable = loopUnavailable(['mkfs.xfs', 'xfs_info', 'mkfs.ext4', 'filefrag']);

interface ProbeResult {
  configuration: Record<string, string>;
  complete: boolean;
  sr?: SrStat;
  extra_info: Record<string, string>;
}

function srCreateRaw(host: Host, configuration: Record<string, string>, uuid = newUuid()) {
  return { uuid, config: host.call<Record<string, string>>('volume', 'SR.create', { dbg: 'test', uuid, configuration, name: 'dev SR', description: 'on a loop device' }, T.configuration) };
}

describeIf(unavailable, 'device SR lifecycle on a loop device', () => {
  let host: Host;
  let dev: string;
  let uuid: string;
  let config: Record<string, string>;
  let sr: string;
  let mountPoint: string;
  let source: Volume;
  let snapshot: Volume;
  let clone: Volume;
  let data: Buffer;

  beforeAll(() => {
    data = crypto.randomBytes(64 * MiB);
    host = new Host('xss-storage-dev-');
    dev = attachLoop(path.join(host.dir, 'disk.img'), GiB);
  });

  afterAll(() => {
    if (host) cleanupDir(host.dir, dev ? [dev] : []);
  });

  test('SR.probe on a blank device offers it, complete, with nothing to erase', () => {
    expect(blkid(dev)).toEqual({});
    const results = host.call<ProbeResult[]>('volume', 'SR.probe', { dbg: 'test', configuration: { device: dev } }, probeResults);
    expect(results).toHaveLength(1);
    expect(results[0].configuration).toEqual({ device: dev });
    expect(results[0].complete).toBe(true);
    expect(results[0].sr).toBeUndefined();
    expect(results[0].extra_info.existing_signature).toBeUndefined();
  });

  test('SR.create formats XFS with reflink and leaves the device unmounted', () => {
    ({ uuid, config } = srCreateRaw(host, { device: dev }));
    expect(config).toEqual({ device: dev, sr_uuid: uuid });
    expect(blkid(dev).TYPE).toBe('xfs');
    mountPoint = path.join(host.env.XAPI_SPDK_MOUNT_DIR!, uuid);
    expect(mountAt(mountPoint)).toBeUndefined();
    expect(mountsUnder(host.dir)).toEqual([]);
    expect(fs.existsSync(mountPoint)).toBe(false);
    // The filesystem really has reflink (xfs_db reads the superblock offline).
    const version = sh(['xfs_db', '-r', '-c', 'version', dev]);
    if (version.status === 0) expect(version.stdout).toMatch(/REFLINK/);
  });

  test('SR.probe offers the SR the device holds for reattaching, and leaves nothing mounted', () => {
    const results = host.call<ProbeResult[]>('volume', 'SR.probe', { dbg: 'test', configuration: { device: dev } }, probeResults);
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ configuration: { device: dev, sr_uuid: uuid }, complete: true, sr: { uuid, name: 'dev SR', sr: `file://${mountPoint}` } });
    expect(mountsUnder(host.dir)).toEqual([]);
    expect(fs.readdirSync(path.join(host.env.XAPI_SPDK_RUN_DIR!, 'probe'))).toEqual([]);
  });

  test('SR.attach mounts the XFS under the mount dir, and is idempotent', () => {
    sr = host.call<string>('volume', 'SR.attach', { dbg: 'test', configuration: config }, T.string);
    expect(sr).toBe(`file://${mountPoint}`);
    const m = mountAt(mountPoint);
    expect(m).toBeDefined();
    expect(m!.fstype).toBe('xfs');
    expect(m!.source).toBe(dev);
    const info = must(['xfs_info', mountPoint]);
    expect(info).toMatch(/reflink=1/);
    expect(listDir(mountPoint)).toEqual(expect.arrayContaining(['sr.json', 'sr.lock', 'tmp', 'volumes']));

    // A second attach returns the same string and does not mount twice.
    const again = host.call<string>('volume', 'SR.attach', { dbg: 'test', configuration: config }, T.string);
    expect(again).toBe(sr);
    expect(mountsUnder(host.dir).filter((x) => x.mountPoint === mountPoint)).toHaveLength(1);
    expect(host.call<string[]>('volume', 'Plugin.ls', { dbg: 'test' }, T.stringList)).toContain(sr);
  });

  test('SR.probe of the attached device reads the mounted SR', () => {
    const results = host.call<ProbeResult[]>('volume', 'SR.probe', { dbg: 'test', configuration: { device: dev } }, probeResults);
    expect(results).toEqual([expect.objectContaining({ configuration: { device: dev, sr_uuid: uuid }, complete: true })]);
    expect(results[0].sr?.sr).toBe(sr);
    expect(mountsUnder(host.dir).map((m) => m.mountPoint)).toEqual([mountPoint]);
  });

  test('SR.stat sizes are those statfs gives for the mount', () => {
    const stat = host.call<SrStat>('volume', 'SR.stat', { dbg: 'test', sr }, T.srStat);
    const s = fs.statfsSync(mountPoint);
    expect(stat.uuid).toBe(uuid);
    expect(stat.name).toBe('dev SR');
    expect(stat.total_space).toBe(s.blocks * s.bsize);
    // Free space moves only with background XFS work: allow a little slack.
    expect(Math.abs(stat.free_space - s.bavail * s.bsize)).toBeLessThanOrEqual(MiB);
    expect(stat.total_space).toBeGreaterThan(0.8 * GiB);
    expect(stat.total_space).toBeLessThanOrEqual(GiB);
    expect(stat.free_space).toBeLessThanOrEqual(stat.total_space);
    expect(stat.free_space).toBeGreaterThan(0.8 * stat.total_space);
  });

  test('Volume.create makes a sparse image on the mounted filesystem that takes data', () => {
    source = vdiCreate(host, sr, 128 * MiB, 'source');
    const image = imageOf(source);
    expect(image).toBe(path.join(mountPoint, 'volumes', `${source.key}.img`));
    expect(fs.statSync(image).size).toBe(128 * MiB);
    expect(source.physical_utilisation).toBeLessThan(MiB);
    writeAt(image, 0, data);
    const st = host.call<Volume>('volume', 'Volume.stat', { dbg: 'test', sr, key: source.key }, T.volume);
    expect(st.virtual_size).toBe(128 * MiB);
    expect(st.physical_utilisation).toBeGreaterThanOrEqual(64 * MiB);
    expect(st.keys).toEqual({ 'vdi-type': 'user' });
  });

  test('Volume.snapshot is a read-only reflink with the same data', () => {
    must(['sync', '-f', mountPoint]);
    const before = fs.statfsSync(mountPoint);
    snapshot = host.call<Volume>('volume', 'Volume.snapshot', { dbg: 'test', sr, key: source.key }, T.volume);
    must(['sync', '-f', mountPoint]);
    const after = fs.statfsSync(mountPoint);

    expect(snapshot.key).not.toBe(source.key);
    expect(snapshot.read_write).toBe(false);
    expect(snapshot.virtual_size).toBe(128 * MiB);
    expect(snapshot.keys).toEqual({});
    expect(host.log()).toContain(`snapshot of ${source.key} by reflink`);
    expect(host.log()).not.toMatch(/full copy/);

    const image = imageOf(snapshot);
    expect(sha256(image)).toBe(sha256(imageOf(source)));
    // Shared extents on both sides, and (nearly) no space used by the copy.
    expect(sharedBytes(image)).toBeGreaterThanOrEqual(64 * MiB);
    expect(sharedBytes(imageOf(source))).toBeGreaterThanOrEqual(64 * MiB);
    const used = (before.bavail - after.bavail) * before.bsize;
    expect(used).toBeLessThan(8 * MiB);
  });

  test('writing the source after a snapshot leaves the snapshot as it was', () => {
    const snapSum = sha256(imageOf(snapshot));
    writeAt(imageOf(source), 0, Buffer.alloc(MiB, 0xab));
    expect(sha256(imageOf(snapshot))).toBe(snapSum);
    const head = Buffer.alloc(MiB);
    const fd = fs.openSync(imageOf(snapshot), 'r');
    fs.readSync(fd, head, 0, MiB, 0);
    fs.closeSync(fd);
    expect(head.equals(data.subarray(0, MiB))).toBe(true);
  });

  test('Volume.clone is a writable reflink with the same data', () => {
    clone = host.call<Volume>('volume', 'Volume.clone', { dbg: 'test', sr, key: snapshot.key }, T.volume);
    expect(clone.read_write).toBe(true);
    expect(clone.key).not.toBe(snapshot.key);
    expect(clone.virtual_size).toBe(128 * MiB);
    expect(host.log()).toContain(`clone of ${snapshot.key} by reflink`);
    expect(sha256(imageOf(clone))).toBe(sha256(imageOf(snapshot)));
    expect(sharedBytes(imageOf(clone))).toBeGreaterThanOrEqual(64 * MiB);
    // Writable, and writing it does not touch the snapshot.
    const snapSum = sha256(imageOf(snapshot));
    writeAt(imageOf(clone), 4 * MiB, Buffer.alloc(MiB, 0x5a));
    expect(sha256(imageOf(snapshot))).toBe(snapSum);
  });

  test('Volume.resize grows a writable volume; snapshots and shrinking are refused', () => {
    const sum = sha256(imageOf(source));
    host.call('volume', 'Volume.resize', { dbg: 'test', sr, key: source.key, new_size: 256 * MiB }, T.unit);
    const st = host.call<Volume>('volume', 'Volume.stat', { dbg: 'test', sr, key: source.key }, T.volume);
    expect(st.virtual_size).toBe(256 * MiB);
    expect(fs.statSync(imageOf(source)).size).toBe(256 * MiB);
    // The old content is still there, followed by zeros.
    const fd = fs.openSync(imageOf(source), 'r');
    const head = Buffer.alloc(2 * MiB);
    fs.readSync(fd, head, 0, head.length, 0);
    const tail = Buffer.alloc(MiB);
    fs.readSync(fd, tail, 0, tail.length, 200 * MiB);
    fs.closeSync(fd);
    expect(head.subarray(0, MiB).every((b) => b === 0xab)).toBe(true);
    expect(head.subarray(MiB).equals(data.subarray(MiB, 2 * MiB))).toBe(true);
    expect(tail.every((b) => b === 0)).toBe(true);
    expect(sum).not.toBe(sha256(imageOf(snapshot)));

    const ro = host.fail('volume', 'Volume.resize', { dbg: 'test', sr, key: snapshot.key, new_size: 256 * MiB });
    expect(ro.code).toBe('SR_BACKEND_FAILURE_78');
    const shrink = host.fail('volume', 'Volume.resize', { dbg: 'test', sr, key: source.key, new_size: 64 * MiB });
    expect(shrink.code).toBe('SR_BACKEND_FAILURE_79');
    expect(fs.statSync(imageOf(source)).size).toBe(256 * MiB);
    expect(fs.statSync(imageOf(snapshot)).size).toBe(128 * MiB);
  });

  test('SR.detach unmounts, and a second SR.detach is fine', () => {
    host.call('volume', 'SR.detach', { dbg: 'test', sr }, T.unit);
    expect(mountAt(mountPoint)).toBeUndefined();
    expect(mountsUnder(host.dir)).toEqual([]);
    expect(fs.existsSync(mountPoint)).toBe(false);
    expect(host.call<string[]>('volume', 'Plugin.ls', { dbg: 'test' }, T.stringList)).not.toContain(sr);
    host.call('volume', 'SR.detach', { dbg: 'test', sr }, T.unit);
    expect(mountsUnder(host.dir)).toEqual([]);
    // A detached SR cannot be used.
    const e = host.fail('volume', 'SR.ls', { dbg: 'test', sr });
    expect(e.code).toBe('SR_BACKEND_FAILURE');
    expect(e.params[0]).toBe('Sr_not_attached');
  });

  test('SR.attach again (twice) brings back the same SR with its volumes and data', () => {
    const first = host.call<string>('volume', 'SR.attach', { dbg: 'test', configuration: config }, T.string);
    const second = host.call<string>('volume', 'SR.attach', { dbg: 'test', configuration: config }, T.string);
    expect(first).toBe(sr);
    expect(second).toBe(sr);
    expect(mountAt(mountPoint)?.fstype).toBe('xfs');
    expect(mountsUnder(host.dir)).toHaveLength(1);
    const vols = host.call<Volume[]>('volume', 'SR.ls', { dbg: 'test', sr }, volumeList);
    expect(vols.map((v) => v.key).sort()).toEqual([source.key, snapshot.key, clone.key].sort());
    const byKey = new Map(vols.map((v) => [v.key, v]));
    expect(byKey.get(source.key)!.virtual_size).toBe(256 * MiB);
    expect(byKey.get(source.key)!.keys).toEqual({ 'vdi-type': 'user' });
    expect(byKey.get(snapshot.key)!.read_write).toBe(false);
    expect(byKey.get(clone.key)!.read_write).toBe(true);
    const head = Buffer.alloc(MiB);
    const fd = fs.openSync(imageOf(snapshot), 'r');
    fs.readSync(fd, head, 0, MiB, 32 * MiB);
    fs.closeSync(fd);
    expect(head.equals(data.subarray(32 * MiB, 33 * MiB))).toBe(true);
  });

  test('SR.destroy unmounts and wipes the device', () => {
    host.call('volume', 'SR.destroy', { dbg: 'test', sr }, T.unit);
    expect(mountAt(mountPoint)).toBeUndefined();
    expect(mountsUnder(host.dir)).toEqual([]);
    expect(fs.existsSync(mountPoint)).toBe(false);
    expect(blkid(dev)).toEqual({});
    expect(host.call<string[]>('volume', 'Plugin.ls', { dbg: 'test' }, T.stringList)).not.toContain(sr);
    // Nothing left to attach.
    const e = host.fail('volume', 'SR.attach', { dbg: 'test', configuration: config });
    expect(e.code).toBe('SR_BACKEND_FAILURE');
    expect(e.params[0]).toBe('SR_does_not_exist');
    expect(e.params[1]).toContain(dev);
    expect(mountsUnder(host.dir)).toEqual([]);
    expect(fs.existsSync(mountPoint)).toBe(false);
    // And the device is blank again for SR.probe.
    const results = host.call<ProbeResult[]>('volume', 'SR.probe', { dbg: 'test', configuration: { device: dev } }, probeResults);
    expect(results).toEqual([{ configuration: { device: dev }, complete: true, extra_info: {} }]);
  });
});

describeIf(unavailable, 'device SR refusals', () => {
  let host: Host;
  let dev: string;

  beforeAll(() => {
    host = new Host('xss-storage-refuse-');
    dev = attachLoop(path.join(host.dir, 'disk.img'), 512 * MiB);
    must(['mkfs.ext4', '-F', '-q', dev]);
  });

  afterAll(() => {
    if (host) cleanupDir(host.dir, dev ? [dev] : []);
  });

  test('SR.probe on a device with a foreign filesystem names it and asks for force', () => {
    expect(blkid(dev).TYPE).toBe('ext4');
    const results = host.call<ProbeResult[]>('volume', 'SR.probe', { dbg: 'test', configuration: { device: dev } }, probeResults);
    expect(results).toHaveLength(1);
    expect(results[0].complete).toBe(false);
    expect(results[0].configuration).toEqual({ device: dev, force: 'true' });
    expect(results[0].extra_info.existing_signature).toBe('ext4');
    expect(results[0].sr).toBeUndefined();
    expect(blkid(dev).TYPE).toBe('ext4');
  });

  test.each([[{}], [{ force: 'false' }], [{ force: 'yes' }]])('SR.create on a device holding ext4 is refused (%j)', (extra) => {
    const uuid = newUuid();
    const e = host.fail('volume', 'SR.create', { dbg: 'test', uuid, configuration: { device: dev, ...extra }, name: 'n', description: 'd' });
    expect(e.code).toBe('SR_BACKEND_FAILURE_88');
    expect(e.params[0]).toBe('Device in use');
    expect(e.params[1]).toContain(dev);
    expect(e.params[1]).toContain('ext4');
    expect(e.params[1]).toMatch(/force=true/);
    expect(e.backtrace.files.length).toBe(e.backtrace.lines.length);
    // Untouched: still ext4, nothing mounted, no mount point left behind.
    expect(blkid(dev).TYPE).toBe('ext4');
    expect(mountsUnder(host.dir)).toEqual([]);
    expect(listDir(host.env.XAPI_SPDK_MOUNT_DIR!)).toEqual([]);
    expect(host.log()).not.toMatch(/formatting/);
  });

  test('SR.attach on a device holding ext4 says there is no SR and mounts nothing', () => {
    const e = host.fail('volume', 'SR.attach', { dbg: 'test', configuration: { device: dev, sr_uuid: newUuid() } });
    expect(e.code).toBe('SR_BACKEND_FAILURE');
    expect(e.params[0]).toBe('SR_does_not_exist');
    expect(e.params[1]).toContain('ext4');
    expect(mountsUnder(host.dir)).toEqual([]);
    expect(listDir(host.env.XAPI_SPDK_MOUNT_DIR!)).toEqual([]);
    expect(blkid(dev).TYPE).toBe('ext4');
  });

  test('SR.create on a device in use by a mounted SR is refused even with force, and the SR survives', () => {
    const other = attachLoop(path.join(host.dir, 'other.img'), 512 * MiB);
    const { uuid, config } = srCreateRaw(host, { device: other });
    const sr = host.call<string>('volume', 'SR.attach', { dbg: 'test', configuration: config }, T.string);
    const vol = vdiCreate(host, sr, 8 * MiB, 'keep');
    writeAt(imageOf(vol), 0, Buffer.alloc(MiB, 7));
    const mountPoint = path.join(host.env.XAPI_SPDK_MOUNT_DIR!, uuid);
    const e = host.fail('volume', 'SR.create', { dbg: 'test', uuid: newUuid(), configuration: { device: other, force: 'true' }, name: 'n', description: 'd' });
    expect(e.code).toBe('SR_BACKEND_FAILURE_88');
    expect(e.params[0]).toBe('Device in use');
    expect(e.params[1]).toContain(other);
    expect(e.params[1]).toContain(mountPoint);
    expect(e.backtrace.files.length).toBe(e.backtrace.lines.length);
    expect(host.log().split(`formatting ${other} `).length - 1).toBe(1); // only the first SR.create formatted it
    expect(mountAt(mountPoint)?.fstype).toBe('xfs');
    const vols = host.call<Volume[]>('volume', 'SR.ls', { dbg: 'test', sr }, volumeList);
    expect(vols.map((v) => v.key)).toEqual([vol.key]);
    const fd = fs.openSync(imageOf(vol), 'r');
    const head = Buffer.alloc(MiB);
    fs.readSync(fd, head, 0, MiB, 0);
    fs.closeSync(fd);
    expect(head.every((b) => b === 7)).toBe(true);
    host.call('volume', 'SR.destroy', { dbg: 'test', sr }, T.unit);
    expect(blkid(other)).toEqual({});
    must(['losetup', '-d', other]);
  });

  test('SR.create with force=true erases the foreign filesystem', () => {
    const { uuid, config } = srCreateRaw(host, { device: dev, force: 'true' });
    expect(config).toEqual({ device: dev, sr_uuid: uuid });
    expect(blkid(dev).TYPE).toBe('xfs');
    expect(mountsUnder(host.dir)).toEqual([]);
    // It is a working SR: attach, stat, destroy.
    const sr = host.call<string>('volume', 'SR.attach', { dbg: 'test', configuration: config }, T.string);
    expect(host.call<SrStat>('volume', 'SR.stat', { dbg: 'test', sr }, T.srStat).uuid).toBe(uuid);
    host.call('volume', 'SR.destroy', { dbg: 'test', sr }, T.unit);
    expect(blkid(dev)).toEqual({});
    expect(mountsUnder(host.dir)).toEqual([]);
  });

  const badDevices: [string, string, RegExp][] = [
    ['a nonexistent device', '/dev/xss-no-such-device', /does not exist/],
    ['a character device', '/dev/null', /not a block device/],
  ];
  if (fs.statSync('/dev/shm', { throwIfNoEntry: false })?.isDirectory()) badDevices.push(['a directory under /dev', '/dev/shm', /not a block device/]);

  test.each(badDevices)('SR.create and SR.probe on %s give Invalid_configuration', (_what, device, message) => {
    for (const method of ['SR.create', 'SR.probe']) {
      const e = host.fail('volume', method, { dbg: 'test', uuid: newUuid(), configuration: { device, force: 'true' }, name: 'n', description: 'd' });
      expect(e.code).toBe('SR_BACKEND_FAILURE');
      expect(e.params[0]).toBe('Invalid_configuration');
      expect(e.params[1]).toMatch(message);
      expect(e.params[1]).toContain(device);
      expect(e.backtrace.files.length).toBe(e.backtrace.lines.length);
    }
    expect(mountsUnder(host.dir)).toEqual([]);
    expect(listDir(host.env.XAPI_SPDK_MOUNT_DIR!)).toEqual([]);
  });

  test('SR.create on a regular file (not under /dev) gives Invalid_configuration and leaves the file alone', () => {
    const file = path.join(host.dir, 'plain.img');
    fs.writeFileSync(file, Buffer.alloc(4096, 1));
    const e = host.fail('volume', 'SR.create', { dbg: 'test', uuid: newUuid(), configuration: { device: file, force: 'true' }, name: 'n', description: 'd' });
    expect(e.code).toBe('SR_BACKEND_FAILURE');
    expect(e.params[0]).toBe('Invalid_configuration');
    expect(e.params[1]).toContain(file);
    expect(fs.readFileSync(file).every((b) => b === 1)).toBe(true);
  });

  test('device and path together are refused', () => {
    const e = host.fail('volume', 'SR.create', { dbg: 'test', uuid: newUuid(), configuration: { device: dev, path: host.srsDir }, name: 'n', description: 'd' });
    expect(e.code).toBe('SR_BACKEND_FAILURE');
    expect(e.params[0]).toBe('Invalid_configuration');
    expect(listDir(host.srsDir)).toEqual([]);
  });
});
