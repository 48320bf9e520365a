/* Building the JSON summary with jansson. */
#include "sim/guest/report.h"

#include <jansson.h>
#include <string.h>

static const char *const phase_names[REPORT_PHASES] = { "prefill", "main", "verify_pass", "after" };

struct err_counts {
	uint64_t io, eopnotsupp, bad_status, aborted, timeout, protocol, grant_revoke, verify, handshake, resize,
		close, fatal;
};

static void count(const struct report *r, struct err_counts *e)
{
	memset(e, 0, sizeof(*e));
	for (int p = 0; p < REPORT_PHASES; p++) {
		const struct run_stats *s = r->phase[p];
		if (!s)
			continue;
		for (int k = 0; k < ST_NKINDS; k++) {
			e->io += s->k[k].err_io;
			e->eopnotsupp += s->k[k].err_eopnotsupp;
			e->bad_status += s->k[k].err_other;
			e->aborted += s->k[k].aborted;
		}
		e->timeout += s->timeouts;
	}
	if (r->d) {
		e->protocol = r->d->protocol_errors;
		/* Held after the backend answered (no persistent grants), or after it closed. */
		e->grant_revoke = r->d->revoke_failures + r->d->mem.revoke_failures;
	}
	if (r->vm)
		e->verify = r->vm->failures;
	e->handshake = !r->connected;
	e->resize = r->resize_checked && !r->resize_ok;
	e->close = r->close_tried && r->close_rc != 0;
	e->fatal = r->connected && r->fatal[0];
}

uint64_t report_errors(const struct report *r)
{
	struct err_counts e;

	count(r, &e);
	/* Timeouts are also counted as aborted. */
	return e.io + e.eopnotsupp + e.bad_status + e.aborted + e.protocol + e.grant_revoke + e.verify + e.handshake +
	       e.resize + e.close + e.fatal;
}

static double us(uint64_t ns)
{
	return (double)(ns / 100) / 10.0; /* µs with one decimal */
}

static json_t *lat_json(const struct hist *h)
{
	return json_pack("{s:I,s:f,s:f,s:f,s:f,s:f,s:f}", "samples", (json_int_t)h->count, "min", us(h->min), "mean",
			 us((uint64_t)hist_mean(h)), "p50", us(hist_percentile(h, 50)), "p99", us(hist_percentile(h, 99)),
			 "p99.9", us(hist_percentile(h, 99.9)), "max", us(h->max));
}

static json_t *phase_json(const struct run_stats *s)
{
	double secs = s->end_ns > s->start_ns ? (double)(s->end_ns - s->start_ns) / 1e9 : 0;
	json_t *ops = json_object(), *lat = json_object(), *bytes = json_object(), *mbs = json_object();
	uint64_t total_bytes = 0;
	struct hist all;

	hist_init(&all);
	for (int k = 0; k < ST_NKINDS; k++) {
		const struct op_stats *o = &s->k[k];
		json_object_set_new(ops, st_kind_names[k], json_integer((json_int_t)o->ios));
		if (o->lat.count)
			json_object_set_new(lat, st_kind_names[k], lat_json(&o->lat));
		hist_merge(&all, &o->lat);
		if (k == ST_READ || k == ST_WRITE) {
			json_object_set_new(bytes, st_kind_names[k], json_integer((json_int_t)o->bytes));
			json_object_set_new(mbs, st_kind_names[k], json_real(secs > 0 ? (double)o->bytes / secs / 1e6 : 0));
			total_bytes += o->bytes;
		}
	}
	json_object_set_new(ops, "total", json_integer((json_int_t)run_stats_ios(s)));
	json_object_set_new(lat, "all", lat_json(&all));
	json_object_set_new(mbs, "total", json_real(secs > 0 ? (double)total_bytes / secs / 1e6 : 0));
	return json_pack("{s:f,s:o,s:f,s:o,s:o,s:o,s:I,s:I,s:I,s:I}", "runtime_s", secs, "ops", ops, "iops",
			 secs > 0 ? (double)run_stats_ios(s) / secs : 0, "bytes", bytes, "mb_s", mbs, "latency_us", lat,
			 "io_errors", (json_int_t)run_stats_errors(s), "timeouts", (json_int_t)s->timeouts,
			 "flushes_dropped", (json_int_t)s->flushes_dropped, "discards_skipped",
			 (json_int_t)s->discards_skipped);
}

static json_t *features_json(const struct bf_dev *d, const struct guest_opts *o)
{
	const struct bf_features *f = &d->f;
	json_t *j = json_pack("{s:s,s:i,s:i,s:i,s:i,s:b,s:b,s:b,s:b,s:b,s:I,s:i,s:i,s:i,s:b}", "abi", o->abi, "queues",
			      (int)f->queues, "ring_order", (int)f->ring_order, "ring_entries", (int)f->ring_entries,
			      "indirect_segs", (int)f->indirect_segs, "persistent", f->persistent, "flush",
			      f->flush && !d->flush_disabled, "barrier", f->barrier, "discard",
			      f->discard && !d->discard_disabled, "discard_secure", f->discard_secure, "sectors",
			      (json_int_t)f->sectors, "sector_size", (int)f->sector_size, "physical_sector_size",
			      (int)f->physical_sector_size, "info", (int)f->info, "readonly", f->readonly);
	/* The unit of sector numbers on the wire: sector_size only with --large-sector. */
	json_object_set_new(j, "large_sector", json_boolean(o->large_sector));
	json_object_set_new(j, "wire_sector", json_integer(512 << f->unit_shift));
	if (f->discard) {
		json_object_set_new(j, "discard_granularity", json_integer(f->discard_granularity));
		json_object_set_new(j, "discard_alignment", json_integer(f->discard_alignment));
	}
	json_object_set_new(j, "flush_disabled_by_backend", json_boolean(d->flush_disabled));
	json_object_set_new(j, "discard_disabled_by_backend", json_boolean(d->discard_disabled));
	json_object_set_new(j, "backend",
			    json_pack("{s:i,s:i,s:i,s:b}", "max_queues", (int)f->be_max_queues, "max_ring_page_order",
				      (int)f->be_max_ring_order, "max_indirect_segments", (int)f->be_max_indirect,
				      "persistent", f->be_persistent));
	return j;
}

static json_t *verify_json(const struct vmodel *m)
{
	json_t *kinds = json_object(), *fails = json_array();

	for (int k = 0; k < V_NKINDS; k++)
		if (m->counts[k])
			json_object_set_new(kinds, vkind_name((enum vkind)k), json_integer((json_int_t)m->counts[k]));
	for (unsigned i = 0; i < m->nreported; i++) {
		const struct vfailure *v = &m->reported[i];
		json_array_append_new(
			fails, json_pack("{s:s,s:I,s:I,s:{s:b,s:b,s:I,s:I,s:I}}", "kind", vkind_name(v->kind), "lba",
					 (json_int_t)v->lba, "expected_gen", (json_int_t)v->expected_gen, "found", "ours",
					 v->found.magic == VERIFY_MAGIC, "crc_ok", v->found.crc_ok, "lba",
					 (json_int_t)v->found.lba, "gen", (json_int_t)v->found.gen, "run",
					 (json_int_t)v->found.run));
	}
	return json_pack("{s:I,s:I,s:I,s:o,s:o}", "run", (json_int_t)m->run, "sectors_known",
			 (json_int_t)vmodel_known(m), "failures", (json_int_t)m->failures, "sectors_checked", kinds,
			 "first_failures", fails);
}

static const char *status_name(int16_t s)
{
	return s == 0 ? "okay" : s == -1 ? "error" : s == -2 ? "eopnotsupp" : "other";
}

static json_t *hostile_json(const struct hostile_result *h)
{
	json_t *cases = json_array();

	for (unsigned i = 0; i < h->ncases; i++) {
		const struct hcase *c = &h->cases[i];
		json_t *j = json_pack("{s:s,s:i,s:s,s:b,s:b}", "case", c->name, "op", c->op, "expected",
				      hexpect_name(c->expect), "answered", c->answered, "pass", c->pass);
		if (c->answered) {
			json_object_set_new(j, "status", json_string(status_name(c->status)));
			json_object_set_new(j, "status_value", json_integer(c->status));
			json_object_set_new(j, "response_op", json_integer(c->rsp_got));
		}
		json_array_append_new(cases, j);
	}
	return json_pack("{s:s,s:b,s:i,s:i,s:{s:I,s:I,s:I,s:I},s:o,s:o,s:o,s:I,s:i,s:b,s:o}", "mode", h->mode, "pass",
			 h->pass, "sent", (int)h->sent, "answered", (int)h->answered, "by_status", "okay",
			 (json_int_t)h->by_status[0], "error", (json_int_t)h->by_status[1], "eopnotsupp",
			 (json_int_t)h->by_status[2], "other", (json_int_t)h->by_status[3], "sanity_read",
			 h->sanity < 0 ? json_null() : json_boolean(h->sanity), "other_queue_ok",
			 h->other_queue < 0 ? json_null() : json_boolean(h->other_queue), "cases", cases,
			 "responses_after", (json_int_t)h->responses_after, "backend_state_after", h->backend_state_after,
			 "device_dropped", h->device_dropped, "note", h->note[0] ? json_string(h->note) : json_null());
}

/* A malicious mode's figures as members of its object, and what the hypervisor refused meanwhile. */
static void hostile_details(json_t *j, const struct hostile_result *h)
{
	for (unsigned i = 0; i < h->ndet; i++) {
		double v = h->det[i].val;
		json_object_set_new(j, h->det[i].key,
				    h->det[i].flag ? json_boolean(v != 0)
				    : v == (double)(json_int_t)v ? json_integer((json_int_t)v) : json_real(v));
	}
	if (h->audited) {
		json_t *ref = json_object();
		for (int k = 0; k < HV_REF_NR; k++)
			json_object_set_new(ref, hv_refusal_name((enum hv_refusal)k), json_integer((json_int_t)h->refused[k]));
		json_object_set_new(j, "hv_refused", ref);
	}
}

/* The hypervisor's account of the backend's grant accesses to our domain, over the whole run. */
static json_t *audit_json(const struct hv_audit *a)
{
	json_t *ref = json_object();
	for (int k = 0; k < HV_REF_NR; k++)
		json_object_set_new(ref, hv_refusal_name((enum hv_refusal)k),
				    json_integer((json_int_t)__atomic_load_n(&a->refused[k], __ATOMIC_RELAXED)));
	return json_pack("{s:I,s:I,s:I,s:I,s:o}", "copies", (json_int_t)a->copies, "maps", (json_int_t)a->maps,
			 "unmaps", (json_int_t)a->unmaps, "maps_held", (json_int_t)a->maps_held, "refused", ref);
}

void report_print(FILE *f, const struct report *r)
{
	const struct guest_opts *o = r->o;
	struct err_counts e;
	json_t *root, *errs, *phases, *msgs;
	uint64_t total = report_errors(r);

	count(r, &e);
	root = json_object();
	json_object_set_new(root, "domid", json_integer(o->domid));
	json_object_set_new(root, "devid", json_integer(o->devid));
	json_object_set_new(root, "mode", json_string(o->hostile ? "hostile" : "workload"));
	json_object_set_new(root, "connected", json_boolean(r->connected));
	if (r->fatal[0])
		json_object_set_new(root, "error", json_string(r->fatal));
	if (!o->hostile)
		json_object_set_new(root, "job",
				    json_pack("{s:s,s:i,s:I,s:i,s:I,s:I,s:I,s:b}", "rw", rw_mode_name(o->rw),
					      "rwmixread", (int)o->rwmixread, "bs", (json_int_t)o->bs, "iodepth",
					      (int)o->iodepth, "offset", (json_int_t)o->offset, "size",
					      (json_int_t)o->size, "seed", (json_int_t)o->seed, "verify", o->verify));
	if (r->d && r->connected)
		json_object_set_new(root, "features", features_json(r->d, o));
	if (r->d && r->d->domain_dead)
		json_object_set_new(root, "domain_destroyed", json_true());
	if (r->d && r->d->starved)
		json_object_set_new(root, "starved", json_true());

	/* The main phase's numbers at the top level, as fio puts them first. */
	if (r->phase[1]) {
		json_t *m = phase_json(r->phase[1]);
		json_object_update(root, m);
		json_decref(m);
	}
	phases = json_object();
	for (int p = 0; p < REPORT_PHASES; p++)
		if (r->phase[p] && p != 1)
			json_object_set_new(phases, phase_names[p], phase_json(r->phase[p]));
	if (json_object_size(phases))
		json_object_set_new(root, "phases", phases);
	else
		json_decref(phases);
	if (r->vm)
		json_object_set_new(root, "verify", verify_json(r->vm));
	if (r->hostile) {
		json_t *h = hostile_json(r->hostile);
		hostile_details(h, r->hostile);
		json_object_set_new(root, "hostile", h);
	}
	if (r->d && r->d->mem.mapped && r->d->mem.dom.audit)
		json_object_set_new(root, "hv_audit", audit_json(r->d->mem.dom.audit));
	if (r->resize_checked)
		json_object_set_new(root, "resize",
				    json_pack("{s:I,s:I,s:b,s:f,s:I}", "wanted", (json_int_t)o->resize_wait, "seen",
					      (json_int_t)r->resize_seen, "ok", r->resize_ok, "waited_s",
					      r->resize_waited_s, "changes_seen",
					      (json_int_t)(r->d ? r->d->resizes : 0)));
	if (r->close_tried)
		json_object_set_new(root, "close",
				    json_pack("{s:b,s:b,s:i,s:i}", "ok", r->close_rc == 0, "by_backend",
					      r->closed_by_backend, "frontend_state", r->d ? r->d->state : -1,
					      "backend_state", r->backend_state_final));
	if (r->d) {
		json_object_set_new(root, "grants",
				    json_pack("{s:I,s:I,s:I,s:I,s:i}", "granted", (json_int_t)r->d->mem.grants, "revoked",
					      (json_int_t)r->d->mem.revokes, "deferred", (json_int_t)r->d->mem.revoke_deferred,
					      "revoke_failures",
					      (json_int_t)(r->d->revoke_failures + r->d->mem.revoke_failures), "still_held",
					      (int)r->grants_left));
		msgs = json_array();
		for (unsigned i = 0; i < r->d->nproto_msgs; i++)
			json_array_append_new(msgs, json_string(r->d->proto_msgs[i]));
		json_object_set_new(root, "protocol_messages", msgs);
	}
	errs = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "io", (json_int_t)e.io,
			 "eopnotsupp", (json_int_t)e.eopnotsupp, "bad_status", (json_int_t)e.bad_status, "aborted",
			 (json_int_t)e.aborted, "timeout", (json_int_t)e.timeout, "protocol", (json_int_t)e.protocol,
			 "grant_revoke", (json_int_t)e.grant_revoke, "verify", (json_int_t)e.verify, "handshake",
			 (json_int_t)e.handshake, "resize", (json_int_t)e.resize, "close", (json_int_t)e.close, "fatal",
			 (json_int_t)e.fatal, "total", (json_int_t)total);
	json_object_set_new(root, "errors", errs);
	json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', f);
	fflush(f);
	json_decref(root);
}
