// Bundles the plugin program into one file (fast start-up: one parse, zod
// tree-shaken, ffi-rs left external as a native module), and the demo.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  define: { __VERSION__: JSON.stringify(version) },
  external: ['ffi-rs'],
  logLevel: 'warning',
};

await build({
  ...common,
  entryPoints: ['lib/main.ts'],
  outfile: 'dist/xapi-storage-spdk.js',
  minify: true,
  sourcemap: 'external',
  banner: { js: '#!/usr/bin/env node' },
});
await build({ ...common, entryPoints: ['scripts/demo.ts'], outfile: 'dist/demo.js' });
await build({ ...common, entryPoints: ['spec/bench/backend.ts'], outfile: 'dist/bench-backend.js' });
await build({ ...common, entryPoints: ['spec/bench/spdk.ts'], outfile: 'dist/bench-spdk.js' });
