// Bundles lib/main.ts into one file (fast start-up: one parse, zod tree-shaken).
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const outfile = process.argv[2] ?? 'dist/xapi-storage-spdk.js';

await build({
  entryPoints: ['lib/main.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  sourcemap: 'external',
  outfile,
  banner: { js: '#!/usr/bin/env node' },
  define: { __VERSION__: JSON.stringify(version) },
  external: ['ffi-rs'],
  logLevel: 'warning',
});
