// Who and when we are: the host's identity as xapi knows it (for
// Activated_on_another_host) and this boot's identity (runtime state from an
// earlier boot is stale). Tests override both through the environment.
import * as fs from 'node:fs';
import * as os from 'node:os';

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

/** INSTALLATION_UUID from /etc/xensource-inventory on XCP-ng, else the machine id, else the host name. */
export function hostUuid(): string {
  if (process.env.XAPI_SPDK_HOST_UUID) return process.env.XAPI_SPDK_HOST_UUID;
  const inventory = /^INSTALLATION_UUID='?([^'\n]+)'?$/m.exec(readOr('/etc/xensource-inventory', ''));
  if (inventory) return inventory[1];
  return readOr('/etc/machine-id', '').trim() || os.hostname();
}

export function bootId(): string {
  return process.env.XAPI_SPDK_BOOT_ID || readOr('/proc/sys/kernel/random/boot_id', 'unknown').trim();
}
