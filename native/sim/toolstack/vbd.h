/* VBD plug and unplug as xl/xenopsd do them in xenstore. */
#ifndef TOOLSTACK_VBD_H
#define TOOLSTACK_VBD_H

#include <stdint.h>
#include <xenstore.h>

struct vbd_spec {
	uint32_t domid, devid, backend_domid;
	const char *kind;        /* vbd, vbd3, qdisk */
	const char *mode;        /* w or r */
	const char *params;
	const char *device_type; /* disk, cdrom */
	const char *protocol;    /* optional frontend `protocol` */
	const char *extra[32];   /* extra backend keys as key=value */
	unsigned nextra;
};

int vbd_add(struct xs_handle *h, const struct vbd_spec *s);
/* After vbd_add, as xenopsd: 0 once the backend wrote hotplug-status = connected, 1 on timeout,
 * -2 if it wrote hotplug-error instead (printed). */
int vbd_wait_hotplug(struct xs_handle *h, const struct vbd_spec *s);
/*
 * Clean unplug. shutdown NULL: online=0 and Closing, wait for the frontend to close; "normal" or
 * "force": shutdown-request, wait for shutdown-done. For qdisk, hotplug-status is deleted once the
 * backend is Closed. 0, or 1 if a wait ran out (both directories are removed anyway).
 */
int vbd_remove(struct xs_handle *h, uint32_t domid, uint32_t devid, const char *kind, uint32_t backend_domid,
	       const char *shutdown);
/* Hard unplug after the domain died: online=0, frontend removed at once, backend removed once Closed. */
int vbd_hard_remove(struct xs_handle *h, const char *fe_path);

#endif
