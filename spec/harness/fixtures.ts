// Common steps of the contract tests: an SR created and attached the way
// xapi does it, volumes created the way xapi does it.
import { T } from './rpclib';
import type { Host } from './xss';

export interface Volume {
  key: string;
  uuid?: string;
  name: string;
  description: string;
  read_write: boolean;
  sharable: boolean;
  virtual_size: number;
  physical_utilisation: number;
  uri: string[];
  keys: Record<string, string>;
}

export interface SrStat {
  sr: string;
  name: string;
  uuid?: string;
  description: string;
  free_space: number;
  total_space: number;
  datasources: string[];
  clustered: boolean;
  health: [string, string];
}

let counter = 0;
export function newUuid(): string {
  counter++;
  return `0000${counter.toString(16)}-${process.pid.toString(16).padStart(4, '0')}-4000-8000-${Date.now().toString(16).padStart(12, '0').slice(-12)}`;
}

/** sr-create: Plugin.Query, SR.create, then per host Plugin.Query, SR.attach, SR.stat. */
export function srCreate(host: Host, configuration: Record<string, string>, name = 'test SR', description = 'made by a test'): { sr: string; uuid: string; config: Record<string, string> } {
  const uuid = newUuid();
  host.call('volume', 'Plugin.Query', { dbg: 'test' }, T.queryResult);
  const config = host.call<Record<string, string>>('volume', 'SR.create', { dbg: 'test', uuid, configuration, name, description }, T.configuration);
  host.call('volume', 'Plugin.Query', { dbg: 'test' }, T.queryResult);
  const sr = host.call<string>('volume', 'SR.attach', { dbg: 'test', configuration: config }, T.string);
  host.call('volume', 'SR.stat', { dbg: 'test', sr }, T.srStat);
  return { sr, uuid, config };
}

/** vdi-create: Volume.create then Volume.set vdi-type. */
export function vdiCreate(host: Host, sr: string, size: number, name = 'disk', sharable = false): Volume {
  const v = host.call<Volume>('volume', 'Volume.create', { dbg: 'test', sr, name, description: `${name} description`, size, sharable }, T.volume);
  host.call('volume', 'Volume.set', { dbg: 'test', sr, key: v.key, k: 'vdi-type', v: 'user' }, T.unit);
  return v;
}
