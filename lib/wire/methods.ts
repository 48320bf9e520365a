// Every xapi-storage v5 method: its wire name, the plugin that serves it, and
// the schemas of its named arguments and its result (IDL-2020 plus the 8.3
// additions). Arguments are loose objects: rpclib ignores unknown fields and a
// newer xapi may send more.
import * as z from 'zod/mini';
import type * as Schemas from './schemas';

// The type schemas are built on first use: a plugin call needs one or two of
// them, and building them all would cost every call start-up time.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const t = (): typeof Schemas => require('./schemas') as typeof Schemas;

export type PluginKind = 'volume' | 'datapath';

export interface MethodSpec {
  /** Wire name as in the IDL, e.g. "Plugin.query". */
  readonly name: string;
  /** Executable file name (1.4 of the reference): the wire name, but "Plugin.Query". */
  readonly file: string;
  readonly plugins: readonly PluginKind[];
  /** Built on first access. */
  readonly args: z.ZodMiniType<Record<string, unknown>>;
  /** Built on first access. */
  readonly result: z.ZodMiniType;
}

const dbg = z.string();
const sr = z.string();
const key = z.string();
const uri = z.string();
const domain = z.string();
const size = z.int().check(z.nonnegative());

const both: PluginKind[] = ['volume', 'datapath'];
const vol: PluginKind[] = ['volume'];
const dp: PluginKind[] = ['datapath'];

function m(name: string, plugins: PluginKind[], shape: () => z.core.$ZodLooseShape, result: () => z.ZodMiniType): MethodSpec {
  const file = name === 'Plugin.query' ? 'Plugin.Query' : name;
  let args: z.ZodMiniType<Record<string, unknown>> | undefined;
  let res: z.ZodMiniType | undefined;
  return {
    name,
    file,
    plugins,
    get args() {
      return (args ??= z.looseObject({ dbg, ...shape() }) as z.ZodMiniType<Record<string, unknown>>);
    },
    get result() {
      return (res ??= result());
    },
  };
}

const volumeArgs = { sr, key };

export const METHODS: readonly MethodSpec[] = [
  m('Plugin.query', both, () => ({}), () => t().queryResult),
  m('Plugin.ls', both, () => ({}), () => z.array(z.string())),
  m('Plugin.diagnostics', both, () => ({}), () => z.string()),

  m('SR.probe', vol, () => ({ configuration: t().stringMap }), () => z.array(t().probeResult)),
  m('SR.create', vol, () => ({ uuid: z.string(), configuration: t().stringMap, name: z.string(), description: z.string() }), () => t().stringMap),
  m('SR.attach', vol, () => ({ configuration: t().stringMap }), () => z.string()),
  m('SR.detach', vol, () => ({ sr }), () => t().unit),
  m('SR.destroy', vol, () => ({ sr }), () => t().unit),
  m('SR.stat', vol, () => ({ sr }), () => t().srStat),
  m('SR.set_name', vol, () => ({ sr, new_name: z.string() }), () => t().unit),
  m('SR.set_description', vol, () => ({ sr, new_description: z.string() }), () => t().unit),
  m('SR.ls', vol, () => ({ sr }), () => z.array(t().volume)),

  m('Volume.create', vol, () => ({ sr, name: z.string(), description: z.string(), size, sharable: z.boolean() }), () => t().volume),
  m('Volume.snapshot', vol, () => volumeArgs, () => t().volume),
  m('Volume.clone', vol, () => volumeArgs, () => t().volume),
  m('Volume.copy', vol, () => ({ ...volumeArgs, dest_sr: z.string() }), () => t().volume),
  m('Volume.destroy', vol, () => volumeArgs, () => t().unit),
  m('Volume.set_name', vol, () => ({ ...volumeArgs, new_name: z.string() }), () => t().unit),
  m('Volume.set_description', vol, () => ({ ...volumeArgs, new_description: z.string() }), () => t().unit),
  m('Volume.set', vol, () => ({ ...volumeArgs, k: z.string(), v: z.string() }), () => t().unit),
  m('Volume.unset', vol, () => ({ ...volumeArgs, k: z.string() }), () => t().unit),
  m('Volume.resize', vol, () => ({ ...volumeArgs, new_size: size }), () => t().unit),
  m('Volume.stat', vol, () => volumeArgs, () => t().volume),
  m('Volume.compare', vol, () => ({ ...volumeArgs, key2: key }), () => t().blocklist),
  m('Volume.similar_content', vol, () => volumeArgs, () => z.array(z.string())),
  m('Volume.enable_cbt', vol, () => volumeArgs, () => t().unit),
  m('Volume.disable_cbt', vol, () => volumeArgs, () => t().unit),
  m('Volume.data_destroy', vol, () => volumeArgs, () => t().unit),
  m('Volume.list_changed_blocks', vol, () => ({ ...volumeArgs, key2: key, offset: t().int64, length: z.int() }), () => t().changedBlocks),
  m('Volume.compose', vol, () => ({ ...volumeArgs, key2: key }), () => t().unit), // 8.3 only
  m('Volume.revert', vol, () => ({ sr, snapshot: key, key }), () => t().unit), // 8.3 only

  m('Datapath.open', dp, () => ({ uri, persistent: z.boolean() }), () => t().unit),
  m('Datapath.attach', dp, () => ({ uri, domain }), () => t().backend),
  m('Datapath.activate', dp, () => ({ uri, domain }), () => t().unit),
  m('Datapath.activate_readonly', dp, () => ({ uri, domain }), () => t().unit), // 8.3 only
  m('Datapath.import_activate', dp, () => ({ uri, domain }), () => z.string()), // 8.3 only
  m('Datapath.deactivate', dp, () => ({ uri, domain }), () => t().unit),
  m('Datapath.detach', dp, () => ({ uri, domain }), () => t().unit),
  m('Datapath.close', dp, () => ({ uri }), () => t().unit),

  m('Data.copy', dp, () => ({ uri, domain, remote: z.string(), blocklist: t().blocklist }), () => t().dataOperation),
  m('Data.mirror', dp, () => ({ uri, domain, remote: z.string() }), () => t().dataOperation),
  m('Data.stat', dp, () => ({ operation: t().dataOperation }), () => t().dataStatus),
  m('Data.cancel', dp, () => ({ operation: t().dataOperation }), () => t().unit),
  m('Data.destroy', dp, () => ({ operation: t().dataOperation }), () => t().unit),
  m('Data.ls', dp, () => ({}), () => z.array(t().dataOperation)),

  m('Task.stat', dp, () => ({ id: z.string() }), () => t().task),
  m('Task.cancel', dp, () => ({ id: z.string() }), () => t().unit),
  m('Task.destroy', dp, () => ({ id: z.string() }), () => t().unit),
  m('Task.ls', dp, () => ({}), () => z.array(z.string())),
];

const byLowerName = new Map(METHODS.map((spec) => [spec.name.toLowerCase(), spec]));

/** Finds a method by file or wire name, case-insensitively as xapi-storage-script does. */
export function findMethod(name: string): MethodSpec | undefined {
  return byLowerName.get(name.toLowerCase());
}
