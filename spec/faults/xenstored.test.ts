// xenstored restarted under the daemon, keeping its store (oxenstored's live update): a verified
// guest workload runs across it (the data path does not need xenstore), the daemon notices the
// lost connection, reconnects with backoff, registers its watches again and reconciles every
// disk: a plug written while it was away is claimed; unplug, remove and a new plug then work
// through the new xenstored.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SimHost } from '../harness/sim';

const MiB = 1024 * 1024;
let host: SimHost;

beforeAll(async () => {
  host = await SimHost.start('xensim-xsrestart-');
  await host.startDaemon();
}, 30_000);
afterAll(async () => {
  await host?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${host.daemonLog.slice(-3000)}`);
    await sleep(50);
  }
}

function sparse(name: string, mib: number): string {
  const file = path.join(host.dir, name);
  fs.writeFileSync(file, '');
  fs.truncateSync(file, mib * MiB);
  return file;
}

/** A subtree with its permissions, as xenstore-ls -p prints it. */
const lsPerms = (p: string) => spawnSync('xenstore-ls', ['-p', p], { env: host.env, encoding: 'utf8' }).stdout;

const guestArgs = (domid: number, extra: string[]) => ['--domid', String(domid), '--no-progress', '--timeout', '15', ...extra];

test('fault xenstored-restart: I/O goes on across a live update; the daemon reconnects, re-watches and reconciles', async () => {
  const a = await host.addDisk(); // domain 10, served at backend/vbd/10/51712
  // Domains are created before the restart (the hypervisor introduces them to xenstored).
  host.toolstack('create-domain', '11');
  host.toolstack('create-domain', '12');
  await host.rpc('disk_add', { name: 'c', claim: { domid: 12, value: 'vol-c' }, path: sparse('c.img', 64) });

  const running = host.guest(a.domid, guestArgs(a.domid, ['--verify', '--rw', 'randrw', '--bs', '4k', '--iodepth', '8', '--runtime', '6', '--size', `${8 * MiB}`, '--close']));
  await sleep(1000);
  const before = await host.rpc<any>('disk_stats', { name: a.name });
  const tree = lsPerms('/local/domain/10');
  expect(tree).toMatch(/\(n10\)/);

  let writtenWhileAway = false;
  await host.restartXenstored(async () => {
    // The heartbeat finds the loss within a second; then let the daemon's backoff grow past the restart.
    await until('the daemon to notice', () => /xenstore connection lost/.test(host.daemonLog), 5_000);
    const during = await host.rpc<any>('disk_stats', { name: a.name });
    expect(during.total.reads + during.total.writes).toBeGreaterThan(before.total.reads + before.total.writes);
    await sleep(1700);
  });
  // Written before the daemon is back (its next attempt is ~1.5 s away): no watch of it can fire.
  host.toolstack('add-vbd', '12', '51712', '--kind', 'qdisk', '--backend-key', 'sm-data/xenblkd-disk=vol-c');
  writtenWhileAway = !/xenstore: reconnected/.test(host.daemonLog);

  // The running guest never noticed; it closes through the new xenstored.
  const r = await running.done;
  expect(r.status).toBe(0);
  expect(r.summary.errors.total).toBe(0);
  expect(r.summary.verify.failures).toBe(0);
  expect(r.summary.close).toMatchObject({ ok: true, backend_state: 6 });
  expect(r.summary.protocol_messages.join(' ')).toMatch(/reconnected to close/);
  const after = await host.rpc<any>('disk_stats', { name: a.name });
  expect(after.total.errors).toBe(0);

  // The log tells the story; the store survived.
  expect(host.daemonLog).toMatch(/xenstore connection lost .*reconnecting/);
  expect(host.daemonLog).toMatch(/xenstore: reconnected after \d+ attempt\(s\); watches registered again, reconciling 2 disk\(s\)/);
  expect(host.xsRead('/local/domain/10/device/vbd/51712/backend')).toBe('/local/domain/0/backend/vbd/10/51712');
  expect(lsPerms('/local/domain/10').replace(/state = "\d"/g, 'state')).toBe(tree.replace(/state = "\d"/g, 'state'));

  // The plug written while the daemon was away is claimed once it is back, and serves a guest.
  expect(writtenWhileAway).toBe(true);
  await until('the claim', async () => (await host.rpc<any>('disk_get', { name: 'c' })).claim.claimed === true);
  await until('hotplug-status', () => host.xsRead('/local/domain/0/backend/qdisk/12/51712/hotplug-status') === 'connected');
  const c = await host.guest(12, guestArgs(12, ['--verify', '--rw', 'randrw', '--bs', '4k', '--iodepth', '8', '--ios', '1500', '--size', `${8 * MiB}`, '--close'])).done;
  expect(c.status).toBe(0);
  expect(c.summary.verify.failures).toBe(0);

  // Unplug and removal through the new xenstored: the daemon follows (watches registered again).
  host.toolstack('remove-vbd', String(a.domid), '51712');
  await until('disk a forgotten', async () => !(await host.rpc<any[]>('disk_list')).some((x) => x.name === a.name));
  host.toolstack('remove-vbd', '12', '51712');
  await until('disk c waiting again', async () => (await host.rpc<any>('disk_get', { name: 'c' })).claim.claimed === false);

  // A new plug, served and verified.
  host.toolstack('add-vbd', '11', '51712', '--kind', 'vbd');
  await host.rpc('disk_add', { name: 'b', backend: 'backend/vbd/11/51712', path: sparse('b.img', 64) });
  const b = await host.guest(11, guestArgs(11, ['--verify', '--rw', 'randrw', '--bs', '4k', '--iodepth', '8', '--ios', '1500', '--size', `${8 * MiB}`, '--close'])).done;
  expect(b.status).toBe(0);
  expect(b.summary.verify.failures).toBe(0);
  expect(host.xsRead('/local/domain/0/backend/vbd/11/51712/state')).toBe('6');
  await host.rpc('disk_remove', { name: 'b' });
  await host.rpc('disk_remove', { name: 'c' });
});
