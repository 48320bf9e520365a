// The human-facing side of the same executables: --help, --version, direct calls.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { srCreate } from '../harness/fixtures';
import { Host, PLUGIN_DIRS, REPO } from '../harness/xss';

const host = new Host('xss-cli-');
afterAll(() => host.cleanup());
const version = (require('../../package.json') as { version: string }).version;

function run(file: string, args: string[], input = '') {
  return spawnSync(file, args, { env: host.env, input, encoding: 'utf8' });
}

test('--help and --version on a method executable and on the program', () => {
  const help = run(path.join(PLUGIN_DIRS.volume, 'SR.stat'), ['--help']);
  expect(help.status).toBe(0);
  expect(help.stdout).toMatch(/SR\.stat/);
  expect(help.stdout).toMatch(/--json/);
  expect(run(path.join(PLUGIN_DIRS.volume, 'SR.stat'), ['--version']).stdout.trim()).toBe(version);
  const bundle = path.join(REPO, 'dist/xapi-storage-spdk.js');
  expect(run(bundle, ['--version']).stdout.trim()).toBe(version);
  expect(run(bundle, ['--help']).stdout).toMatch(/call/);
  expect(run(bundle, ['methods', 'volume']).stdout.trim().split('\n')).toContain('Volume.snapshot');
});

test('direct invocation with key=value words or a JSON object', () => {
  const { sr } = srCreate(host, { path: host.srsDir });
  const stat = run(path.join(PLUGIN_DIRS.volume, 'SR.stat'), [`sr=${sr}`]);
  expect(stat.status).toBe(0);
  expect(JSON.parse(stat.stdout)).toMatchObject({ sr, health: ['Healthy', ''] });
  const bundle = path.join(REPO, 'dist/xapi-storage-spdk.js');
  const created = run(bundle, ['call', 'volume', 'Volume.create', JSON.stringify({ sr, name: 'n', description: 'd', size: 4096, sharable: false })]);
  expect(created.status).toBe(0);
  expect(JSON.parse(created.stdout)).toMatchObject({ name: 'n', virtual_size: 4096 });
  const missing = run(bundle, ['call', 'volume', 'Volume.stat', `sr=${sr}`, 'key=nope']);
  expect(missing.status).toBe(1);
  expect(JSON.parse(missing.stdout).params).toEqual(['Volume_does_not_exist', 'nope']);
  const bad = run(bundle, ['call', 'nonsense', 'SR.stat']);
  expect(bad.status).not.toBe(0);
  expect(bad.stderr).toMatch(/volume or datapath/);
});
