// Runs host tools (mkfs.xfs, mount, cp, blkid) with a timeout. Their output
// never reaches our stdout, which belongs to the answer for xapi.
import { log } from './log';

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

export class CommandFailed extends Error {
  constructor(
    readonly argv: string[],
    readonly result: RunResult,
  ) {
    super(`${argv.join(' ')} failed (exit ${result.status}): ${(result.stderr || result.stdout).trim()}`);
  }
}

/** Runs argv; returns the result whatever the exit status (throws only if it cannot run). */
export function runStatus(argv: string[], timeoutMs = 600_000): RunResult {
  log.debug(`run: ${argv.join(' ')}`);
  // node:child_process loads on use: most calls never run a tool.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const r = spawnSync(argv[0], argv.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    env: { ...process.env, LC_ALL: 'C' },
  });
  if (r.error) throw new Error(`${argv[0]}: ${r.error.message}`);
  return { status: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

/** Runs argv and throws CommandFailed on a non-zero exit. */
export function run(argv: string[], timeoutMs?: number): string {
  const r = runStatus(argv, timeoutMs);
  if (r.status !== 0) throw new CommandFailed(argv, r);
  return r.stdout;
}
