// Which plugin and method an executable path stands for:
//   .../volume/org.xen.xapi.storage.<type>/<Method>  -> volume plugin
//   .../datapath/<scheme>/<Method>                   -> datapath plugin
import * as path from 'node:path';
import type { PluginKind } from '../wire/methods';
import type { Handlers } from './handlers';
import { datapathHandlers } from './datapath';
import { volumeHandlers } from './volume';

export interface Entry {
  kind: PluginKind;
  method: string;
}

export function entryOf(executable: string): Entry | undefined {
  const method = path.basename(executable);
  const pluginDir = path.dirname(executable);
  const group = path.basename(path.dirname(pluginDir));
  if (!/^[A-Za-z]+\.[A-Za-z_]+$/.test(method)) return undefined;
  if (path.basename(pluginDir).startsWith('org.xen.xapi.storage.')) return { kind: 'volume', method };
  if (group === 'datapath') return { kind: 'datapath', method };
  if (group === 'volume') return { kind: 'volume', method };
  return undefined;
}

export function handlersOf(kind: PluginKind): Handlers {
  return kind === 'volume' ? volumeHandlers : datapathHandlers;
}
