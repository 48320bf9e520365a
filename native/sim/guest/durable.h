/*
 * What a flush made durable (--durable-state): after the main phase the guest
 * issues an empty flush and, once the backend acknowledges it, saves the
 * verify model, i.e. every write acknowledged before the flush. A later run
 * with --verify-state on that file checks the disk still holds exactly that,
 * whatever happened to the backend since (killed, restarted).
 */
#ifndef GUEST_DURABLE_H
#define GUEST_DURABLE_H

#include <stddef.h>

#include "sim/guest/blkfront.h"
#include "sim/guest/opts.h"
#include "sim/guest/stats.h"
#include "sim/guest/verify.h"

/* Flush, wait (bounded by timeout_s), save `vm` to `path`. 0, or -1 with `err` (then nothing is saved). */
int durable_checkpoint(struct bf_dev *d, const struct vmodel *vm, const char *path, double timeout_s, char *err,
		       size_t errlen);

/*
 * The whole of --durable-state after the main phase: the checkpoint, then
 * (--after-runtime) unverified random writes in [after_offset, +size) whose
 * stats go to `after`. 0, or -1 with `err` when the checkpoint failed or the
 * device broke during the writes (a killed backend: they time out).
 */
int durable_run(struct bf_dev *d, const struct guest_opts *o, const struct vmodel *vm, struct run_stats *after,
		bool progress, char *err, size_t errlen);

#endif
