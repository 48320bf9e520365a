/*
 * Fuzz target: the xenstore values the backend parses (backend/fe_params.c,
 * backend/bekeys.c, claim_route in backend/claim.c). The input is what a
 * frontend and a toolstack could have written: two bytes of limits (the
 * queues and ring order we offered), then NUL-separated path/value pairs,
 * paths under F (the frontend directory) and B (the backend directory);
 * "@watch" is a watch event path for claim_route. Each parser's answer is
 * compared with a model written here from the rules (blkif.md 1.8, 1.9, 2.2,
 * 2.4, 2.8): a value it takes must be a clean decimal within range, and it
 * must refuse exactly what the model refuses, with a message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/bekeys.h"
#include "backend/claim.h"
#include "backend/fe_params.h"
#include "fuzz/fuzz.h"

unsigned long fuzz_accepted;
const struct fuzz_replay fuzz_replay = { "fuzz/corpus/fe_params", 100000 };

#define MAX_PAIRS 512

struct store {
	const char *path[MAX_PAIRS], *value[MAX_PAIRS];
	unsigned n;
};

static void finding(const char *what)
{
	fprintf(stderr, "fuzz_fe_params: %s\n", what);
	abort();
}

static const char *lookup(const struct store *s, const char *path)
{
	for (unsigned i = 0; i < s->n; i++) {
		if (strcmp(s->path[i], path) == 0)
			return s->value[i];
	}
	return NULL;
}

/* The getter, as xs_read: a fresh copy the parser must free (ASan tells if it does not). */
static char *get(void *ctx, const char *dir, const char *key)
{
	char path[1024];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, key) >= sizeof(path))
		finding("a key path longer than any we write");
	const char *v = lookup(ctx, path);
	if (!v)
		return NULL;
	char *copy = strdup(v);
	if (!copy)
		abort();
	return copy;
}

enum model { ABSENT, OK, BAD };

/* The model of a strict decimal: digits only, at least one, at most max. */
static enum model model_uint(const struct store *s, const char *path, unsigned long max, unsigned long *out)
{
	const char *v = lookup(s, path);
	if (!v)
		return ABSENT;
	if (!*v)
		return BAD;
	unsigned long n = 0;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9')
			return BAD;
		unsigned d = (unsigned)(*p - '0');
		if (d > max || n > (max - d) / 10)
			return BAD; /* past max (and so never wrapped) */
		n = n * 10 + d;
	}
	*out = n;
	return OK;
}

static void check_state(const struct store *s, const struct fe_source *src)
{
	unsigned long v = 0;
	enum model m = model_uint(s, "F/state", 8, &v);
	long want = m == ABSENT ? -1 : m == BAD ? XB_UNKNOWN : (long)v;
	if (fe_read_state(src, "F") != want)
		finding("frontend state differs from the model");
}

static void check_backend(const struct store *s, const struct fe_source *src)
{
	struct fe_backend be;
	char err[160] = "";
	int r = fe_read_backend(src, "B", &be, err, sizeof(err));
	const char *fe = lookup(s, "B/frontend"), *mode = lookup(s, "B/mode");
	unsigned long id = 0;
	bool mode_ok = !mode || strcmp(mode, "w") == 0 || strcmp(mode, "r") == 0;
	bool ok = fe && fe[0] == '/' && strlen(fe) < VBD_PATH_MAX && model_uint(s, "B/frontend-id", 0x7FF0, &id) == OK &&
		  mode_ok;
	if ((r == 0) != ok)
		finding(ok ? "a valid backend directory refused" : "an invalid backend directory taken");
	if (r != 0) {
		if (!err[0])
			finding("a backend directory refused without a message");
		return;
	}
	if (strcmp(be.frontend, fe) != 0 || be.frontend_id != id || be.readonly != (mode && strcmp(mode, "r") == 0))
		finding("backend keys differ from the model");
	/* What reconcile reads from the directory besides. */
	unsigned long online = 1, mv = 0;
	bool present;
	enum model m = model_uint(s, "B/online", 1, &mv);
	if (fe_read_uint(src, "B", "online", 1, &online, &present) != (m == OK) || present != (m != ABSENT) ||
	    (m == OK && online != mv))
		finding("online differs from the model");
	const char *shut = lookup(s, "B/shutdown-request");
	enum be_shutdown want = !shut ? BE_SHUTDOWN_NONE
				: strcmp(shut, "normal") == 0 ? BE_SHUTDOWN_NORMAL
				: strcmp(shut, "force") == 0  ? BE_SHUTDOWN_FORCE
							      : BE_SHUTDOWN_BAD;
	if (bekeys_shutdown(shut) != want)
		finding("shutdown-request differs from the model");
}

/* The model's transport: false where the frontend must be refused. */
static bool model_transport(const struct store *s, const struct fe_limits *lim, struct vbd_transport *t)
{
	unsigned maxq = lim->max_queues < VBD_MAX_QUEUES ? lim->max_queues : VBD_MAX_QUEUES;
	unsigned maxo = lim->max_ring_order < VBD_MAX_RING_ORDER ? lim->max_ring_order : VBD_MAX_RING_ORDER;
	unsigned long n = 1, order = 0, v;
	memset(t, 0, sizeof(*t));
	enum model m = model_uint(s, "F/multi-queue-num-queues", maxq, &n);
	if (m == BAD || n == 0 || n > maxq)
		return false;
	m = model_uint(s, "F/ring-page-order", maxo, &order);
	if (m == BAD)
		return false;
	bool paged = m == OK;
	const char *proto = lookup(s, "F/protocol");
	if (!proto || strcmp(proto, "x86_32-abi") == 0)
		t->abi = &blkif_abi_x86_32;
	else if (strcmp(proto, "x86_64-abi") == 0 || strcmp(proto, "native") == 0)
		t->abi = &blkif_abi_x86_64;
	else
		return false;
	t->nr_queues = (unsigned)n;
	t->ring_order = (unsigned)order;
	t->persistent = model_uint(s, "F/feature-persistent", 1, &v) == OK && v == 1;
	t->large_sector = model_uint(s, "F/feature-large-sector-size", 1, &v) == OK && v == 1;
	for (unsigned q = 0; q < n; q++) {
		char dir[32], path[64];
		snprintf(dir, sizeof(dir), n == 1 ? "F" : "F/queue-%u", q);
		snprintf(path, sizeof(path), "%s/event-channel", dir);
		if (model_uint(s, path, UINT32_MAX, &v) != OK)
			return false;
		t->ports[q] = (uint32_t)v;
		for (unsigned i = 0; i < (1u << order); i++) {
			if (paged)
				snprintf(path, sizeof(path), "%s/ring-ref%u", dir, i);
			else
				snprintf(path, sizeof(path), "%s/ring-ref", dir);
			if (model_uint(s, path, UINT32_MAX, &v) != OK)
				return false;
			t->ring_refs[q][i] = (uint32_t)v;
		}
	}
	return true;
}

static void check_transport(const struct store *s, const struct fe_source *src, const struct fe_limits *lim)
{
	struct vbd_transport t, want;
	char err[160] = "";
	int r = fe_read_transport(src, "F", lim, &t, err, sizeof(err));
	bool ok = model_transport(s, lim, &want);
	if ((r == 0) != ok)
		finding(ok ? "a valid transport refused" : "an invalid transport taken");
	if (r != 0) {
		if (!err[0])
			finding("a transport refused without a message");
		return;
	}
	fuzz_accepted++;
	if (t.nr_queues < 1 || t.nr_queues > lim->max_queues || t.nr_queues > VBD_MAX_QUEUES)
		finding("queue count out of range");
	if (t.ring_order > lim->max_ring_order || t.ring_order > VBD_MAX_RING_ORDER)
		finding("ring order out of range");
	if (t.abi != &blkif_abi_x86_32 && t.abi != &blkif_abi_x86_64)
		finding("no valid ABI");
	if (t.abi != want.abi || t.nr_queues != want.nr_queues || t.ring_order != want.ring_order ||
	    t.persistent != want.persistent || t.large_sector != want.large_sector || memcmp(t.ports, want.ports, sizeof(t.ports)) != 0 ||
	    memcmp(t.ring_refs, want.ring_refs, sizeof(t.ring_refs)) != 0)
		finding("transport differs from the model");
}

/* A watch path routed to a kind (and domain): exactly CLAIM_ROOT/<kind>[/<domid>[/...]], domid canonical. */
static void check_route(const char *path)
{
	char kind[CLAIM_KIND_MAX] = "";
	unsigned domid = ~0u;
	enum claim_route r = claim_route(path, kind, sizeof(kind), &domid);
	if (r == CLAIM_ROUTE_NONE)
		return;
	size_t rl = strlen(CLAIM_ROOT), kl = strlen(kind);
	if (strncmp(path, CLAIM_ROOT "/", rl + 1) != 0 || kl == 0 || strncmp(path + rl + 1, kind, kl) != 0)
		finding("a route to a kind the path does not name");
	const char *rest = path + rl + 1 + kl;
	if (r == CLAIM_ROUTE_KIND) {
		if (*rest)
			finding("a kind route with more path");
		return;
	}
	char want[16];
	snprintf(want, sizeof(want), "/%u", domid);
	size_t wl = strlen(want);
	if (domid > CLAIM_DOMID_MAX || strncmp(rest, want, wl) != 0 || (rest[wl] && rest[wl] != '/'))
		finding("a domain route to a domain the path does not name");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	struct fe_limits lim = { .max_queues = data[0], .max_ring_order = data[1] };
	/* The pairs, NUL-terminated in a copy (an odd last field is a path without value: ignored). */
	char *text = malloc(size - 2 + 1);
	if (!text)
		abort();
	memcpy(text, data + 2, size - 2);
	text[size - 2] = '\0';
	struct store s = { .n = 0 };
	for (char *p = text, *end = text + size - 2; p < end && s.n < MAX_PAIRS;) {
		char *value = p + strlen(p) + 1;
		if (value > end)
			break;
		s.path[s.n] = p;
		s.value[s.n++] = value;
		p = value + strlen(value) + 1;
	}
	struct fe_source src = { .get = get, .ctx = &s };
	check_state(&s, &src);
	check_backend(&s, &src);
	check_transport(&s, &src, &lim);
	const char *watch = lookup(&s, "@watch");
	if (watch)
		check_route(watch);
	free(text);
	return 0;
}
