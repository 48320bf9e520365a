// What an SPDK SR lives on, from its device-config: an NVMe drive SPDK takes
// over (nvme=<PCI address>) or reaches over NVMe/TCP (nvme=tcp://...), or, for
// tests and hosts without a spare drive, a
// bdev described as one SPDK creation call (bdev=<JSON>). Either becomes the
// SPDK JSON configuration its daemon starts with; the lvol store sits on the
// resulting base bdev.
import * as z from 'zod/mini';
import { errors } from '../../wire/errors';
import type { Configuration } from '../types';

export interface SpdkDevice {
  /** Stable short name of the device: names its daemon's files. */
  id: string;
  /** What the administrator gave, for messages. */
  label: string;
  /** The bdev the lvol store is made on. */
  baseBdev: string;
  /** The NVMe namespace bdev a flush on a volume must reach: lvols pass no flush down (docs/spdk.md). */
  flushNvme?: string;
  /** SPDK's bdev subsystem configuration: the calls that create the base bdev. */
  bdevConfig: object[];
  /** User-space NVMe needs DMA-able hugepages; the test bdevs run on plain memory. */
  hugepages: boolean;
  /** The PCI device SPDK may probe (the drive), when it owns one. */
  pci?: string;
}

/** The keys of this store, as Plugin.Query describes them. */
export const SPDK_STORE_CONFIGURATION: Configuration = {
  nvme: 'PCI address of an NVMe drive SPDK takes over for the SR (0000:01:00.0; unbind it from the kernel, vfio-pci, first), or an NVMe/TCP subsystem: tcp://<IPv4 address>:<port>/<subsystem NQN> (its first namespace)',
  bdev: 'Instead of nvme, for tests: one SPDK bdev creation call as JSON, {"method": "bdev_aio_create", "params": {"name": ..., "filename": ..., "block_size": 512}}',
  force: 'true to create the SR over an lvol store the device already holds (it is destroyed)',
};

const PCI_ADDRESS = /^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;
const NVME_TCP = /^tcp:\/\/(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})\/(nqn\.[A-Za-z0-9.:_-]{1,200})$/;
const BDEV_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
/** The controller name SPDK derives the namespace bdev from (<name>n1). */
const NVME_CONTROLLER = 'xapi';

// Only bdevs that hold data in a place the host keeps (a file, a device) or, for tests, memory.
const BDEV_CALL = z.object({
  method: z.enum(['bdev_aio_create', 'bdev_uring_create', 'bdev_malloc_create']),
  params: z.looseObject({ name: z.string() }),
});

function describeBdev(text: string): { name: string; call: object } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw errors.invalidConfiguration(`device-config:bdev is not JSON: ${text.slice(0, 200)}`);
  }
  const parsed = BDEV_CALL.safeParse(raw);
  if (!parsed.success) {
    throw errors.invalidConfiguration('device-config:bdev must be {"method": "bdev_aio_create" | "bdev_uring_create" | "bdev_malloc_create", "params": {"name": ..., ...}}');
  }
  const { method, params } = parsed.data;
  if (!BDEV_NAME.test(params.name)) throw errors.invalidConfiguration(`bdev name ${JSON.stringify(params.name)} is not valid (letters, digits, _ . -)`);
  return { name: params.name, call: { method, params } };
}

export function accepts(configuration: Configuration): boolean {
  return 'nvme' in configuration || 'bdev' in configuration;
}

export function deviceOf(configuration: Configuration): SpdkDevice {
  const { nvme, bdev } = configuration;
  if (nvme !== undefined && bdev !== undefined) throw errors.invalidConfiguration('give either device-config:nvme or device-config:bdev, not both');
  let described: Omit<SpdkDevice, 'id'>;
  const tcp = nvme === undefined ? null : NVME_TCP.exec(nvme);
  if (tcp) {
    const [, traddr, port, subnqn] = tcp;
    if (traddr.split('.').some((o) => Number(o) > 255) || Number(port) < 1 || Number(port) > 65535) throw errors.invalidConfiguration(`nvme ${JSON.stringify(nvme)}: bad address or port`);
    described = {
      label: `NVMe/TCP ${traddr}:${port} ${subnqn}`,
      baseBdev: `${NVME_CONTROLLER}n1`,
      flushNvme: `${NVME_CONTROLLER}n1`,
      bdevConfig: [{ method: 'bdev_nvme_attach_controller', params: { name: NVME_CONTROLLER, trtype: 'TCP', adrfam: 'IPv4', traddr, trsvcid: port, subnqn } }],
      hugepages: false, // no DMA: the NVMe driver speaks to the target over a socket
    };
  } else if (nvme !== undefined) {
    if (!PCI_ADDRESS.test(nvme)) throw errors.invalidConfiguration(`nvme ${JSON.stringify(nvme)} is neither a PCI address like 0000:01:00.0 nor tcp://<IPv4>:<port>/<NQN>`);
    const traddr = nvme.toLowerCase();
    described = {
      label: `NVMe ${traddr}`,
      baseBdev: `${NVME_CONTROLLER}n1`,
      flushNvme: `${NVME_CONTROLLER}n1`,
      bdevConfig: [{ method: 'bdev_nvme_attach_controller', params: { name: NVME_CONTROLLER, trtype: 'PCIe', traddr } }],
      hugepages: true,
      pci: traddr,
    };
  } else if (bdev !== undefined) {
    const { name, call } = describeBdev(bdev);
    described = { label: `bdev ${name}`, baseBdev: name, bdevConfig: [call], hugepages: false };
  } else {
    throw errors.invalidConfiguration('device-config:nvme=<PCI address> (or device-config:bdev=<JSON> for tests) is required');
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on use: Plugin.Query needs none of it
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  const id = createHash('sha256').update(JSON.stringify(described.bdevConfig)).digest('hex').slice(0, 16);
  return { id, ...described };
}
