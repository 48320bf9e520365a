/* Claim parameters, event routing and the search for a claimable directory (see claim.h). */
#include "backend/claim.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "control/params.h"
#include "daemon/log.h"

static bool is_word(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return false;
	}
	return true;
}

/* Characters xenstored accepts in a path, segments never empty. */
static bool is_relative_key(const char *s)
{
	if (!*s || *s == '/')
		return false;
	for (const char *p = s; *p; p++) {
		if (*p == '/' && (p[1] == '/' || p[1] == '\0'))
			return false;
		if (!isalnum((unsigned char)*p) && !strchr("-/_@", *p))
			return false;
	}
	return true;
}

/* A string member without embedded NUL that fits `cap`; false if present and not one. */
static bool get_str(json_t *j, const char *key, char *out, size_t cap, bool *present)
{
	json_t *v = json_object_get(j, key);
	*present = v != NULL;
	if (!v)
		return true;
	if (!json_is_string(v) || json_string_length(v) != strlen(json_string_value(v)) ||
	    json_string_length(v) >= cap)
		return false;
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return true;
}

int claim_spec_parse(struct json_t *j, struct claim_spec *out, char *msg, size_t msglen)
{
	static const char *const known[] = { "domid", "value", "kind", "key", NULL };
	memset(out, 0, sizeof(*out));
	snprintf(out->kind, sizeof(out->kind), "%s", CLAIM_DEFAULT_KIND);
	snprintf(out->key, sizeof(out->key), "%s", CLAIM_DEFAULT_KEY);
	if (!json_is_object(j)) {
		snprintf(msg, msglen, "claim must be an object {\"domid\": N, \"value\": \"...\"}");
		return -1;
	}
	const char *unknown = params_unknown_member(j, known);
	if (unknown) {
		snprintf(msg, msglen, "claim.%s is not a member of claim (domid, value, kind, key)", unknown);
		return -1;
	}
	json_t *domid = json_object_get(j, "domid");
	if (!json_is_integer(domid) || json_integer_value(domid) < 1 || json_integer_value(domid) > CLAIM_DOMID_MAX) {
		snprintf(msg, msglen, "claim.domid %s an integer from 1 to %d", domid ? "must be" : "is required:",
			 CLAIM_DOMID_MAX);
		return -1;
	}
	out->domid = (unsigned)json_integer_value(domid);
	bool present;
	if (!get_str(j, "value", out->value, sizeof(out->value), &present) || !present || !out->value[0] ||
	    strchr(out->value, '/')) {
		snprintf(msg, msglen, "claim.value %s a non-empty string without '/' of at most %d characters",
			 present ? "must be" : "is required:", CLAIM_VALUE_MAX - 1);
		return -1;
	}
	if (!get_str(j, "kind", out->kind, sizeof(out->kind), &present) || !is_word(out->kind)) {
		snprintf(msg, msglen, "claim.kind must be a word (letters, digits, '-', '_') of at most %d characters",
			 CLAIM_KIND_MAX - 1);
		return -1;
	}
	if (!get_str(j, "key", out->key, sizeof(out->key), &present) || !is_relative_key(out->key)) {
		snprintf(msg, msglen,
			 "claim.key must be a relative xenstore key (letters, digits, '-', '_', '@', single '/' between "
			 "parts) of at most %d characters",
			 CLAIM_KEY_MAX - 1);
		return -1;
	}
	return 0;
}

/* A decimal number as xenstore directories name domains and devices: no sign, no leading zero. */
static bool parse_id(const char *s, size_t len, unsigned long max, unsigned long *out)
{
	if (len == 0 || len > 10 || (len > 1 && s[0] == '0'))
		return false;
	unsigned long v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

enum claim_route claim_route(const char *path, char *kind, size_t kindlen, unsigned *domid)
{
	size_t rl = strlen(CLAIM_ROOT);
	if (strncmp(path, CLAIM_ROOT, rl) != 0 || path[rl] != '/')
		return CLAIM_ROUTE_NONE;
	const char *k = path + rl + 1, *slash = strchr(k, '/');
	size_t kl = slash ? (size_t)(slash - k) : strlen(k);
	if (kl == 0 || kl >= kindlen)
		return CLAIM_ROUTE_NONE;
	memcpy(kind, k, kl);
	kind[kl] = '\0';
	if (!slash)
		return CLAIM_ROUTE_KIND;
	const char *d = slash + 1, *end = strchr(d, '/');
	unsigned long id;
	if (!parse_id(d, end ? (size_t)(end - d) : strlen(d), CLAIM_DOMID_MAX, &id))
		return CLAIM_ROUTE_NONE;
	*domid = (unsigned)id;
	return CLAIM_ROUTE_DOMAIN;
}

static char *read_key(struct xs_handle *xs, const char *dir, const char *key)
{
	char path[512];
	unsigned len;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, key) >= sizeof(path))
		return NULL;
	return xs_read(xs, XBT_NULL, path, &len);
}

static int cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;
	return x < y ? -1 : x > y;
}

/* Whether dir is ours to claim now (see claim_find). */
static bool claimable(struct xs_handle *xs, const struct claim_spec *c, const char *dir)
{
	char *v = read_key(xs, dir, c->key);
	bool match = v && strcmp(v, c->value) == 0;
	free(v);
	if (!match)
		return false;
	char *err = read_key(xs, dir, "hotplug-error"), *online = read_key(xs, dir, "online");
	char *fe = read_key(xs, dir, "frontend"), *feid = read_key(xs, dir, "frontend-id");
	char want[16];
	snprintf(want, sizeof(want), "%u", c->domid);
	bool ok = !err && !(online && strcmp(online, "0") == 0) && fe && feid;
	if (ok && strcmp(feid, want) != 0) {
		char why[96];
		snprintf(why, sizeof(why), "frontend-id %.16s is not the directory's domain %u", feid, c->domid);
		claim_refuse(xs, dir, why);
		ok = false;
	}
	free(err);
	free(online);
	free(fe);
	free(feid);
	return ok;
}

int claim_find(struct xs_handle *xs, const struct claim_spec *c, claim_taken_fn taken, void *ctx, char *path,
	       size_t pathlen)
{
	char dir[sizeof(CLAIM_ROOT) + CLAIM_KIND_MAX + 16];
	snprintf(dir, sizeof(dir), "%s/%s/%u", CLAIM_ROOT, c->kind, c->domid);
	unsigned n = 0;
	char **names = xs_directory(xs, XBT_NULL, dir, &n);
	if (!names)
		return 0;
	unsigned long *ids = calloc(n ? n : 1, sizeof(*ids));
	unsigned nids = 0;
	for (unsigned i = 0; ids && i < n; i++) {
		if (parse_id(names[i], strlen(names[i]), 0xFFFFFFFFul, &ids[nids]))
			nids++;
	}
	free(names);
	int found = 0;
	if (ids)
		qsort(ids, nids, sizeof(*ids), cmp_ulong);
	for (unsigned i = 0; ids && i < nids && !found; i++) {
		char p[sizeof(dir) + 16];
		snprintf(p, sizeof(p), "%s/%lu", dir, ids[i]);
		if (taken(p, ctx) || !claimable(xs, c, p) || strlen(p) >= pathlen)
			continue;
		memcpy(path, p, strlen(p) + 1);
		found = 1;
	}
	free(ids);
	return found;
}

void claim_refuse(struct xs_handle *xs, const char *backend, const char *why)
{
	char path[512];
	log_error("refusing %s: %s", backend, why);
	snprintf(path, sizeof(path), "%s/hotplug-error", backend);
	/* Only while the directory exists: a plain write would recreate one the toolstack removed. */
	for (int attempt = 0; attempt < 100; attempt++) {
		unsigned len;
		xs_transaction_t t = xs_transaction_start(xs);
		if (t == XBT_NULL)
			break;
		char *d = xs_read(xs, t, backend, &len);
		bool ok = d && xs_write(xs, t, path, why, (unsigned)strlen(why));
		free(d);
		if (!ok) {
			xs_transaction_end(xs, t, true);
			return;
		}
		if (xs_transaction_end(xs, t, false) || errno != EAGAIN)
			return;
	}
	log_error("cannot write %s: %s", path, strerror(errno));
}
