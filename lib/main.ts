// The one program behind every plugin executable. Called by
// xapi-storage-script as `<plugin dir>/<Method> --json`, it answers on stdout
// and nowhere else; called any other way it is a command line for people.
import * as fs from 'node:fs';
import { call } from './wire/invoke';
import { toEnvelope } from './wire/errors';
import { entryOf, handlersOf } from './plugin/entry';
import { log } from './util/log';

// stdout carries the answer only: whatever a library prints goes to the log.
const toLog = (...a: unknown[]) => log.warning(a.map(String).join(' '));
console.log = console.info = console.warn = console.error = console.debug = toLog;

async function main(): Promise<void> {
  const executable = process.argv[1] ?? '';
  const entry = entryOf(executable);
  const args = process.argv.slice(2);
  if (entry && args.length === 1 && args[0] === '--json') {
    const text = fs.readFileSync(0, 'utf8');
    const outcome = await call(entry.kind, entry.method, handlersOf(entry.kind), text);
    fs.writeSync(1, outcome.stdout);
    process.exitCode = outcome.exitCode;
    return;
  }
  // People get commander, loaded only now to keep plugin calls fast.
  const { runCommandLine } = await import('./cli');
  process.exitCode = await runCommandLine(entry, process.argv);
}

main().catch((e: unknown) => {
  fs.writeSync(1, JSON.stringify(toEnvelope(e)));
  process.exitCode = 1;
});
