/*
 * The control methods of fault injection (engine/faults.h), modelled on
 * SPDK's bdev_error_inject_error:
 *   disk_inject_error {name, io_type: read|write|flush|discard|all,
 *                      sector_from?, sector_to?, count?, errno?}
 *   disk_clear_errors {name}
 * Served only by a daemon started with --allow-fault-injection, so that a
 * production daemon can never be told to fail a guest's I/O.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "control/params.h"
#include "daemon/daemon.h"
#include "daemon/log.h"
#include "engine/faults.h"

static const struct {
	const char *name;
	unsigned ops;
} io_types[] = {
	{ "read", FAULT_READ }, { "write", FAULT_WRITE }, { "flush", FAULT_FLUSH },
	{ "discard", FAULT_DISCARD }, { "all", FAULT_ALL },
};

static const struct {
	const char *name;
	int value;
} errnos[] = {
	{ "EIO", EIO }, { "ENOSPC", ENOSPC }, { "EOPNOTSUPP", EOPNOTSUPP }, { "EROFS", EROFS },
	{ "ENOMEM", ENOMEM }, { "ETIMEDOUT", ETIMEDOUT }, { "ENXIO", ENXIO }, { "EDQUOT", EDQUOT },
};

static const char *io_type_name(unsigned ops)
{
	for (size_t i = 0; i < sizeof(io_types) / sizeof(io_types[0]); i++) {
		if (io_types[i].ops == ops)
			return io_types[i].name;
	}
	return "?";
}

static bool get_u64(json_t *params, const char *key, uint64_t *out, char *msg, size_t msglen)
{
	json_t *j = json_object_get(params, key);
	if (!j)
		return true;
	if (!json_is_integer(j) || json_integer_value(j) < 0) {
		snprintf(msg, msglen, "%s must be a non-negative integer", key);
		return false;
	}
	*out = (uint64_t)json_integer_value(j);
	return true;
}

static bool get_errno(json_t *params, int *out, char *msg, size_t msglen)
{
	json_t *j = json_object_get(params, "errno");
	if (!j)
		return true;
	if (json_is_integer(j) && json_integer_value(j) >= 1 && json_integer_value(j) <= 4095) {
		*out = (int)json_integer_value(j);
		return true;
	}
	for (size_t i = 0; json_is_string(j) && i < sizeof(errnos) / sizeof(errnos[0]); i++) {
		if (strcmp(json_string_value(j), errnos[i].name) == 0) {
			*out = errnos[i].value;
			return true;
		}
	}
	snprintf(msg, msglen, "errno must be an integer from 1 to 4095 or one of EIO, ENOSPC, EOPNOTSUPP, EROFS, "
			      "ENOMEM, ETIMEDOUT, ENXIO, EDQUOT");
	return false;
}

static bool parse_rule(json_t *params, struct fault_rule_spec *r, char *msg, size_t msglen)
{
	static const char *const known[] = { "name", "io_type", "sector_from", "sector_to", "count", "errno", NULL };
	const char *unknown = params_unknown_member(params, known);
	if (unknown) {
		snprintf(msg, msglen, "unknown parameter %s", unknown);
		return false;
	}
	*r = (struct fault_rule_spec){ .sector_to = FAULT_NO_END, .count = -1, .err = EIO };
	json_t *t = json_object_get(params, "io_type");
	for (size_t i = 0; json_is_string(t) && i < sizeof(io_types) / sizeof(io_types[0]); i++) {
		if (strcmp(json_string_value(t), io_types[i].name) == 0)
			r->ops = io_types[i].ops;
	}
	if (!r->ops) {
		snprintf(msg, msglen, "io_type must be read, write, flush, discard or all");
		return false;
	}
	uint64_t count = UINT64_MAX;
	if (!get_u64(params, "sector_from", &r->sector_from, msg, msglen) ||
	    !get_u64(params, "sector_to", &r->sector_to, msg, msglen) || !get_u64(params, "count", &count, msg, msglen) ||
	    !get_errno(params, &r->err, msg, msglen))
		return false;
	if (r->sector_to <= r->sector_from) {
		snprintf(msg, msglen, "sector_to must be above sector_from (the range is [sector_from, sector_to))");
		return false;
	}
	if (count != UINT64_MAX) {
		if (count == 0 || count > INT64_MAX) {
			snprintf(msg, msglen, "count must be at least 1 (leave it out: every matching I/O)");
			return false;
		}
		r->count = (int64_t)count;
	}
	return true;
}

/* The rules in force and what they did: the answer of both methods. */
static json_t *describe(const struct vbd *v)
{
	struct fault_rule_state st[FAULT_MAX_RULES];
	unsigned n = engine_faults_rules(v->engine, st, FAULT_MAX_RULES);
	json_t *rules = json_array();
	for (unsigned i = 0; i < n; i++) {
		const struct fault_rule_spec *s = &st[i].spec;
		json_t *r = json_pack("{s:s, s:I, s:i, s:I}", "io_type", io_type_name(s->ops), "sector_from",
				      (json_int_t)s->sector_from, "errno", s->err, "hits", (json_int_t)st[i].hits);
		json_object_set_new(r, "sector_to", s->sector_to == FAULT_NO_END ? json_null() : json_integer((json_int_t)s->sector_to));
		json_object_set_new(r, "count", s->count < 0 ? json_null() : json_integer(s->count));
		json_object_set_new(r, "left", st[i].left < 0 ? json_null() : json_integer(st[i].left));
		json_array_append_new(rules, r);
	}
	return json_pack("{s:s, s:o, s:I}", "name", v->name, "rules", rules, "injected",
			 (json_int_t)engine_faults_injected(v->engine));
}

json_t *daemon_fault_stats(const struct vbd *v)
{
	return engine_is_faults(v->engine) ? describe(v) : NULL;
}

json_t *daemon_fault_rpc(struct daemon *d, const char *method, json_t *params, int *code, char *msg, size_t msglen)
{
	*code = RPC_INVALID_PARAMS;
	if (!d->allow_faults) {
		*code = RPC_SERVER_ERROR;
		snprintf(msg, msglen, "%s: fault injection is not allowed (start xenblkd with --allow-fault-injection)",
			 method);
		return NULL;
	}
	json_t *jn = json_object_get(params, "name");
	const char *name = json_is_string(jn) ? json_string_value(jn) : NULL;
	struct vbd *v = name ? daemon_find(d, name) : NULL;
	if (!v) {
		snprintf(msg, msglen, name ? "no disk named %s" : "name is required", name);
		return NULL;
	}
	if (!engine_is_faults(v->engine)) {
		*code = RPC_SERVER_ERROR;
		snprintf(msg, msglen, "%s: its engine has no fault-injection layer", v->name);
		return NULL;
	}
	if (strcmp(method, "disk_clear_errors") == 0) {
		static const char *const known[] = { "name", NULL };
		const char *unknown = params_unknown_member(params, known);
		if (unknown) {
			snprintf(msg, msglen, "unknown parameter %s", unknown);
			return NULL;
		}
		engine_faults_clear(v->engine);
		log_info("%s: fault injection cleared (%llu I/Os failed so far)", v->name,
			 (unsigned long long)engine_faults_injected(v->engine));
		return describe(v);
	}
	struct fault_rule_spec r;
	if (!parse_rule(params, &r, msg, msglen))
		return NULL;
	if (engine_faults_add(v->engine, &r) != 0) {
		*code = RPC_SERVER_ERROR;
		snprintf(msg, msglen, "%s: at most %d rules at a time (disk_clear_errors first)", v->name, FAULT_MAX_RULES);
		return NULL;
	}
	log_info("%s: injecting errno %d into %s I/O, sectors [%llu, %llu), %lld time(s)", v->name, r.err,
		 io_type_name(r.ops), (unsigned long long)r.sector_from, (unsigned long long)r.sector_to,
		 (long long)r.count);
	return describe(v);
}
