/*
 * The control socket's methods: disk_add, disk_remove, disk_list,
 * disk_pause, disk_resume, disk_resize, disk_stats, meta_read, meta_write, reactor_stats, shutdown. Parameters are
 * checked strictly; errors are JSON-RPC errors with clear messages.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#include "backend/vbd_ops.h"
#include "control/params.h"
#include "daemon/daemon.h"
#include "daemon/disk_params.h"
#include "daemon/log.h"
#include "nbd/server.h"

struct vbd *daemon_find(struct daemon *d, const char *name)
{
	for (struct vbd *v = d->vbds; v; v = v->next) {
		if (strcmp(v->name, name) == 0)
			return v;
	}
	return NULL;
}

/* The members' checks live in control/params.h (shared with disk_params.c). */
static inline bool get_uint(json_t *params, const char *key, unsigned long max, unsigned long *out, char *msg,
			    size_t msglen)
{
	return params_get_uint(params, key, max, out, msg, msglen);
}

static inline bool get_bool(json_t *params, const char *key, bool *out, char *msg, size_t msglen)
{
	return params_get_bool(params, key, out, msg, msglen);
}

static inline const char *get_string(json_t *params, const char *key)
{
	return params_get_string(params, key);
}

/* Exports the disk over NBD on a Unix socket, through its engine. */
static int start_nbd(struct vbd *v, const char *path, char *msg, size_t msglen)
{
	struct stat st;
	bool is_file = v->path[0] && stat(v->path, &st) == 0 && S_ISREG(st.st_mode);
	struct nbd_server_config nc = {
		.name = v->name,
		.socket_path = path,
		.engine = v->engine,
		.readonly = v->readonly,
		.can_trim = v->features.discard && v->engine->ops->can_discard(v->engine),
		/* A hole punched in a file, or the null engine, reads back zeroes; a device's discard may not. */
		.trim_zeroes = is_file || strcmp(v->engine_kind, "null") == 0,
		.block_size = v->block_size,
	};
	v->nbd = nbd_server_start(&nc, msg, msglen);
	if (!v->nbd)
		return -1;
	log_info("%s: NBD export on %s", v->name, nbd_server_path(v->nbd));
	return 0;
}

/* What disk_params_parse asks of the daemon. */
static bool name_taken(void *ctx, const char *name)
{
	return daemon_find(ctx, name) != NULL;
}

static const char *backend_owner(void *ctx, const char *backend)
{
	for (struct vbd *v = ((struct daemon *)ctx)->vbds; v; v = v->next) {
		if (strcmp(v->backend, backend) == 0)
			return v->name;
	}
	return NULL;
}

struct vbd *daemon_add(struct daemon *d, json_t *params, char *msg, size_t msglen)
{
	struct disk_params p;
	const struct disk_lookup look = { .name_taken = name_taken, .backend_owner = backend_owner, .ctx = d };
	if (disk_params_parse(params, &d->defaults, &look, &p, msg, msglen) != 0)
		return NULL;
	struct vbd_config cfg = p.cfg; /* its backend points into p */
	cfg.fault_injection = d->allow_faults;
	bool has_claim = p.has_claim;
	struct claim_spec claim = p.claim;
	json_t *nbd_socket = json_object_get(params, "nbd_socket");

	struct vbd *v = vbd_create(&cfg, msg, msglen);
	if (!v)
		return NULL;
	if (nbd_socket && start_nbd(v, json_string_value(nbd_socket), msg, msglen) != 0) {
		vbd_destroy(v);
		return NULL;
	}
	if (v->backend[0] && xenbus_attach(&d->xb, v, msg, msglen) != 0) {
		nbd_server_stop(v->nbd);
		vbd_destroy(v);
		return NULL;
	}
	v->has_claim = has_claim;
	if (has_claim)
		v->claim = claim;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = v };
	epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, v->event_fd, &ev);
	v->next = d->vbds;
	d->vbds = v;
	if (has_claim && claims_sync_watches(d) != 0) {
		snprintf(msg, msglen, "cannot watch %s/%s", CLAIM_ROOT, claim.kind);
		daemon_remove(d, v);
		return NULL;
	}
	const char *access = v->readonly ? "read-only" : "read-write";
	if (v->backend[0]) {
		log_info("%s: serving %s (%s engine, %s) at %s", v->name, v->path[0] ? v->path : "-", v->engine_kind, access,
			 v->backend);
		daemon_reconcile(d, v);
	} else if (has_claim) {
		log_info("%s: %s (%s engine, %s) waits for %s/%s/%u/* with %s = %s", v->name, v->path[0] ? v->path : "-",
			 v->engine_kind, access, CLAIM_ROOT, claim.kind, claim.domid, claim.key, claim.value);
		claims_try(d, v);
	} else {
		log_info("%s: %s (%s engine, %s) over NBD only", v->name, v->path[0] ? v->path : "-", v->engine_kind, access);
	}
	claims_run(d);
	return v;
}

void daemon_remove(struct daemon *d, struct vbd *v)
{
	for (struct vbd **p = &d->vbds; *p; p = &(*p)->next) {
		if (*p == v) {
			*p = v->next;
			break;
		}
	}
	epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, v->event_fd, NULL);
	nbd_server_stop(v->nbd); /* its connections use the engine: stop them first */
	v->nbd = NULL;
	xenbus_detach(&d->xb, v);
	vbd_disconnect(v);
	xenbus_closed(&d->xb, v);
	if (v->has_claim)
		claims_sync_watches(d);
	log_info("%s: removed", v->name);
	vbd_destroy(v);
}

static json_t *describe(const struct vbd *v)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:i, s:b, s:b, s:s, s:s, s:I, s:b}", "name", v->name, "backend",
			      v->backend, "frontend", v->frontend, "domid", (int)v->frontend_id, "state", v->state,
			      "connected", v->connected, "paused", v->paused, "engine", v->engine_kind, "path", v->path,
			      "sectors", (json_int_t)(v->size >> 9), "readonly", v->readonly);
	/* sectors stays in 512-byte units; sector_size is the unit the frontend sees (xenstore `sector-size`). */
	json_object_set_new(o, "block_size", json_integer(v->block_size));
	json_object_set_new(o, "sector_size", json_integer(1 << v->sector_shift));
	if (v->connected) {
		json_object_set_new(o, "queues", json_integer(v->nr_queues));
		json_object_set_new(o, "ring_order", json_integer(v->ring_order));
		json_object_set_new(o, "protocol", json_string(v->abi->name));
		json_object_set_new(o, "persistent", json_boolean(v->persistent));
		json_object_set_new(o, "max_indirect_segments", json_integer(v->features.max_indirect_segments));
	}
	if (v->backend[0])
		json_object_set_new(o, "mode", json_string(v->mode_readonly ? "r" : "w"));
	if (v->has_claim)
		json_object_set_new(o, "claim", json_pack("{s:i, s:s, s:s, s:s, s:b}", "domid", (int)v->claim.domid, "kind",
							  v->claim.kind, "key", v->claim.key, "value", v->claim.value,
							  "claimed", v->backend[0] != '\0'));
	if (v->nbd)
		json_object_set_new(o, "nbd_socket", json_string(nbd_server_path(v->nbd)));
	if (v->last_error[0])
		json_object_set_new(o, "error", json_string(v->last_error));
	return o;
}

/* Latency percentile (µs, upper bound of its log2 bucket) from a histogram. */
static uint64_t percentile(const uint64_t *hist, uint64_t total, double p)
{
	uint64_t want = (uint64_t)(total * p), seen = 0;
	for (int i = 0; i < 32; i++) {
		seen += hist[i];
		if (seen > want)
			return 1ull << i;
	}
	return 1ull << 31;
}

static json_t *stats(const struct vbd *v)
{
	json_t *qs = json_array();
	uint64_t total_hist[32] = { 0 };
	uint64_t totals[10] = { 0 }, misaligned = 0;
	for (unsigned i = 0; i < v->features.max_queues && i < VBD_MAX_QUEUES; i++) {
		const struct queue_stats *s = &v->queues[i].stats;
		uint64_t vals[10] = { s->reads, s->writes, s->flushes, s->discards, s->errors, s->unsupported, s->read_bytes,
				      s->write_bytes, s->latency_sum_ns, s->notifications };
		uint64_t ops = vals[0] + vals[1] + vals[2] + vals[3] + vals[4] + vals[5];
		if (i >= v->nr_queues && ops == 0)
			continue;
		uint64_t hist[32], answered = 0;
		for (int b = 0; b < 32; b++) {
			hist[b] = s->latency_hist[b];
			total_hist[b] += hist[b];
			answered += hist[b];
		}
		for (int k = 0; k < 10; k++)
			totals[k] += vals[k];
		misaligned += s->misaligned;
		json_t *ring = json_null();
		if (i < v->nr_queues && v->connected) {
			/* A diagnostic snapshot: the frontend may move its indices at any time. */
			const struct blk_back_ring *r = &v->queues[i].ring;
			const volatile uint32_t *hdr = (const volatile uint32_t *)r->sring;
			ring = json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:i}", "entries", (int)r->nr_ents, "req_cons",
					 (json_int_t)r->req_cons, "rsp_prod_pvt", (json_int_t)r->rsp_prod_pvt, "req_prod",
					 (json_int_t)hdr[0], "req_event", (json_int_t)hdr[1], "rsp_prod", (json_int_t)hdr[2],
					 "rsp_event", (json_int_t)hdr[3], "failed", (int)atomic_load(&v->queues[i].failed));
		}
		json_array_append_new(
			qs, json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "queue", (int)i,
				      "reads", (json_int_t)vals[0], "writes", (json_int_t)vals[1], "flushes", (json_int_t)vals[2],
				      "discards", (json_int_t)vals[3], "errors", (json_int_t)vals[4], "unsupported",
				      (json_int_t)vals[5], "read_bytes", (json_int_t)vals[6], "write_bytes", (json_int_t)vals[7],
				      "latency_avg_us", (json_int_t)(answered ? vals[8] / answered / 1000 : 0), "latency_p50_us",
				      (json_int_t)(answered ? percentile(hist, answered, 0.5) : 0), "latency_p99_us",
				      (json_int_t)(answered ? percentile(hist, answered, 0.99) : 0), "latency_max_us",
				      (json_int_t)(s->latency_max_ns / 1000), "notifications", (json_int_t)vals[9], "sleeps",
				      (json_int_t)s->sleeps, "persistent_hits", (json_int_t)s->persistent_hits));
		json_t *qj = json_array_get(qs, json_array_size(qs) - 1);
		json_object_set_new(qj, "ring", ring);
		json_object_set_new(qj, "misaligned", json_integer((json_int_t)s->misaligned));
		/* Segments (data and indirect pages) moved by grant copy rather than through a mapping. */
		json_object_set_new(qj, "grant_copy_segments", json_integer((json_int_t)s->grant_copy_segments));
	}
	uint64_t ops = 0;
	for (int b = 0; b < 32; b++)
		ops += total_hist[b];
	json_t *out = json_pack("{s:s, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}", "name", v->name, "queues", qs,
			 "total", "reads", (json_int_t)totals[0], "writes", (json_int_t)totals[1], "flushes",
			 (json_int_t)totals[2], "discards", (json_int_t)totals[3], "errors", (json_int_t)totals[4],
			 "unsupported", (json_int_t)totals[5], "read_bytes", (json_int_t)totals[6], "write_bytes",
			 (json_int_t)totals[7], "latency_p50_us", (json_int_t)(ops ? percentile(total_hist, ops, 0.5) : 0),
			 "latency_p99_us", (json_int_t)(ops ? percentile(total_hist, ops, 0.99) : 0));
	/* Of the errors, those refused for not being in whole blocks of the store (docs/backend.md). */
	json_object_set_new(json_object_get(out, "total"), "misaligned", json_integer((json_int_t)misaligned));
	return out;
}

static struct vbd *named(struct daemon *d, json_t *params, int *code, char *msg, size_t msglen)
{
	const char *name = get_string(params, "name");
	struct vbd *v = name ? daemon_find(d, name) : NULL;
	if (!v) {
		*code = RPC_INVALID_PARAMS;
		snprintf(msg, msglen, name ? "no disk named %s" : "name is required", name);
	}
	return v;
}

json_t *daemon_rpc(void *ctx, const char *method, json_t *params, int *code, char *msg, size_t msglen)
{
	struct daemon *d = ctx;
	if (!json_is_object(params)) {
		*code = RPC_INVALID_PARAMS;
		snprintf(msg, msglen, "params must be an object");
		return NULL;
	}
	if (strcmp(method, "disk_add") == 0) {
		struct vbd *v = daemon_add(d, params, msg, msglen);
		*code = RPC_INVALID_PARAMS;
		return v ? describe(v) : NULL;
	}
	if (strcmp(method, "disk_list") == 0) {
		json_t *a = json_array();
		for (struct vbd *v = d->vbds; v; v = v->next)
			json_array_append_new(a, describe(v));
		return a;
	}
	if (strcmp(method, "disk_inject_error") == 0 || strcmp(method, "disk_clear_errors") == 0)
		return daemon_fault_rpc(d, method, params, code, msg, msglen);
	if (strcmp(method, "meta_read") == 0 || strcmp(method, "meta_write") == 0)
		return daemon_meta_rpc(method, params, code, msg, msglen);
	if (strcmp(method, "reactor_stats") == 0)
		return daemon_spdk_stats();
	if (strcmp(method, "shutdown") == 0) {
		d->stopping = true;
		return json_true();
	}
	if (strcmp(method, "disk_remove") == 0 || strcmp(method, "disk_pause") == 0 || strcmp(method, "disk_resume") == 0 ||
	    strcmp(method, "disk_stats") == 0 || strcmp(method, "disk_resize") == 0 || strcmp(method, "disk_get") == 0) {
		struct vbd *v = named(d, params, code, msg, msglen);
		if (!v)
			return NULL;
		if (strcmp(method, "disk_remove") == 0) {
			daemon_remove(d, v);
			return json_true();
		}
		if (strcmp(method, "disk_pause") == 0)
			vbd_pause(v);
		else if (strcmp(method, "disk_resume") == 0)
			vbd_resume(v);
		else if (strcmp(method, "disk_stats") == 0) {
			json_t *st = stats(v), *faults = daemon_fault_stats(v);
			if (faults)
				json_object_set_new(st, "faults", faults);
			return st;
		}
		else if (strcmp(method, "disk_resize") == 0 && vbd_update_size(v) && xenbus_publish_size(&d->xb, v) != 0) {
			*code = RPC_SERVER_ERROR;
			snprintf(msg, msglen, "cannot publish the new size: %s", strerror(errno));
			return NULL;
		}
		return describe(v);
	}
	*code = RPC_METHOD_NOT_FOUND;
	snprintf(msg, msglen, "unknown method %s", method);
	return NULL;
}
