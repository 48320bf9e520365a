// Errors as xapi expects them from a plugin script (reference 2.5): a code,
// string params and a backtrace whose files and lines have equal length.

export interface ErrorEnvelope {
  code: string;
  params: string[];
  backtrace: { error: string; files: string[]; lines: number[] };
}

export class StorageError extends Error {
  constructor(
    readonly code: string,
    readonly params: string[],
  ) {
    super(`${code}: ${params.join(': ')}`);
    this.name = 'StorageError';
  }
}

/** IDL-style exception, sent the Python-library way: SR_BACKEND_FAILURE [Name, detail]. */
function backendFailure(name: string, detail: string): StorageError {
  return new StorageError('SR_BACKEND_FAILURE', [name, detail]);
}

export const errors = {
  volumeDoesNotExist: (key: string) => backendFailure('Volume_does_not_exist', key),
  srDoesNotExist: (sr: string) => backendFailure('SR_does_not_exist', sr),
  srNotAttached: (sr: string) => backendFailure('Sr_not_attached', sr),
  unimplemented: (method: string) => backendFailure('Unimplemented', method),
  invalidArguments: (detail: string) => backendFailure('Invalid_arguments', detail),
  invalidConfiguration: (detail: string) => backendFailure('Invalid_configuration', detail),
  busy: (detail: string) => backendFailure('Busy', detail),
  // xapi-storage-script maps exactly these params to the typed error (reference 2.5).
  activatedOnAnotherHost: (hostUuid: string) => backendFailure('Activated_on_another_host', hostUuid),
  notAttached: (detail: string) => backendFailure('Not_attached', detail),
  // SMAPIv1 codes where xapi users know them.
  invalidSize: (detail: string) => new StorageError('SR_BACKEND_FAILURE_79', ['VDI Invalid size', detail]),
  readOnly: (key: string) => new StorageError('SR_BACKEND_FAILURE_78', ['VDI is read-only', key]),
  vdiInUse: (detail: string) => new StorageError('SR_BACKEND_FAILURE_24', ['VDIInUse', detail]),
  deviceInUse: (detail: string) => new StorageError('SR_BACKEND_FAILURE_88', ['Device in use', detail]),
  noSpace: (detail: string) => new StorageError('SR_BACKEND_FAILURE_44', ['Insufficient space', detail]),
  io: (detail: string) => backendFailure('IO_error', detail),
};

const STACK_FRAME = /\(?([^()\s]+):(\d+):\d+\)?$/;

/** Turns any thrown value into the envelope; the backtrace comes from the JS stack. */
export function toEnvelope(err: unknown): ErrorEnvelope {
  const e = err instanceof Error ? err : new Error(String(err));
  const files: string[] = [];
  const lines: number[] = [];
  for (const frame of (e.stack ?? '').split('\n').slice(1)) {
    const match = STACK_FRAME.exec(frame.trim());
    if (match) {
      files.push(match[1]);
      lines.push(Number(match[2]));
    }
  }
  if (e instanceof StorageError) {
    return { code: e.code, params: e.params, backtrace: { error: e.message, files, lines } };
  }
  // Anything unexpected still reaches the administrator with its message.
  return {
    code: 'SR_BACKEND_FAILURE',
    params: ['Internal_error', e.message],
    backtrace: { error: `${e.name}: ${e.message}`, files, lines },
  };
}

/** Maps a Node system error (ENOSPC and friends) to a storage error, leaving others as they are. */
export function fromSystemError(err: unknown, what: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return errors.noSpace(`${what}: no space left on the SR`);
  if (code === 'EFBIG') return errors.invalidSize(`${what}: larger than the filesystem allows`);
  if (code === 'EIO' || code === 'EROFS') return errors.io(`${what}: ${(err as Error).message}`);
  return err;
}
