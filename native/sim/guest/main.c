/*
 * xensim-guest: a Linux-blkfront-like frontend of one vbd of a simulated
 * domain. Connects, runs a workload or a hostile mode, optionally waits for
 * a resize and closes, then prints a JSON summary. Exit 0 only without errors.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/guest/blkfront.h"
#include "sim/guest/durable.h"
#include "sim/guest/hostile.h"
#include "sim/guest/malicious.h"
#include "sim/guest/opts.h"
#include "sim/guest/report.h"
#include "sim/guest/verify.h"
#include "sim/guest/workload.h"

static void on_signal(int sig)
{
	(void)sig;
	wl_interrupted = 1;
}

static void wait_resize(struct bf_dev *d, const struct guest_opts *o, struct report *rep)
{
	uint64_t start = bf_now_ns(), deadline = start + (uint64_t)(o->timeout * 1e9);

	rep->resize_checked = true;
	while (!wl_interrupted && !d->backend_closing) {
		bf_check_resize(d); /* also polls `sectors` directly, in case a watch event was coalesced */
		if (d->f.sectors == o->resize_wait)
			break;
		if (bf_now_ns() >= deadline)
			break;
		if (bf_poll(d, 50) < 0)
			break;
	}
	rep->resize_seen = d->f.sectors;
	rep->resize_ok = d->f.sectors == o->resize_wait;
	rep->resize_waited_s = (double)(bf_now_ns() - start) / 1e9;
}

static struct wl_phase phase_of(const struct guest_opts *o, uint64_t ios)
{
	return (struct wl_phase){ .name = "main", .rw = o->rw, .rwmixread = o->rwmixread, .ios = ios,
				  .runtime = o->runtime, .flush_every = o->flush_every, .fua_every = o->fua_every,
				  .discard_every = o->discard_every };
}

/* Prefill (read-only verify jobs), the job, then a verifying read of the region. */
static void run_workload(struct bf_dev *d, const struct guest_opts *o, struct report *rep, bool progress,
			 struct run_stats st[REPORT_PHASES], struct vmodel *vm)
{
	char err[256];
	struct wl *w;
	uint64_t ios;

	if (d->f.readonly && (rw_writes(o->rw) || o->discard_every)) {
		snprintf(rep->fatal, sizeof(rep->fatal), "the vbd is read-only (info=%u): no writes or discards",
			 d->f.info);
		return;
	}
	if (o->ios_set && o->ios == 0 && o->runtime == 0)
		return; /* handshake only */
	w = wl_create(d, o, NULL, err, sizeof(err));
	if (!w) {
		snprintf(rep->fatal, sizeof(rep->fatal), "%s", err);
		return;
	}
	if (o->verify) {
		if (vmodel_init(vm, wl_region_lba(w), wl_region_sectors(w), (uint32_t)(bf_now_ns() ^ (uint64_t)getpid())) <
		    0) {
			snprintf(rep->fatal, sizeof(rep->fatal), "out of memory for the verify model");
			wl_destroy(w);
			return;
		}
		if (o->verify_state && vmodel_load(vm, o->verify_state) < 0) {
			snprintf(rep->fatal, sizeof(rep->fatal), "%s: unreadable, or for another region",
				 o->verify_state);
			wl_destroy(w);
			return;
		}
		rep->vm = vm;
		wl_set_model(w, vm);
	}
	ios = o->ios_set ? o->ios : o->runtime > 0 ? 0 : wl_blocks(w);

	if (o->verify && !rw_writes(o->rw) && vmodel_known(vm) == 0 && !d->f.readonly) {
		struct wl_phase pre = { .name = "prefill", .rw = RW_WRITE, .ios = wl_blocks(w) };
		run_stats_init(&st[0]);
		rep->phase[0] = &st[0];
		if (wl_run(w, &pre, &st[0], progress) < 0)
			goto out;
	}
	{
		struct wl_phase ph = phase_of(o, ios);
		run_stats_init(&st[1]);
		rep->phase[1] = &st[1];
		if (ios || o->runtime > 0)
			if (wl_run(w, &ph, &st[1], progress) < 0)
				goto out;
	}
	if (o->durable_state) {
		if (o->after_runtime > 0)
			rep->phase[3] = &st[3];
		if (durable_run(d, o, vm, &st[3], progress, err, sizeof(err)) < 0) {
			snprintf(rep->fatal, sizeof(rep->fatal), "%s", err);
			goto out;
		}
	}
	if (o->verify && vmodel_known(vm) > 0 && !wl_interrupted) {
		struct wl_phase vp = { .name = "verify", .rw = RW_READ, .ios = wl_blocks(w) };
		run_stats_init(&st[2]);
		rep->phase[2] = &st[2];
		wl_run(w, &vp, &st[2], progress);
	}
out:
	if (o->verify && o->verify_state && vmodel_save(vm, o->verify_state) < 0)
		snprintf(rep->fatal, sizeof(rep->fatal), "%s: cannot save the verify model", o->verify_state);
	wl_destroy(w);
}

int main(int argc, char **argv)
{
	static struct guest_opts o;
	static struct bf_dev dev;
	static struct run_stats st[REPORT_PHASES];
	static struct hostile_result hr;
	static struct vmodel vm;
	struct report rep;
	struct bf_config cfg;
	struct hv_conn *hv;
	char err[256];
	bool progress;
	int rc;

	rc = guest_opts_parse(&o, argc, argv, err, sizeof(err));
	if (rc == 1) {
		guest_usage(stdout);
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "xensim-guest: %s\n", err);
		guest_usage(stderr);
		return 2;
	}
	if (o.xs_path)
		setenv("XENSTORED_PATH", o.xs_path, 1);
	progress = o.progress < 0 ? isatty(STDERR_FILENO) : o.progress;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	memset(&rep, 0, sizeof(rep));
	rep.o = &o;
	rep.backend_state_final = -1;
	hv = hv_connect(o.hv_path);
	if (!hv) {
		snprintf(rep.fatal, sizeof(rep.fatal), "cannot reach the hypervisor (XENSIM_HV_PATH=%s)",
			 o.hv_path ? o.hv_path : getenv("XENSIM_HV_PATH") ? getenv("XENSIM_HV_PATH") : "unset");
		report_print(stdout, &rep);
		return 1;
	}

	memset(&cfg, 0, sizeof(cfg));
	cfg.domid = o.domid;
	cfg.devid = o.devid;
	cfg.layout = wire_layout_by_name(o.abi);
	cfg.want_queues = o.queues;
	cfg.want_ring_order = o.ring_order;
	cfg.want_indirect_segs = o.indirect_segs;
	cfg.want_persistent = o.persistent;
	cfg.poison_reads = o.verify;
	cfg.large_sector = o.large_sector;
	cfg.timeout_ms = (int)(o.timeout * 1000);
	cfg.page_base = o.page_base;
	cfg.pages = o.pages;
	cfg.gref_base = o.gref_base;
	cfg.grefs = o.grefs;

	rep.d = &dev;
	if (bf_connect(&dev, hv, &cfg) < 0) {
		snprintf(rep.fatal, sizeof(rep.fatal), "%s", dev.err);
		report_print(stdout, &rep);
		bf_fini(&dev);
		hv_disconnect(hv);
		return 1;
	}
	rep.connected = true;

	if (o.hostile) {
		rep.hostile = &hr;
		rep.hostile_rc = malicious_mode(o.hostile) ? malicious_run(&dev, &o, &hr) : hostile_run(&dev, &o, &hr);
		if (rep.hostile_rc < 0)
			snprintf(rep.fatal, sizeof(rep.fatal), "hostile %.20s: %.200s", o.hostile, hr.note);
	} else {
		run_workload(&dev, &o, &rep, progress, st, &vm);
	}

	if (o.resize_wait_set && !dev.broken)
		wait_resize(&dev, &o, &rep);

	/* Close when asked, or when the backend is going away (blkfront_closing). */
	if ((o.close || dev.backend_closing) && !(o.hostile && strcmp(o.hostile, "after-close") == 0)) {
		/* Whatever is still in flight has had its chance; what is left cannot be revoked. */
		bf_abort_pending(&dev);
		rep.close_tried = true;
		rep.closed_by_backend = dev.backend_closing;
		rep.close_rc = bf_close(&dev, true);
		if (rep.close_rc < 0 && !rep.fatal[0])
			snprintf(rep.fatal, sizeof(rep.fatal), "%s", dev.err);
		rep.backend_state_final = xb_be_state(&dev.xb);
	}
	rep.grants_left = dev.mem.nleaked;

	report_print(stdout, &rep);
	rc = report_errors(&rep) == 0 && (!o.hostile || rep.hostile_rc == 0) ? 0 : 1;
	if (o.verify)
		vmodel_fini(&vm);
	bf_fini(&dev);
	hv_disconnect(hv);
	return rc;
}
