/*
 * What the backend needs from Xen, behind one interface so the same daemon
 * runs on real Xen (libxengnttab, libxenevtchn) and in the simulator (the
 * simulated hypervisor of sim/hv). xenstore is not here: it is always the
 * real libxenstore, pointed at the simulator by XENSTORED_PATH.
 *
 * Threading: a platform is opened once; grant handles and event-channel
 * handles are per queue (one thread each) and never shared.
 */
#ifndef PLATFORM_H
#define PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct platform;

/* Grant operations on one frontend domain, for one thread (implementations extend it). */
struct gnt {
	struct platform *platform;
};

/* One bound interdomain event channel (implementations extend it). */
struct evtchn {
	struct platform *platform;
};

/* One grant copy: exactly one side is the guest's granted page. */
struct gnt_copy_seg {
	uint32_t gref;
	uint16_t offset; /* within the granted page; offset + len <= 4096 */
	uint16_t len;
	void *local;
	bool to_guest;  /* local -> guest (READ data) rather than guest -> local (WRITE data) */
	int16_t status; /* out: GNTST_okay (0) or a GNTST_* error */
};

struct platform_ops {
	const char *name;
	void (*close)(struct platform *p);
	struct gnt *(*gnt_open)(struct platform *p, uint16_t domid);
	void (*gnt_close)(struct gnt *g);
	/* Copies; per-segment status. Returns 0, or -1 when the whole batch failed (statuses undefined). */
	int (*gnt_copy)(struct gnt *g, struct gnt_copy_seg *segs, unsigned count);
	/* Maps `count` grants at one contiguous address, all or nothing; NULL on failure. */
	void *(*gnt_map)(struct gnt *g, unsigned count, const uint32_t *refs, bool writable);
	void (*gnt_unmap)(struct gnt *g, void *addr, unsigned count);
	struct evtchn *(*evtchn_bind)(struct platform *p, uint16_t domid, uint32_t remote_port);
	int (*evtchn_fd)(struct evtchn *e);      /* readable when an event is pending */
	int (*evtchn_notify)(struct evtchn *e);
	int (*evtchn_ack)(struct evtchn *e);     /* consume pending events, unmask; never blocks */
	void (*evtchn_close)(struct evtchn *e);
};

struct platform {
	const struct platform_ops *ops;
};

/*
 * Grows a platform's reused per-handle array (translated grant-copy
 * segments) to hold `count` elements; only the first batches allocate.
 */
int platform_reserve(void **array, unsigned *cap, unsigned count, size_t elem_size);

/* "xen" or "sim"; NULL + errno on failure. */
struct platform *platform_open(const char *kind);

#endif
