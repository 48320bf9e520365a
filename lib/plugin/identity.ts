// Names shared by both plugins and by the installer.
declare const __VERSION__: string | undefined;

/** SR type: the volume directory is org.xen.xapi.storage.<SR_TYPE>, Query's plugin is SR_TYPE. */
export const SR_TYPE = 'spdk';
/** The datapath directory name, which is also the scheme of the volumes' URIs. */
export const DATAPATH_SCHEME = 'spdk';
export const VERSION = typeof __VERSION__ === 'string' ? __VERSION__ : '0.0.0-dev';
export const VENDOR = 'xapi-storage-spdk project';
export const COPYRIGHT = '(C) 2026 the xapi-storage-spdk authors';
