// A decoder that accepts exactly what rpclib (ocaml-rpc, as used by
// xapi-storage-script) accepts when it unmarshals a plugin's stdout:
// record fields matched case-insensitively and unknown ones ignored, a
// missing required field or a null optional rejected, int64 only as a JSON
// integer (or a decimal string), variants as ["Tag", payload] or "Tag".
export type RpcType =
  | 'string'
  | 'int64'
  | 'float'
  | 'bool'
  | 'unit'
  | { list: RpcType }
  | { dict: 'string' }
  | { record: Record<string, { type: RpcType; optional?: boolean }> }
  | { variant: Record<string, RpcType | null> }
  | { tuple: RpcType[] };

export class RpcDecodeError extends Error {}

function fail(path: string, msg: string): never {
  throw new RpcDecodeError(`${path || '<root>'}: ${msg}`);
}

export function decode(type: RpcType, value: unknown, path = ''): unknown {
  if (type === 'string') {
    if (typeof value !== 'string') fail(path, `Expected string, got ${JSON.stringify(value)}`);
    return value;
  }
  if (type === 'int64') {
    if (typeof value === 'number' && Number.isInteger(value) && !String(value).includes('e') && !String(value).includes('.')) return value;
    if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
    fail(path, `Expected int64, got ${JSON.stringify(value)}`);
  }
  if (type === 'float') {
    if (typeof value !== 'number') fail(path, `Expected float, got ${JSON.stringify(value)}`);
    return value;
  }
  if (type === 'bool') {
    if (typeof value !== 'boolean') fail(path, `Expected bool, got ${JSON.stringify(value)}`);
    return value;
  }
  if (type === 'unit') {
    if (value !== null) fail(path, `Expected unit (null), got ${JSON.stringify(value)}`);
    return null;
  }
  if ('list' in type) {
    if (!Array.isArray(value)) fail(path, `Expected list, got ${JSON.stringify(value)}`);
    return value.map((v, i) => decode(type.list, v, `${path}[${i}]`));
  }
  if ('tuple' in type) {
    if (!Array.isArray(value) || value.length !== type.tuple.length) fail(path, `Expected ${type.tuple.length}-tuple`);
    return type.tuple.map((t, i) => decode(t, value[i], `${path}[${i}]`));
  }
  if ('dict' in type) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, 'Expected dict');
    for (const [k, v] of Object.entries(value)) decode('string', v, `${path}.${k}`);
    return value;
  }
  if ('record' in type) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, 'Expected record');
    const byLower = new Map(Object.entries(value).map(([k, v]) => [k.toLowerCase(), v]));
    const out: Record<string, unknown> = {};
    for (const [name, field] of Object.entries(type.record)) {
      const lower = name.toLowerCase();
      if (!byLower.has(lower)) {
        if (field.optional) continue;
        fail(path, `No value found for key: '${name}'`);
      }
      // rpclib hands a null to the inner unmarshaller, which rejects it.
      out[name] = decode(field.type, byLower.get(lower), `${path}.${name}`);
    }
    return out;
  }
  // variant
  const tags = new Map(Object.entries(type.variant).map(([k, v]) => [k.toLowerCase(), { tag: k, payload: v }]));
  if (typeof value === 'string') {
    const t = tags.get(value.toLowerCase());
    if (!t || t.payload !== null) fail(path, `Unknown variant or missing payload: ${value}`);
    return t.tag;
  }
  if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'string') fail(path, `Expected variant, got ${JSON.stringify(value)}`);
  const t = tags.get(value[0].toLowerCase());
  if (!t) fail(path, `Unknown variant tag ${value[0]}`);
  if (t.payload === null) fail(path, `Variant ${t.tag} takes no payload`);
  return [t.tag, decode(t.payload, value[1], `${path}.${t.tag}`)];
}

// The v5 types xapi unmarshals plugin results into (8.2 flavour: 8.3 tags fail there).
const str = 'string' as const;
const i64 = 'int64' as const;
const bool = 'bool' as const;
const dict = { dict: 'string' as const };

export const T = {
  unit: 'unit' as RpcType,
  string: str as RpcType,
  stringList: { list: str } as RpcType,
  configuration: dict as RpcType,
  srStat: {
    record: {
      sr: { type: str },
      name: { type: str },
      uuid: { type: str, optional: true },
      description: { type: str },
      free_space: { type: i64 },
      total_space: { type: i64 },
      datasources: { type: { list: str } },
      clustered: { type: bool },
      health: { type: { variant: { Healthy: str, Recovering: str } } },
    },
  } as RpcType,
  volume: {
    record: {
      key: { type: str },
      uuid: { type: str, optional: true },
      name: { type: str },
      description: { type: str },
      read_write: { type: bool },
      sharable: { type: bool },
      virtual_size: { type: i64 },
      physical_utilisation: { type: i64 },
      uri: { type: { list: str } },
      keys: { type: dict },
    },
  } as RpcType,
  queryResult: {
    record: {
      plugin: { type: str },
      name: { type: str },
      description: { type: str },
      vendor: { type: str },
      copyright: { type: str },
      version: { type: str },
      required_api_version: { type: str },
      features: { type: { list: str } },
      configuration: { type: dict },
      required_cluster_stack: { type: { list: str } },
    },
  } as RpcType,
};

export const volumeList: RpcType = { list: T.volume };

/** Datapath.attach's result (IDL `backend`): implementations as variants. */
export const backendType: RpcType = {
  record: {
    implementations: {
      type: {
        list: {
          variant: {
            XenDisk: { record: { params: { type: 'string' }, extra: { type: { dict: 'string' } }, backend_type: { type: 'string' } } },
            BlockDevice: { record: { path: { type: 'string' } } },
            File: { record: { path: { type: 'string' } } },
            Nbd: { record: { uri: { type: 'string' } } },
          },
        },
      },
    },
  },
};
export const probeResults: RpcType = {
  list: {
    record: {
      configuration: { type: dict },
      complete: { type: bool },
      sr: { type: T.srStat, optional: true },
      extra_info: { type: dict },
    },
  },
};

/** The error envelope, as xapi's Backtrace.Interop and storage_utils read it. */
export function decodeEnvelope(value: unknown): { code: string; params: string[]; backtrace: { error: string; files: string[]; lines: number[] } } {
  const env = decode(
    {
      record: {
        code: { type: str },
        params: { type: { list: str } },
        backtrace: { type: { record: { error: { type: str }, files: { type: { list: str } }, lines: { type: { list: i64 } } } } },
      },
    },
    value,
  ) as { code: string; params: string[]; backtrace: { error: string; files: string[]; lines: number[] } };
  if (env.backtrace.files.length !== env.backtrace.lines.length) throw new RpcDecodeError('backtrace files and lines differ in length (List.combine raises)');
  return env;
}
