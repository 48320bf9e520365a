/* The control path's operations on a device (vbd.c), and what xenbus.c reads from the frontend. */
#ifndef BACKEND_VBD_OPS_H
#define BACKEND_VBD_OPS_H

#include <stddef.h>

#include "backend/vbd.h"

struct vbd_config {
	const char *name;
	const char *backend; /* absolute xenstore path, or NULL (claim disks, NBD only) */
	const char *engine;  /* "uring" or "null" */
	const char *path;
	bool readonly;
	bool paused;
	uint64_t null_size;
	uint32_t null_cpu_ns; /* the null engine's CPU per request (engine_options) */
	uint32_t block_size; /* 0, or 512/4096 for the null engine or a file under uring */
	const char *flush_nvme; /* spdk: the NVMe namespace bdev a flush commits (engine_options) */
	bool fault_injection; /* wrap the engine in engine/faults.c (daemons started with --allow-fault-injection) */
	struct vbd_features features;
};

/* The frontend's transport parameters, read and checked by xenbus.c. */
struct vbd_transport {
	const struct blkif_abi *abi;
	unsigned nr_queues;
	unsigned ring_order;
	bool persistent;
	bool large_sector; /* feature-large-sector-size=1: units may be our sector-size */
	uint32_t ring_refs[VBD_MAX_QUEUES][1u << VBD_MAX_RING_ORDER];
	uint32_t ports[VBD_MAX_QUEUES];
};

struct vbd *vbd_create(const struct vbd_config *cfg, char *err, size_t errlen);
int vbd_connect(struct vbd *v, struct platform *plat, const struct vbd_transport *t);
void vbd_disconnect(struct vbd *v);
void vbd_pause(struct vbd *v);
void vbd_resume(struct vbd *v);
/* Re-reads the backing size; true if it changed (the caller republishes it). */
bool vbd_update_size(struct vbd *v);
/* Drains the device's event fd; true if a queue found the frontend broken. */
bool vbd_failed(struct vbd *v);
void vbd_destroy(struct vbd *v);
void vbd_set_error(struct vbd *v, const char *fmt, const char *detail);

#endif
