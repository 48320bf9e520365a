/* The flush checkpoint of --durable-state (durable.h). */
#include "sim/guest/durable.h"

#include <stdio.h>
#include <string.h>

#include "sim/guest/workload.h"

static void flush_done(struct bf_dev *d, struct bf_io *io)
{
	(void)d;
	*(int *)io->user = 1;
}

int durable_checkpoint(struct bf_dev *d, const struct vmodel *vm, const char *path, double timeout_s, char *err,
		       size_t errlen)
{
	struct bf_io io;
	int done = 0;
	uint64_t deadline = bf_now_ns() + (uint64_t)(timeout_s * 1e9);

	if (!d->f.flush && !d->f.barrier) {
		snprintf(err, errlen, "--durable-state: the backend offers no flush");
		return -1;
	}
	memset(&io, 0, sizeof(io));
	io.kind = BF_FLUSH;
	io.done = flush_done;
	io.user = &done;
	bf_submit(d, &io);
	bf_kick(d);
	while (!done && bf_now_ns() < deadline && bf_poll(d, 20) >= 0)
		;
	if (!done) {
		/* Never answered: blkfront gives up on it; it must not complete into our stack later. */
		bf_abort_pending(d);
		bf_abort_inflight(d);
		snprintf(err, errlen, "--durable-state: the flush was not answered");
		return -1;
	}
	if (io.aborted || io.flush_dropped || io.status != WIRE_RSP_OKAY) {
		snprintf(err, errlen, "--durable-state: the flush failed (status %d%s)", io.status,
			 io.flush_dropped ? ", flushes turned off" : "");
		return -1;
	}
	if (vmodel_save(vm, path) < 0) {
		snprintf(err, errlen, "--durable-state: cannot save %s", path);
		return -1;
	}
	fprintf(stderr, "xensim-guest: durable: %llu sectors acknowledged before a flush, saved in %s\n",
		(unsigned long long)vmodel_known(vm), path);
	return 0;
}

int durable_run(struct bf_dev *d, const struct guest_opts *o, const struct vmodel *vm, struct run_stats *after,
		bool progress, char *err, size_t errlen)
{
	if (durable_checkpoint(d, vm, o->durable_state, o->timeout, err, errlen) < 0)
		return -1;
	if (o->after_runtime <= 0)
		return 0;
	/* The same job shape on another region, nothing verified: only the flushed region is checked later. */
	struct guest_opts ao = *o;
	ao.offset = o->after_offset;
	struct wl *w = wl_create(d, &ao, NULL, err, errlen);
	if (!w)
		return -1;
	struct wl_phase ph = { .name = "after", .rw = RW_RANDWRITE, .runtime = o->after_runtime };
	run_stats_init(after);
	int rc = wl_run(w, &ph, after, progress);
	wl_destroy(w);
	if (rc < 0)
		snprintf(err, errlen, "the device stopped answering during the writes after the checkpoint");
	return rc;
}
