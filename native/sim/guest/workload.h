/*
 * fio-like workloads over the frontend: a region of the disk cut into blocks
 * of `bs`, sequential or random, reads/writes/mixed, with periodic flushes,
 * FUA writes and discards, `iodepth` I/Os in flight per queue. With a model,
 * writes carry checksummed patterns and reads are verified; I/Os whose
 * ranges overlap an in-flight write or discard are never issued together, so
 * what a read must return is always defined.
 */
#ifndef GUEST_WORKLOAD_H
#define GUEST_WORKLOAD_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "sim/guest/blkfront.h"
#include "sim/guest/opts.h"
#include "sim/guest/stats.h"
#include "sim/guest/verify.h"

struct wl_phase {
	const char *name;
	enum rw_mode rw;
	unsigned rwmixread;
	uint64_t ios;      /* 0: no count limit */
	double runtime;    /* 0: no time limit */
	unsigned flush_every, fua_every, discard_every;
};

struct wl;

/* Set from a signal handler: finish the current phase early. */
extern volatile sig_atomic_t wl_interrupted;

/*
 * Prepares I/O slots (iodepth per queue, buffers in guest memory) for the
 * region [offset, offset+size) of the connected device. NULL with `err`.
 */
struct wl *wl_create(struct bf_dev *d, const struct guest_opts *o, struct vmodel *vm, char *err, size_t errlen);
void wl_destroy(struct wl *w);
/* Verifies against `vm` from the next phase on (its region must be wl_region_*). */
void wl_set_model(struct wl *w, struct vmodel *vm);
uint64_t wl_region_lba(const struct wl *w);
uint64_t wl_region_sectors(const struct wl *w);
uint64_t wl_blocks(const struct wl *w);
/*
 * Runs one phase to its limits (count, time, interruption, device stop) and
 * waits for its I/Os; I/Os unanswered for `timeout` seconds are aborted.
 * Returns 0, or -1 if the device broke or closed under it.
 */
int wl_run(struct wl *w, const struct wl_phase *ph, struct run_stats *st, bool progress);

#endif
