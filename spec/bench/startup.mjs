// Start-up benchmark of a plugin call (a benchmark that prints its figures,
// not a timed test): the median wall time of Plugin.Query and Volume.stat,
// run exactly as xapi-storage-script runs them, against a bare `node -e 0`
// measured in the same run, interleaved. Target: at most 60 ms above node.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const plugin = path.join(repo, 'plugins/volume/org.xen.xapi.storage.spdk');
const runs = Number(process.env.RUNS ?? 30);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spdk-bench-'));
fs.mkdirSync(path.join(dir, 'srs'));
const env = { ...process.env, XAPI_SPDK_RUN_DIR: path.join(dir, 'run'), XAPI_SPDK_LOG_FILE: path.join(dir, 'log') };

function call(method, args) {
  const r = spawnSync(path.join(plugin, method), ['--json'], { input: JSON.stringify(args), env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${method}: ${r.stdout} ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function time(argv, input) {
  const t = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { input, env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stdout} ${r.stderr}`);
  return ms;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

try {
  const config = call('SR.create', { dbg: 'bench', uuid: 'bench-sr', configuration: { path: path.join(dir, 'srs') }, name: 'b', description: '' });
  const sr = call('SR.attach', { dbg: 'bench', configuration: config });
  const { key } = call('Volume.create', { dbg: 'bench', sr, name: 'v', description: '', size: 1 << 30, sharable: false });

  const samples = { node: [], query: [], stat: [] };
  for (let i = 0; i < runs + 3; i++) {
    const node = time([process.execPath, '-e', '0'], '');
    const query = time([path.join(plugin, 'Plugin.Query'), '--json'], JSON.stringify({ dbg: 'bench' }));
    const stat = time([path.join(plugin, 'Volume.stat'), '--json'], JSON.stringify({ dbg: 'bench', sr, key }));
    if (i < 3) continue; // warm the page cache first
    samples.node.push(node);
    samples.query.push(query);
    samples.stat.push(stat);
  }
  const base = median(samples.node);
  const row = (name, xs) => {
    const m = median(xs);
    const over = m - base;
    return `${name.padEnd(14)} ${m.toFixed(1).padStart(7)} ms   ${over >= 0 ? '+' : ''}${over.toFixed(1).padStart(6)} ms   ${name === 'node -e 0' ? '' : over <= 60 ? 'within 60 ms' : 'OVER 60 ms'}`;
  };
  console.log(`plugin start-up, median of ${runs} runs each (interleaved)`);
  console.log(`${'call'.padEnd(14)} ${'median'.padStart(10)}   ${'over node'.padStart(9)}`);
  console.log(row('node -e 0', samples.node));
  console.log(row('Plugin.Query', samples.query));
  console.log(row('Volume.stat', samples.stat));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
