// Host paths and limits. Defaults are the XCP-ng ones; tests and the demo
// point them elsewhere through the environment.
export interface Config {
  /** Per-host runtime state (attached SRs, locks): tmpfs on XCP-ng, gone at reboot. */
  runDir: string;
  /** Where device-backed SRs are mounted. */
  mountDir: string;
  /** Log file used when there is no syslog socket. */
  logFile: string;
  /** How long a call waits for a lock before failing. */
  lockTimeoutMs: number;
  /** Where the backend daemons write their logs (one file per volume, appended). */
  daemonLogDir: string;
  /** The backend's platform: real Xen, or the simulator (tests and the demo). */
  platform: 'xen' | 'sim';
  /** How long a backend daemon may take to say it is ready. */
  daemonStartMs: number;
  /** Persistent host state that outlives a reboot (the SPDK store's volume names). */
  stateDir: string;
  /** Memory of an SPDK SR's daemon, in MiB (SPDK's environment; hugepages on NVMe). */
  spdkMemMb: number;
}

let cached: Config | undefined;

export function config(): Config {
  if (!cached) {
    const env = process.env;
    cached = {
      runDir: env.XAPI_SPDK_RUN_DIR || '/run/xapi-storage-spdk',
      mountDir: env.XAPI_SPDK_MOUNT_DIR || '/run/sr-mount',
      logFile: env.XAPI_SPDK_LOG_FILE || '/var/log/xapi-storage-spdk.log',
      lockTimeoutMs: Number(env.XAPI_SPDK_LOCK_TIMEOUT_MS) || 120_000,
      daemonLogDir: env.XAPI_SPDK_DAEMON_LOG_DIR || '/var/log/xenblkd',
      platform: env.XAPI_SPDK_PLATFORM === 'sim' ? 'sim' : 'xen',
      daemonStartMs: Number(env.XAPI_SPDK_DAEMON_START_MS) || 20_000,
      stateDir: env.XAPI_SPDK_STATE_DIR || '/var/lib/xapi-storage-spdk',
      spdkMemMb: Number(env.XAPI_SPDK_SPDK_MEM_MB) || 1024,
    };
  }
  return cached;
}
