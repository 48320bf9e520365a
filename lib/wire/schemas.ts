// The SMAPIv3 (xapi-storage v5) types as zod schemas, with the wire encoding
// rpclib expects: optional fields omitted (never null), int64 as JSON integers,
// variants as ["Tag", payload] or a bare "Tag" when there is no payload.
// Argument objects keep rpclib's leniency (unknown keys are ignored); results
// are strict so that tests catch anything extra we would send.
import * as z from 'zod/mini';

export const int64 = z.int();
export const nonNegativeInt64 = z.int().check(z.nonnegative());
export const stringMap = z.record(z.string(), z.string());

export const health = z.union([
  z.tuple([z.literal('Healthy'), z.string()]),
  z.tuple([z.literal('Recovering'), z.string()]),
  z.tuple([z.literal('Unreachable'), z.string()]), // 8.3 only
  z.tuple([z.literal('Unavailable'), z.string()]), // 8.3 only
]);

export const srStat = z.strictObject({
  sr: z.string(),
  name: z.string(),
  uuid: z.optional(z.string()),
  description: z.string(),
  free_space: nonNegativeInt64,
  total_space: nonNegativeInt64,
  datasources: z.array(z.string()),
  clustered: z.boolean(),
  health,
});

export const volumeType = z.union([z.literal('Data'), z.literal('CBT_Metadata'), z.literal('Data_and_CBT_Metadata')]);

export const volume = z.strictObject({
  key: z.string(),
  uuid: z.optional(z.string()),
  name: z.string(),
  description: z.string(),
  read_write: z.boolean(),
  sharable: z.boolean(),
  virtual_size: nonNegativeInt64,
  physical_utilisation: nonNegativeInt64,
  uri: z.array(z.string()),
  keys: stringMap,
  volume_type: z.optional(volumeType), // 8.3 only
  cbt_enabled: z.optional(z.boolean()), // 8.3 only
});

export const probeResult = z.strictObject({
  configuration: stringMap,
  complete: z.boolean(),
  sr: z.optional(srStat),
  extra_info: stringMap,
});

export const blocklist = z.strictObject({
  blocksize: z.int(),
  ranges: z.array(z.tuple([int64, int64])),
});

export const changedBlocks = z.strictObject({ granularity: z.int(), bitmap: z.string() });

export const queryResult = z.strictObject({
  plugin: z.string(),
  name: z.string(),
  description: z.string(),
  vendor: z.string(),
  copyright: z.string(),
  version: z.string(),
  required_api_version: z.string(),
  features: z.array(z.string()),
  configuration: stringMap,
  required_cluster_stack: z.array(z.string()),
});

export const implementation = z.union([
  z.tuple([z.literal('XenDisk'), z.strictObject({ params: z.string(), extra: stringMap, backend_type: z.string() })]),
  z.tuple([z.literal('BlockDevice'), z.strictObject({ path: z.string() })]),
  z.tuple([z.literal('File'), z.strictObject({ path: z.string() })]),
  z.tuple([z.literal('Nbd'), z.strictObject({ uri: z.string() })]),
]);

export const backend = z.strictObject({ implementations: z.array(implementation) });

export const dataOperation = z.union([
  z.tuple([z.literal('Copy'), z.tuple([z.string(), z.string()])]),
  z.tuple([z.literal('Mirror'), z.tuple([z.string(), z.string()])]),
  z.tuple([z.literal('CopyV1'), z.string()]), // 8.3 only
  z.tuple([z.literal('MirrorV1'), z.string()]), // 8.3 only
]);

export const dataStatus = z.strictObject({
  failed: z.boolean(),
  complete: z.optional(z.boolean()), // 8.3 only
  progress: z.optional(z.number()),
});

const taskResult = z.union([z.literal('UnitResult'), z.tuple([z.literal('Volume'), volume])]);
export const task = z.strictObject({
  id: z.string(),
  debug_info: z.string(),
  ctime: z.number(),
  state: z.union([
    z.tuple([z.literal('Pending'), z.number()]),
    z.tuple([z.literal('Completed'), z.strictObject({ duration: z.number(), result: z.optional(taskResult) })]),
    z.tuple([z.literal('Failed'), z.string()]),
  ]),
});

export const unit = z.null();

export type SrStat = z.infer<typeof srStat>;
export type Volume = z.infer<typeof volume>;
export type ProbeResult = z.infer<typeof probeResult>;
export type QueryResult = z.infer<typeof queryResult>;
export type Backend = z.infer<typeof backend>;
