/*
 * The SPDK environment the SPDK engine runs in (built only where an installed
 * SPDK is found through pkg-config): SPDK's env (DPDK memory; no hugepages
 * needed for malloc, aio and uring bdevs), its thread library, the bdev
 * subsystem and the bdevs a JSON configuration creates (the `subsystems`
 * format of SPDK's --json). The thread that starts it becomes SPDK's app
 * thread: bdevs are opened and closed there.
 */
#ifndef ENGINE_SPDK_HOST_H
#define ENGINE_SPDK_HOST_H

#include <stdbool.h>
#include <stddef.h>

struct spdk_host_options {
	const char *name;        /* process name for SPDK's env */
	const char *config_json; /* {"subsystems": [...]} creating the bdevs; may be NULL */
	bool no_huge;            /* plain memory instead of hugepages */
	int mem_mb;              /* memory SPDK reserves (MiB) */
	const char *pci_allowed; /* with hugepages: the one PCI device (an NVMe drive) SPDK may probe; NULL: any */
};

/* 0, or -1 with a message in err. Once per process. */
int spdk_host_start(const struct spdk_host_options *opt, char *err, size_t errlen);
/* Tears the subsystems, the app thread and the env down. */
void spdk_host_stop(void);
/* Runs the app thread's pending work once (bdev open/close completions, RPC config, SPDK's RPC server). */
void spdk_host_poll(void);
/*
 * Serves SPDK's own JSON-RPC methods (bdev_lvol_*, bdev_get_bdevs, ...) on a Unix socket, as
 * spdk_tgt does on /var/tmp/spdk.sock: the volume store talks to it. 0, or -1 with a message.
 */
int spdk_host_rpc_listen(const char *path, char *err, size_t errlen);

#endif
