// The plugin directories as xapi-storage-script finds them: in the checkout
// after `make`, and under DESTDIR after `make install`.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { T } from '../harness/rpclib';
import { srCreate, vdiCreate } from '../harness/fixtures';
import { Host, PLUGIN_DIRS, REPO } from '../harness/xss';
import { METHODS } from '../../lib/wire/methods';
import { volumeHandlers } from '../../lib/plugin/volume';
import { datapathHandlers } from '../../lib/plugin/datapath';

const expected = {
  volume: METHODS.filter((m) => volumeHandlers[m.name]).map((m) => m.file).sort(),
  datapath: METHODS.filter((m) => datapathHandlers[m.name]).map((m) => m.file).sort(),
};

function executables(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => {
      const p = path.join(dir, f);
      if (!fs.statSync(p).isFile()) return false;
      try {
        fs.accessSync(p, fs.constants.X_OK);
        return true;
      } catch {
        return false;
      }
    })
    .sort();
}

test('the checkout holds one executable per implemented method, named as in the IDL', () => {
  expect(executables(PLUGIN_DIRS.volume)).toEqual(expected.volume);
  expect(executables(PLUGIN_DIRS.datapath)).toEqual(expected.datapath);
  expect(expected.volume).toEqual(expect.arrayContaining(['Plugin.Query', 'SR.create', 'Volume.clone']));
  expect(path.basename(PLUGIN_DIRS.volume)).toBe('org.xen.xapi.storage.spdk');
});

describe('make install DESTDIR=...', () => {
  const host = new Host('xss-install-');
  const dest = path.join(host.dir, 'root');
  afterAll(() => host.cleanup());

  test('lays the plugins out under usr/libexec/xapi-storage-script and they run there', () => {
    const r = spawnSync('make', ['-s', 'install', `DESTDIR=${dest}`], { cwd: REPO, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const root = path.join(dest, 'usr/libexec/xapi-storage-script');
    expect(fs.readdirSync(root).sort()).toEqual(['datapath', 'volume']);
    expect(fs.readdirSync(path.join(root, 'datapath'))).toEqual(['spdk']); // no staging leftovers
    host.dirs = { volume: path.join(root, 'volume/org.xen.xapi.storage.spdk'), datapath: path.join(root, 'datapath/spdk') };
    expect(executables(host.dirs.volume)).toEqual(expected.volume);
    expect(executables(host.dirs.datapath)).toEqual(expected.datapath);
    // Relative links: the tree works wherever DESTDIR puts it.
    expect(fs.readlinkSync(path.join(host.dirs.volume, 'SR.create'))).toBe('../../../../lib/xapi-storage-spdk/xapi-storage-spdk.js');

    // The installed copy runs, including the calls that need ffi-rs (locks).
    expect(host.call<{ plugin: string }>('datapath', 'Plugin.Query', { dbg: 'register' }, T.queryResult).plugin).toBe('spdk');
    const { sr } = srCreate(host, { path: host.srsDir });
    const v = vdiCreate(host, sr, 1 << 20);
    expect(host.call<{ keys: Record<string, string> }>('volume', 'Volume.stat', { dbg: 't', sr, key: v.key }, T.volume).keys).toEqual({ 'vdi-type': 'user' });

    // Installing again replaces the datapath directory in one rename.
    expect(spawnSync('make', ['-s', 'install', `DESTDIR=${dest}`], { cwd: REPO }).status).toBe(0);
    expect(fs.readdirSync(path.join(root, 'datapath'))).toEqual(['spdk']);
  });
});
