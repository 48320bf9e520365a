// The human-facing command line: --help, --version, and direct calls for
// debugging, e.g. `SR.stat '{"dbg":"me","sr":"file:///srv/sr"}'` or
// `xapi-storage-spdk call volume SR.stat sr=file:///srv/sr`.
import * as fs from 'node:fs';
import { Command } from 'commander';
import { METHODS, findMethod, type PluginKind } from './wire/methods';
import { call } from './wire/invoke';
import { handlersOf, type Entry } from './plugin/entry';
import { VERSION } from './plugin/identity';

/** Builds the argument object from a JSON text or key=value words; dbg defaults to "cli". */
function argumentText(words: string[]): string {
  if (words.length === 0) return fs.readFileSync(0, 'utf8');
  if (words.length === 1 && words[0].trim().startsWith('{')) {
    const value = JSON.parse(words[0]) as Record<string, unknown>;
    return JSON.stringify({ dbg: 'cli', ...value });
  }
  const args: Record<string, unknown> = { dbg: 'cli' };
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq <= 0) throw new Error(`expected key=value, got ${word}`);
    const raw = word.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // a plain string
    }
    args[word.slice(0, eq)] = value;
  }
  return JSON.stringify(args);
}

async function callAndPrint(kind: PluginKind, method: string, words: string[]): Promise<number> {
  const outcome = await call(kind, method, handlersOf(kind), argumentText(words));
  process.stdout.write(`${JSON.stringify(JSON.parse(outcome.stdout), null, 2)}\n`);
  return outcome.exitCode;
}

/** The executables a plugin directory holds: one per implemented method. */
function methodFiles(kind: PluginKind): string[] {
  const handlers = handlersOf(kind);
  return METHODS.filter((m) => m.plugins.includes(kind) && handlers[m.name]).map((m) => m.file);
}

export async function runCommandLine(entry: Entry | undefined, argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = new Command().version(VERSION).exitOverride();
  if (entry) {
    const spec = findMethod(entry.method);
    program
      .name(entry.method)
      .description(`SMAPIv3 ${entry.kind} plugin method ${spec?.name ?? entry.method} (xapi runs it with --json, arguments on stdin)`)
      .argument('[arguments...]', 'a JSON object, or key=value pairs (values parsed as JSON when they can be); stdin when absent')
      .option('--json', 'read the argument object from stdin and answer exactly as for xapi')
      .action(async (words: string[]) => {
        exitCode = await callAndPrint(entry.kind, entry.method, words);
      });
  } else {
    program.name('xapi-storage-spdk').description('SMAPIv3 volume and datapath plugins for XCP-ng (spdk)');
    program
      .command('call')
      .description('call a plugin method as xapi-storage-script would')
      .argument('<plugin>', 'volume or datapath')
      .argument('<method>', 'e.g. SR.stat')
      .argument('[arguments...]', 'a JSON object or key=value pairs; stdin when absent')
      .action(async (plugin: string, method: string, words: string[]) => {
        if (plugin !== 'volume' && plugin !== 'datapath') throw new Error('plugin must be volume or datapath');
        exitCode = await callAndPrint(plugin, method, words);
      });
    program
      .command('methods')
      .description("list the executable file names of a plugin's methods")
      .argument('<plugin>', 'volume or datapath')
      .action((plugin: string) => {
        if (plugin !== 'volume' && plugin !== 'datapath') throw new Error('plugin must be volume or datapath');
        process.stdout.write(`${methodFiles(plugin).join('\n')}\n`);
      });
  }
  try {
    await program.parseAsync(argv);
  } catch (e) {
    const code = (e as { exitCode?: number }).exitCode;
    if (typeof code === 'number') return code; // --help, --version, usage errors
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
  return exitCode;
}
