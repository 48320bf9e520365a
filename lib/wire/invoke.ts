// One plugin call, as xapi-storage-script makes it (reference 2): the named
// argument object as JSON, the answer as exactly one JSON value, or the error
// envelope and a non-zero exit. json-rpc-2.0 does the dispatch.
import { JSONRPCErrorException, JSONRPCServer } from 'json-rpc-2.0';
import * as z from 'zod/mini';
import { errors, toEnvelope } from './errors';
import { findMethod, type PluginKind } from './methods';
import type { Args, Handlers } from '../plugin/handlers';
import { READ_ONLY_METHODS } from '../plugin/handlers';
import { log } from '../util/log';

export interface CallOutcome {
  /** Exactly what goes to stdout. */
  stdout: string;
  exitCode: number;
}

const ENVELOPE_CODE = -32000;

function failure(err: unknown): CallOutcome {
  const envelope = toEnvelope(err);
  log.error(`failed: ${envelope.code} ${JSON.stringify(envelope.params)}`);
  return { stdout: JSON.stringify(envelope), exitCode: 1 };
}

/** Parses and validates the argument text for `method` of plugin `kind`. */
export function parseArgs(kind: PluginKind, method: string, handlers: Handlers, text: string): { name: string; args: Args } {
  const spec = findMethod(method);
  if (!spec || !spec.plugins.includes(kind) || !handlers[spec.name]) throw errors.unimplemented(`${method} (${kind} plugin)`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw errors.invalidArguments(`${spec.name}: the arguments are not valid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw errors.invalidArguments(`${spec.name}: the arguments must be a JSON object of named parameters`);
  }
  const parsed = spec.args.safeParse(value);
  if (!parsed.success) throw errors.invalidArguments(`${spec.name}: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`);
  return { name: spec.name, args: parsed.data as Args };
}

export async function call(kind: PluginKind, method: string, handlers: Handlers, text: string): Promise<CallOutcome> {
  log.setContext(method);
  let name: string;
  let args: Args;
  try {
    ({ name, args } = parseArgs(kind, method, handlers, text));
  } catch (e) {
    return failure(e);
  }
  const quiet = READ_ONLY_METHODS.has(name);
  if (!quiet) log.info(`called with ${JSON.stringify(args)}`);

  const server = new JSONRPCServer({ errorListener: () => undefined });
  server.addMethod(name, (params) => {
    try {
      return handlers[name](params as Args);
    } catch (e) {
      throw new JSONRPCErrorException(e instanceof Error ? e.message : String(e), ENVELOPE_CODE, toEnvelope(e));
    }
  });
  const response = await server.receive({ jsonrpc: '2.0', id: 1, method: name, params: args });
  if (!response) return failure(new Error('no JSON-RPC response'));
  if (response.error) {
    const envelope = response.error.data ?? toEnvelope(new Error(response.error.message));
    log.error(`failed: ${envelope.code} ${JSON.stringify(envelope.params)}`);
    return { stdout: JSON.stringify(envelope), exitCode: 1 };
  }
  const stdout = JSON.stringify(response.result ?? null);
  if (!quiet) log.info(`succeeded: ${stdout.length > 2000 ? `${stdout.slice(0, 2000)}...` : stdout}`);
  return { stdout, exitCode: 0 };
}
