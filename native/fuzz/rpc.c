/*
 * Fuzz target: the bytes a client writes on the control socket, through the
 * server's real framing, parsing and replies (control/rpc.c rpc_process) and
 * disk_add's real parameter checks (daemon/disk_params.c, claim_spec_parse).
 * The other methods stand in for the daemon's, as daemon_rpc dispatches
 * them, over a daemon that has one disk, d0; nothing is served.
 * The input is a byte seeding how the stream is cut into reads, then the
 * stream. The oracle:
 *  - every reply is a JSON-RPC 2.0 response that serialises (what the
 *    server sends) and parses back: jsonrpc "2.0", the request's id (null
 *    when it has none or there was no request), exactly one of result and
 *    error, an error with a standard code and a message;
 *  - every request gets exactly one reply, but a notification (a valid
 *    request without id) which gets none; the method runs once per valid
 *    request and never for an invalid one;
 *  - disk_add accepts only parameters within their documented bounds;
 *  - how the stream is cut into reads changes nothing: the replies are the
 *    same as for the stream read at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/rpc.h"
#include "daemon/disk_params.h"
#include "fuzz/fuzz.h"

unsigned long fuzz_accepted;
const struct fuzz_replay fuzz_replay = { "fuzz/corpus/rpc", 50000 };

#define MAX_REPLIES 4096

static void finding(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_rpc: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

/* One run over the stream: what was answered, in order ("-" for no answer). */
struct run {
	char *replies[MAX_REPLIES];
	unsigned n;
	unsigned calls; /* method calls since the last emit */
	bool dropped;
};

static bool name_taken(void *ctx, const char *name)
{
	(void)ctx;
	return strcmp(name, "d0") == 0;
}

static const char *backend_owner(void *ctx, const char *backend)
{
	(void)ctx;
	return strcmp(backend, "/local/domain/0/backend/vbd/1/51712") == 0 ? "d0" : NULL;
}

/* What disk_add may accept: every bound its documentation states. */
static void check_disk(const struct disk_params *p)
{
	const struct vbd_config *c = &p->cfg;
	const struct vbd_features *f = &c->features;
	if (!c->name || !c->name[0] || strlen(c->name) >= VBD_NAME_MAX || strpbrk(c->name, "/ \t\n") ||
	    strcmp(c->name, "d0") == 0)
		finding("disk_add took a bad or taken name", c->name);
	if (!c->engine || (strcmp(c->engine, "null") != 0 && !c->path))
		finding("disk_add took an engine without its path", NULL);
	if (f->max_queues < 1 || f->max_queues > VBD_MAX_QUEUES || f->max_ring_order > VBD_MAX_RING_ORDER ||
	    (f->max_indirect_segments && (f->max_indirect_segments <= BLKIF_DIRECT_SEGMENTS ||
					  f->max_indirect_segments > BLKIF_MAX_INDIRECT_SEGMENTS)) ||
	    f->pool_pages > (1u << 20) || f->poll_us > 1000000 || c->null_size > (1ull << 62))
		finding("disk_add took a feature out of bounds", NULL);
	if ((c->block_size && c->block_size != 512 && c->block_size != 4096) ||
	    (c->block_size && c->null_size % c->block_size) || (c->block_size && strcmp(c->engine, "spdk") == 0))
		finding("disk_add took a bad block_size", NULL);
	int targets = (c->backend != NULL) + p->has_claim;
	if (targets > 1 || (targets == 0 && !p->nbd_socket))
		finding("disk_add took no target or two", NULL);
	if (c->backend && (c->backend[0] != '/' || strlen(c->backend) >= VBD_PATH_MAX ||
			   strcmp(c->backend, "/local/domain/0/backend/vbd/1/51712") == 0))
		finding("disk_add took a bad or taken backend", c->backend);
	if (p->has_claim) {
		const struct claim_spec *k = &p->claim;
		if (k->domid < 1 || k->domid > CLAIM_DOMID_MAX || !k->value[0] || strchr(k->value, '/') || !k->kind[0] ||
		    !k->key[0] || k->key[0] == '/' || strstr(k->key, "//"))
			finding("disk_add took a bad claim", NULL);
	}
}

/* The daemon's methods over a daemon with one disk, d0 (daemon/methods.c daemon_rpc). */
static json_t *handler(void *ctx, const char *method, json_t *params, int *code, char *msg, size_t msglen)
{
	struct run *r = ctx;
	r->calls++;
	if (!json_is_object(params)) {
		*code = RPC_INVALID_PARAMS;
		snprintf(msg, msglen, "params must be an object");
		return NULL;
	}
	if (strcmp(method, "disk_add") == 0) {
		static const struct vbd_features defaults = { .max_queues = 4, .max_ring_order = 4,
							      .max_indirect_segments = 256, .persistent = true,
							      .discard = true, .flush = true, .pool_pages = 2048,
							      .poll_us = 50 };
		const struct disk_lookup look = { .name_taken = name_taken, .backend_owner = backend_owner };
		struct disk_params p;
		msg[0] = '\0';
		*code = RPC_INVALID_PARAMS;
		if (disk_params_parse(params, &defaults, &look, &p, msg, msglen) != 0) {
			if (!msg[0])
				finding("disk_add refused without a message", NULL);
			return NULL;
		}
		check_disk(&p);
		fuzz_accepted++;
		return json_pack("{s:s, s:s}", "name", p.cfg.name, "backend", p.cfg.backend ? p.cfg.backend : "");
	}
	if (strcmp(method, "disk_list") == 0)
		return json_array();
	if (strcmp(method, "shutdown") == 0)
		return json_true();
	if (strcmp(method, "disk_remove") == 0 || strcmp(method, "disk_pause") == 0 || strcmp(method, "disk_resume") == 0 ||
	    strcmp(method, "disk_stats") == 0 || strcmp(method, "disk_resize") == 0 || strcmp(method, "disk_get") == 0) {
		json_t *n = json_object_get(params, "name");
		const char *name = json_is_string(n) ? json_string_value(n) : NULL;
		if (!name || strcmp(name, "d0") != 0) {
			*code = RPC_INVALID_PARAMS;
			snprintf(msg, msglen, name ? "no disk named %s" : "name is required", name);
			return NULL;
		}
		return json_pack("{s:s}", "name", name);
	}
	*code = RPC_METHOD_NOT_FOUND;
	snprintf(msg, msglen, "unknown method %s", method);
	return NULL;
}

static bool valid_request(json_t *req)
{
	json_t *params = json_object_get(req, "params");
	return json_is_object(req) && json_is_string(json_object_get(req, "method")) &&
	       (!params || json_is_object(params) || json_is_array(params));
}

static void check_reply(json_t *req, const char *text)
{
	json_error_t err;
	json_t *back = json_loads(text, 0, &err);
	if (!json_is_object(back))
		finding("a reply that does not parse back", text);
	json_t *id = json_object_get(back, "id"), *result = json_object_get(back, "result"),
	       *error = json_object_get(back, "error");
	json_t *want_id = req ? json_object_get(req, "id") : NULL;
	if (!json_is_string(json_object_get(back, "jsonrpc")) ||
	    strcmp(json_string_value(json_object_get(back, "jsonrpc")), "2.0") != 0)
		finding("a reply without jsonrpc 2.0", text);
	if (!id || !json_equal(id, want_id ? want_id : json_null()))
		finding("a reply that does not echo the request's id", text);
	if (!result == !error || json_object_size(back) != 3)
		finding("a reply without exactly one of result and error", text);
	if (error) {
		json_t *code = json_object_get(error, "code");
		json_int_t c = json_integer_value(code);
		if (!json_is_integer(code) || !json_is_string(json_object_get(error, "message")) ||
		    json_object_size(error) != 2)
			finding("an error without an integer code and a message", text);
		if (c != -32700 && c != -32600 && c != -32601 && c != -32602 && c != -32603 && c != RPC_SERVER_ERROR)
			finding("an error code outside JSON-RPC's", text);
		if (!req && c != -32700)
			finding("no request, and no Parse error", text);
		if (req && !valid_request(req) && c != -32600)
			finding("an invalid request answered other than Invalid Request", text);
	}
	json_decref(back);
}

static void emit(void *ctx, json_t *req, json_t *reply)
{
	struct run *r = ctx;
	bool valid = req && valid_request(req);
	if (r->calls != (valid ? 1u : 0u))
		finding(valid ? "a valid request not run exactly once" : "an invalid request run", NULL);
	r->calls = 0;
	if (r->dropped)
		finding("an answer after the client was dropped", NULL);
	if (!req)
		r->dropped = true; /* a Parse error: the last thing the client hears */
	bool notification = valid && !json_object_get(req, "id");
	if (!reply != notification)
		finding(notification ? "a notification answered" : "a request without its answer", NULL);
	char *text = reply ? json_dumps(reply, JSON_COMPACT) : strdup("-");
	if (!text)
		finding("a reply that does not serialise: the server would send nothing", NULL);
	if (reply)
		check_reply(req, text);
	if (r->n == MAX_REPLIES)
		finding("more replies than the input can hold requests", NULL);
	r->replies[r->n++] = text;
}

/* Feeds the stream in reads of the given sizes (0: at once), as rpc_server_serve does with its buffer. */
static void run(struct run *r, const char *in, size_t len, uint32_t cut_seed)
{
	char *buf = malloc(len ? len : 1);
	size_t have = 0, pos = 0;
	uint32_t x = cut_seed | 1;
	if (!buf)
		abort();
	while (pos < len) {
		size_t n = len - pos;
		if (cut_seed) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			size_t c = 1 + x % (cut_seed & 0x80 ? 512 : 16);
			n = c < n ? c : n;
		}
		memcpy(buf + have, in + pos, n);
		have += n;
		pos += n;
		bool drop;
		size_t used = rpc_process(buf, have, handler, r, emit, r, &drop);
		if (used > have)
			finding("consumed more than the buffer", NULL);
		memmove(buf, buf + used, have - used);
		have -= used;
		if (drop) {
			if (!r->dropped)
				finding("a client dropped without a Parse error", NULL);
			break;
		}
		if (r->dropped)
			finding("a Parse error, and the client kept", NULL);
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static struct run whole, cut;
	whole = (struct run){ .n = 0 };
	cut = (struct run){ .n = 0 };
	run(&whole, (const char *)data + 1, size - 1, 0);
	run(&cut, (const char *)data + 1, size - 1, data[0]);
	if (whole.n != cut.n)
		finding("cutting the stream into reads changed the number of answers", NULL);
	for (unsigned i = 0; i < whole.n; i++) {
		if (strcmp(whole.replies[i], cut.replies[i]) != 0) {
			fprintf(stderr, "fuzz_rpc: read at once: %s\nfuzz_rpc: cut into reads: %s\n", whole.replies[i],
				cut.replies[i]);
			finding("cutting the stream into reads changed an answer", NULL);
		}
	}
	for (unsigned i = 0; i < whole.n; i++)
		free(whole.replies[i]);
	for (unsigned i = 0; i < cut.n; i++)
		free(cut.replies[i]);
	return 0;
}
