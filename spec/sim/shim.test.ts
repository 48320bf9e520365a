// The shim from TypeScript through ffi-rs, starting and stopping the real daemon.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bin, SimHost } from '../harness/sim';
import { daemonAlive, ShimError, startDaemon, stopDaemon } from '../../lib/datapath/shim';

let host: SimHost;
let simEnv: Record<string, string>;
beforeAll(async () => {
  host = await SimHost.start();
  simEnv = { XENSTORED_PATH: host.env.XENSTORED_PATH!, XENSIM_HV_PATH: host.env.XENSIM_HV_PATH! };
});
afterAll(async () => {
  await host?.stop();
});

test('starts xenblkd, waits for ready, sees it alive, stops it politely', async () => {
  const sock = path.join(host.dir, 'shim.sock');
  const log = path.join(host.dir, 'shim.log');
  const pid = startDaemon(bin('xenblkd'), ['--platform', 'sim', '--socket', sock], log, 10_000, simEnv);
  expect(pid).toBeGreaterThan(1);
  expect(fs.existsSync(sock)).toBe(true); // ready means serving
  expect(daemonAlive(pid, 'xenblkd')).toBe(true);
  expect(daemonAlive(pid, 'node')).toBe(false);
  expect(stopDaemon(pid, 5_000)).toBe('stopped');
  expect(daemonAlive(pid, 'xenblkd')).toBe(false);
  expect(fs.existsSync(sock)).toBe(false); // it cleaned up after itself
  expect(fs.readFileSync(log, 'utf8')).toMatch(/serving on .*shim\.sock[\s\S]*stopped/);
  expect(stopDaemon(pid, 1_000)).toBe('stopped'); // already gone: fine
});

test('a daemon that cannot start reports its last words', () => {
  const log = path.join(host.dir, 'bad.log');
  let thrown: unknown;
  try {
    startDaemon(bin('xenblkd'), ['--platform', 'sim', '--socket', '/nonexistent/dir/x.sock'], log, 10_000, simEnv);
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(ShimError);
  expect((thrown as Error).message).toBe(`${bin('xenblkd')} exited with status 1 before it was ready: ${fs.readFileSync(log, 'utf8').trim().replace(/\n/g, ' ')}`);
  expect((thrown as Error).message).toMatch(/cannot listen on \/nonexistent\/dir\/x\.sock/);
  expect(() => startDaemon(bin('xenblkd'), ['bad\nargument'], log, 1_000)).toThrow(/newlines/);
});
