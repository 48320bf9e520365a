// The NBD export of a disk (disk_add's nbd_socket), served by the real daemon
// from the same engine as the guest: dom0 tools (qemu-img, qemu-io, nbdinfo,
// nbdcopy) read and write it, a read-only disk refuses writes, and a hostile
// client gets errors or loses its connection while the daemon keeps serving.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { SimHost } from '../harness/sim';

const MiB = 1024 * 1024;
let host: SimHost;
let nextDomid = 200;

beforeAll(async () => {
  host = await SimHost.start();
  await host.startDaemon();
}, 30_000);
afterAll(async () => {
  await host?.stop();
});

interface Disk {
  domid: number;
  name: string;
  file: string;
  sock: string;
}

async function newDisk(extra: object = {}, sizeMiB = 64, mode: 'w' | 'r' = 'w'): Promise<Disk> {
  const sock = path.join(host.dir, `nbd-d${Date.now()}-${Math.random().toString(36).slice(2, 8)}.sock`);
  const d = await host.addDisk({ features: { nbd_socket: sock, ...extra }, sizeMiB, mode });
  return { ...d, sock };
}

async function dropDisk(d: Disk): Promise<void> {
  await host.rpc('disk_remove', { name: d.name });
  host.toolstack('destroy-domain', String(d.domid));
}

const qemuUri = (d: Disk) => `nbd:unix:${d.sock}:exportname=${d.name}`;
const nbdUri = (d: Disk) => `nbd+unix:///${d.name}?socket=${d.sock}`;

function run(cmd: string, args: string[], ok = true) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (ok && r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (${r.status ?? r.signal}): ${r.stdout} ${r.stderr}\n${host.daemonLog.slice(-2000)}`);
  return r;
}

function qemuIo(d: Disk, cmd: string, ok = true) {
  return run('qemu-io', ['-f', 'raw', '-c', cmd, qemuUri(d)], ok);
}

function fileBytes(file: string, offset: number, len: number): Buffer {
  const fd = fs.openSync(file, 'r');
  const b = Buffer.alloc(len);
  fs.readSync(fd, b, 0, len, offset);
  fs.closeSync(fd);
  return b;
}

/** A raw NBD client for what the tools never send. */
class RawNbd {
  private buf = Buffer.alloc(0);
  private wake?: () => void;
  closed = false;
  private constructor(private sock: net.Socket) {
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    sock.on('error', () => undefined);
  }

  static connect(p: string): Promise<RawNbd> {
    return new Promise((resolve, reject) => {
      const s = net.connect(p);
      s.once('connect', () => resolve(new RawNbd(s)));
      s.once('error', reject);
    });
  }

  /** Exactly n bytes, or null if the server closed the connection first. */
  async read(n: number, timeoutMs = 10_000): Promise<Buffer | null> {
    const until = Date.now() + timeoutMs;
    while (this.buf.length < n) {
      if (this.closed) return null;
      if (Date.now() > until) throw new Error(`no ${n} bytes after ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 200);
      });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  write(b: Buffer): void {
    this.sock.write(b);
  }

  close(): void {
    this.sock.destroy();
  }

  option(opt: number, data: Buffer = Buffer.alloc(0)): void {
    const h = Buffer.alloc(16);
    h.write('IHAVEOPT', 0, 'latin1');
    h.writeUInt32BE(opt, 8);
    h.writeUInt32BE(data.length, 12);
    this.write(Buffer.concat([h, data]));
  }

  /** Option replies up to the final one (ACK or an error). */
  async replies(): Promise<{ type: number; data: Buffer }[]> {
    const out: { type: number; data: Buffer }[] = [];
    for (;;) {
      const h = await this.read(20);
      if (!h) throw new Error('closed during option replies');
      expect(h.readBigUInt64BE(0)).toBe(0x3e889045565a9n);
      const type = h.readUInt32BE(12);
      const data = (await this.read(h.readUInt32BE(16)))!;
      out.push({ type, data });
      if (type === 1 || type >= 0x80000000) return out;
    }
  }

  /** Greeting and client flags. */
  async greet(): Promise<void> {
    const g = (await this.read(18))!;
    expect(g.subarray(0, 16).toString('latin1')).toBe('NBDMAGICIHAVEOPT');
    expect(g.readUInt16BE(16)).toBe(3); // FIXED_NEWSTYLE | NO_ZEROES
    const f = Buffer.alloc(4);
    f.writeUInt32BE(3);
    this.write(f);
  }

  static goData(name: string): Buffer {
    const n = Buffer.from(name);
    const b = Buffer.alloc(4 + n.length + 2);
    b.writeUInt32BE(n.length, 0);
    n.copy(b, 4);
    return b;
  }

  /** Handshake through NBD_OPT_GO; the export's size and transmission flags. */
  static async open(p: string, name: string): Promise<{ c: RawNbd; size: bigint; flags: number }> {
    const c = await RawNbd.connect(p);
    await c.greet();
    c.option(7, RawNbd.goData(name));
    const reps = await c.replies();
    const info = reps.find((r) => r.type === 3 && r.data.readUInt16BE(0) === 0)!;
    expect(reps[reps.length - 1].type).toBe(1);
    return { c, size: info.data.readBigUInt64BE(2), flags: info.data.readUInt16BE(10) };
  }

  request(type: number, offset: bigint, length: number, flags = 0, cookie = 7n, magic = 0x25609513): void {
    const b = Buffer.alloc(28);
    b.writeUInt32BE(magic, 0);
    b.writeUInt16BE(flags, 4);
    b.writeUInt16BE(type, 6);
    b.writeBigUInt64BE(cookie, 8);
    b.writeBigUInt64BE(offset, 16);
    b.writeUInt32BE(length, 24);
    this.write(b);
  }

  /** A simple reply: its error, or null if the connection was closed. */
  async reply(cookie = 7n): Promise<number | null> {
    const r = await this.read(16);
    if (!r) return null;
    expect(r.readUInt32BE(0)).toBe(0x67446698);
    expect(r.readBigUInt64BE(8)).toBe(cookie);
    return r.readUInt32BE(4);
  }
}

test('qemu-img, qemu-io and nbdinfo see the export; data goes both ways', async () => {
  const d = await newDisk();
  const got = await host.rpc<any>('disk_get', { name: d.name });
  expect(got.nbd_socket).toBe(d.sock);

  const info = JSON.parse(run('qemu-img', ['info', '--output=json', qemuUri(d)]).stdout);
  expect(info['virtual-size']).toBe(64 * MiB);

  const ni = JSON.parse(run('nbdinfo', ['--json', nbdUri(d)]).stdout);
  expect(ni.exports[0]).toMatchObject({ 'export-name': d.name, 'export-size': 64 * MiB, 'is_read_only': false, 'can_flush': true, 'can_fua': true, 'can_trim': true, 'can_zero': true, 'block_size_minimum': 512, 'block_size_preferred': 4096, 'block_size_maximum': 32 * MiB });
  expect(run('nbdinfo', ['--list', `nbd+unix://?socket=${d.sock}`]).stdout).toContain(d.name);

  // NBD writes land in the backing file (with FUA too).
  qemuIo(d, 'write -P 0xab 1M 256k');
  qemuIo(d, 'write -f -P 0x5a 3M 64k');
  expect(fileBytes(d.file, 1 * MiB, 256 * 1024).equals(Buffer.alloc(256 * 1024, 0xab))).toBe(true);
  expect(fileBytes(d.file, 3 * MiB, 64 * 1024).equals(Buffer.alloc(64 * 1024, 0x5a))).toBe(true);
  expect(qemuIo(d, 'read -P 0xab 1M 256k').stdout).toMatch(/read 262144\/262144/);

  // What is written to the file reads back over NBD.
  const fd = fs.openSync(d.file, 'r+');
  fs.writeSync(fd, Buffer.alloc(64 * 1024, 0xcd), 0, 64 * 1024, 4 * MiB);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  const r = qemuIo(d, 'read -P 0xcd 4M 64k');
  expect(r.stdout).toMatch(/read 65536\/65536/);
  expect(r.stdout + r.stderr).not.toMatch(/fail/i);
  // A wrong pattern is noticed (the check above means something).
  expect((qemuIo(d, 'read -P 0xce 4M 64k', false).stdout)).toMatch(/Pattern verification failed/);

  // Write zeroes (punched and NO_HOLE), trim and flush.
  qemuIo(d, 'write -z 1M 64k');
  qemuIo(d, 'write -z -u 3M 64k');
  expect(fileBytes(d.file, 1 * MiB, 64 * 1024).equals(Buffer.alloc(64 * 1024))).toBe(true);
  expect(fileBytes(d.file, 3 * MiB, 64 * 1024).equals(Buffer.alloc(64 * 1024))).toBe(true);
  expect(fileBytes(d.file, 1 * MiB + 64 * 1024, 1024).equals(Buffer.alloc(1024, 0xab))).toBe(true);
  qemuIo(d, 'discard 1M 128k');
  expect(fileBytes(d.file, 1 * MiB, 128 * 1024).equals(Buffer.alloc(128 * 1024))).toBe(true);
  qemuIo(d, 'flush');
  await dropDisk(d);
  expect(fs.existsSync(d.sock)).toBe(false);
});

test('nbdcopy copies the whole export, equal to the backing file', async () => {
  const d = await newDisk({}, 16);
  qemuIo(d, 'write -P 0x11 0 1M');
  qemuIo(d, 'write -P 0x22 7M 3M');
  qemuIo(d, 'write -P 0x33 15M 1M');
  const out = path.join(host.dir, `copy-${d.name}.img`);
  run('nbdcopy', [nbdUri(d), out]);
  expect(fs.readFileSync(out).equals(fs.readFileSync(d.file))).toBe(true);
  // And back: a file copied into the export.
  const src = path.join(host.dir, `src-${d.name}.img`);
  fs.writeFileSync(src, Buffer.alloc(16 * MiB, 0x77));
  run('nbdcopy', [src, nbdUri(d)]);
  expect(fs.readFileSync(d.file).equals(fs.readFileSync(src))).toBe(true);
  await dropDisk(d);
});

test('the guest and the NBD export share the disk', async () => {
  const d = await newDisk({}, 64);
  const guest = host.guest(d.domid, ['--domid', String(d.domid), '--no-progress', '--verify', '--rw', 'randrw', '--bs', '4k', '--iodepth', '8', '--ios', '2000', '--size', `${16 * MiB}`, '--close']);
  // Meanwhile dom0 writes and reads another region over NBD.
  for (let i = 0; i < 4; i++) {
    qemuIo(d, `write -P ${0x40 + i} ${32 + i}M 1M`);
    qemuIo(d, `read -P ${0x40 + i} ${32 + i}M 1M`);
  }
  const r = await guest.done;
  expect(r.status).toBe(0);
  expect(r.summary.errors.total).toBe(0);
  expect(r.summary.verify.failures).toBe(0);
  expect(fileBytes(d.file, 35 * MiB, 4096).equals(Buffer.alloc(4096, 0x43))).toBe(true);
  await dropDisk(d);
}, 120_000);

test('a resize shows on the next connection', async () => {
  const d = await newDisk({}, 16);
  fs.truncateSync(d.file, 32 * MiB);
  await host.rpc('disk_resize', { name: d.name });
  expect(JSON.parse(run('qemu-img', ['info', '--output=json', qemuUri(d)]).stdout)['virtual-size']).toBe(32 * MiB);
  qemuIo(d, 'write -P 0x99 31M 1M');
  expect(fileBytes(d.file, 31 * MiB, 4096).equals(Buffer.alloc(4096, 0x99))).toBe(true);
  await dropDisk(d);
});

test('a read-only disk is exported read-only and refuses writes', async () => {
  const d = await newDisk({ readonly: true }, 16, 'r');
  fs.writeFileSync(d.file, Buffer.alloc(16 * MiB, 0x42));
  const ni = JSON.parse(run('nbdinfo', ['--json', nbdUri(d)]).stdout);
  expect(ni.exports[0].is_read_only).toBe(true);
  expect(run('qemu-io', ['-r', '-f', 'raw', '-c', 'read -P 0x42 0 64k', qemuUri(d)]).stdout).toMatch(/read 65536\/65536/);
  expect(qemuIo(d, 'write -P 0x1 0 4k', false).status).not.toBe(0);

  const { c, flags } = await RawNbd.open(d.sock, d.name);
  expect(flags & 2).toBe(2); // READ_ONLY
  c.request(1, 0n, 4096);
  c.write(Buffer.alloc(4096, 1));
  expect(await c.reply()).toBe(1); // EPERM
  c.request(6, 0n, 4096);
  expect(await c.reply()).toBe(1);
  c.request(4, 0n, 4096);
  expect(await c.reply()).toBe(1);
  c.request(0, 0n, 512);
  expect(await c.reply()).toBe(0);
  expect((await c.read(512))!.equals(Buffer.alloc(512, 0x42))).toBe(true);
  c.close();
  expect(fileBytes(d.file, 0, 4096).equals(Buffer.alloc(4096, 0x42))).toBe(true);
  await dropDisk(d);
});

test('a hostile client gets errors or is dropped; the daemon keeps serving', async () => {
  const d = await newDisk({}, 16);
  const size = BigInt(16 * MiB);

  // Handshake: unknown export, unsupported option, malformed GO, LIST.
  const h = await RawNbd.connect(d.sock);
  await h.greet();
  h.option(7, RawNbd.goData('nosuch'));
  expect((await h.replies()).pop()!.type).toBe(0x80000006); // ERR_UNKNOWN
  h.option(6, RawNbd.goData('nosuch'));
  expect((await h.replies()).pop()!.type).toBe(0x80000006);
  h.option(8); // STRUCTURED_REPLY
  expect((await h.replies()).pop()!.type).toBe(0x80000001); // ERR_UNSUP
  h.option(7, Buffer.from([0, 0, 0, 200, 1]));
  expect((await h.replies()).pop()!.type).toBe(0x80000003); // ERR_INVALID
  h.option(3);
  const list = await h.replies();
  expect(list[0].type).toBe(2);
  expect(list[0].data.subarray(4).toString()).toBe(d.name);
  h.option(6, RawNbd.goData(d.name)); // INFO, then GO on the same connection
  expect((await h.replies()).pop()!.type).toBe(1);
  h.option(2); // ABORT
  expect((await h.replies()).pop()!.type).toBe(1);
  expect(await h.read(1)).toBeNull();

  // A huge option is a broken client.
  const o = await RawNbd.connect(d.sock);
  await o.greet();
  const big = Buffer.alloc(16);
  big.write('IHAVEOPT', 0, 'latin1');
  big.writeUInt32BE(7, 8);
  big.writeUInt32BE(0x7fffffff, 12);
  o.write(big);
  expect(await o.read(1)).toBeNull();

  // Transmission: errors for bad requests, the connection stays usable.
  const { c, size: got } = await RawNbd.open(d.sock, d.name);
  expect(got).toBe(size);
  c.request(0, size, 512);
  expect(await c.reply()).toBe(22); // past the end
  c.request(0, 0xfffffffffffffe00n, 1024);
  expect(await c.reply()).toBe(22); // offset + length overflows
  c.request(0, 0n, 0xffffffff);
  expect(await c.reply()).toBe(22); // over 32 MiB
  c.request(0, 1n, 512);
  expect(await c.reply()).toBe(22); // unaligned
  c.request(99, 0n, 512);
  expect(await c.reply()).toBe(22); // unknown command
  c.request(0, 0n, 512, 0x10);
  expect(await c.reply()).toBe(22); // unknown flag
  c.request(1, size - 512n, 1024, 0, 9n); // write past the end: its payload is skipped
  c.write(Buffer.alloc(1024, 0xee));
  expect(await c.reply(9n)).toBe(22);
  c.request(1, 0n, 4096, 1, 10n);
  c.write(Buffer.alloc(4096, 0xee));
  expect(await c.reply(10n)).toBe(0);
  c.request(3, 0n, 0, 0, 11n);
  expect(await c.reply(11n)).toBe(0);
  c.request(0, 0n, 4096, 0, 12n);
  expect(await c.reply(12n)).toBe(0);
  expect((await c.read(4096))!.equals(Buffer.alloc(4096, 0xee))).toBe(true);
  // Bad magic: dropped.
  c.request(0, 0n, 512, 0, 13n, 0xdeadbeef);
  expect(await c.reply(13n)).toBeNull();

  // A write with a payload over the maximum: dropped.
  const w = await RawNbd.open(d.sock, d.name);
  w.c.request(1, 0n, 0x7fffffff);
  expect(await w.c.reply()).toBeNull();

  // Garbage and a client that vanishes mid-request.
  const g = await RawNbd.connect(d.sock);
  await g.read(18);
  g.write(Buffer.alloc(64, 0xff));
  expect(await g.read(1)).toBeNull();
  const v = await RawNbd.open(d.sock, d.name);
  v.c.request(1, 0n, 8192);
  v.c.write(Buffer.alloc(100));
  v.c.close();

  // The daemon still serves this export and others.
  expect(qemuIo(d, 'read -P 0xee 0 4k').stdout).toMatch(/read 4096\/4096/);
  expect(JSON.parse(run('nbdinfo', ['--json', nbdUri(d)]).stdout).exports[0]['export-size']).toBe(16 * MiB);
  await dropDisk(d);
});

test('bad nbd_socket values are clean errors', async () => {
  const domid = nextDomid++;
  host.toolstack('create-domain', String(domid));
  host.toolstack('add-vbd', String(domid), '51712', '--kind', 'vbd');
  const file = path.join(host.dir, `bad${domid}.img`);
  fs.writeFileSync(file, Buffer.alloc(MiB));
  const base = { name: `b${domid}`, backend: `backend/vbd/${domid}/51712`, path: file };
  await expect(host.rpc('disk_add', { ...base, nbd_socket: path.join(host.dir, 'no/such/dir/sock') })).rejects.toMatchObject({ code: -32602 });
  await expect(host.rpc('disk_add', { ...base, nbd_socket: 'relative.sock' })).rejects.toThrow(/absolute/);
  await expect(host.rpc('disk_add', { ...base, nbd_socket: 42 })).rejects.toThrow(/nbd_socket/);
  await expect(host.rpc('disk_add', { ...base, nbd_socket: file })).rejects.toThrow(/cannot bind/); // exists
  await expect(host.rpc('disk_list')).resolves.not.toContainEqual(expect.objectContaining({ name: base.name }));
  // The name is free again and the backend usable.
  await host.rpc('disk_add', { ...base, nbd_socket: path.join(host.dir, 'ok.sock') });
  await host.rpc('disk_remove', { name: base.name });
  expect(fs.existsSync(path.join(host.dir, 'ok.sock'))).toBe(false);
  host.toolstack('destroy-domain', String(domid));
});

test('open connections end at disk_remove and at daemon shutdown', async () => {
  const a = await newDisk({}, 16);
  const { c } = await RawNbd.open(a.sock, a.name);
  c.request(0, 0n, 512);
  expect(await c.reply()).toBe(0);
  await c.read(512);
  await dropDisk(a); // does not wait for the client
  expect(await c.read(1)).toBeNull();
  expect(fs.existsSync(a.sock)).toBe(false);
  // This one stays connected (idle, and mid-handshake) until afterAll stops the daemon, which must exit cleanly.
  const b = await newDisk({}, 16);
  await RawNbd.open(b.sock, b.name);
  const half = await RawNbd.connect(b.sock);
  await half.read(18);
});
