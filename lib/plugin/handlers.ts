// What a plugin implements: a handler per wire method, taking the validated
// argument object. Methods without a handler have no executable file.
export type Args = Record<string, unknown> & { dbg: string };
export type Handler = (args: Args) => unknown;
export type Handlers = Readonly<Record<string, Handler>>;

/** Methods that only read: they log nothing on success, to keep them fast. */
export const READ_ONLY_METHODS = new Set(['Plugin.query', 'Plugin.ls', 'Plugin.diagnostics', 'SR.probe', 'SR.stat', 'SR.ls', 'Volume.stat']);
