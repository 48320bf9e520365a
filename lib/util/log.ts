// Logging for plugin processes: never stdout. syslog (local2, "SMAPIv3:
// [pid] - LEVEL - msg", like XCP-ng's Python plugins, lands in /var/log/SMlog)
// when /dev/log exists, else a log file. XAPI_SPDK_LOG_FILE, when set, sends
// everything to that file instead (tests, debugging).
import * as fs from 'node:fs';
import { config } from './config';

const PRIORITY = { error: 3, warning: 4, info: 6, debug: 7 } as const;
type Level = keyof typeof PRIORITY;

let context = '';
const debugEnabled = process.env.XAPI_SPDK_DEBUG === '1';

function emit(level: Level, message: string): void {
  if (level === 'debug' && !debugEnabled) return;
  const line = `[${process.pid}] - ${level.toUpperCase()} - ${context}${message}`;
  try {
    if (!process.env.XAPI_SPDK_LOG_FILE && fs.existsSync('/dev/log')) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      (require('./libc') as typeof import('./libc')).syslog(PRIORITY[level], line);
      return;
    }
    fs.appendFileSync(config().logFile, `${new Date().toISOString()} SMAPIv3: ${line}\n`);
  } catch {
    // Logging must never turn a good answer into a failure.
  }
}

export const log = {
  /** Prefix for every line of this process, e.g. the method name. */
  setContext(value: string): void {
    context = value ? `${value}: ` : '';
  },
  error: (m: string) => emit('error', m),
  warning: (m: string) => emit('warning', m),
  info: (m: string) => emit('info', m),
  debug: (m: string) => emit('debug', m),
};
