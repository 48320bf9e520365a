// A tool we start must not outlive us: xapi may kill a plugin mid-call, and
// a `cp` left running would keep writing into a file the orphan collector
// already removed. `setpriv --pdeathsig KILL` (util-linux >= 2.33) arranges
// that; older hosts run the tool bare.
import { log } from './log';

let prefix: string[] | undefined;

export function dieWithUs(argv: string[]): string[] {
  if (!prefix) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
    const probe = spawnSync('setpriv', ['--pdeathsig', 'KILL', '--', 'true'], { stdio: 'ignore' });
    prefix = probe.status === 0 ? ['setpriv', '--pdeathsig', 'KILL', '--'] : [];
    if (!prefix.length) log.debug('setpriv --pdeathsig unavailable: tools run without a parent-death signal');
  }
  return [...prefix, ...argv];
}
