/* disk_add's parameter checks (see disk_params.h). */
#include "daemon/disk_params.h"

#include <stdio.h>
#include <string.h>

#include "control/params.h"

/* Where the disk is served: `backend`, `claim`, or neither (NBD only, then nbd_socket is required). */
static bool get_target(json_t *params, char *abs, size_t abslen, struct claim_spec *claim, bool *has_claim, char *msg,
		       size_t msglen)
{
	json_t *backend = json_object_get(params, "backend"), *c = json_object_get(params, "claim");
	abs[0] = '\0';
	*has_claim = c != NULL;
	if (backend && c) {
		snprintf(msg, msglen, "backend and claim are mutually exclusive");
		return false;
	}
	if (c)
		return claim_spec_parse(c, claim, msg, msglen) == 0;
	if (!backend) {
		if (json_object_get(params, "nbd_socket"))
			return true;
		snprintf(msg, msglen, "backend (the xenstore backend directory) or claim is required, unless nbd_socket "
				      "alone is asked for");
		return false;
	}
	const char *b = json_is_string(backend) ? json_string_value(backend) : NULL;
	if (!b || !b[0]) {
		snprintf(msg, msglen, "backend must be a xenstore backend directory");
		return false;
	}
	int n = b[0] == '/' ? snprintf(abs, abslen, "%s", b) : snprintf(abs, abslen, "/local/domain/0/%s", b);
	if (n < 0 || (size_t)n >= abslen) {
		snprintf(msg, msglen, "backend path too long");
		return false;
	}
	return true;
}

int disk_params_parse(json_t *params, const struct vbd_features *defaults, const struct disk_lookup *look,
		      struct disk_params *out, char *msg, size_t msglen)
{
	static const char *const known[] = { "name", "backend", "claim", "engine", "path", "readonly", "paused", "size",
					     "queues", "max_ring_order", "max_indirect_segments", "persistent",
					     "discard", "flush", "zero_copy", "pool_pages", "poll_us", "nbd_socket", "block_size",
					     "flush_nvme", "null_cpu_us", NULL };
	memset(out, 0, sizeof(*out));
	const char *unknown = params_unknown_member(params, known);
	if (unknown) {
		snprintf(msg, msglen, "unknown parameter %s", unknown);
		return -1;
	}
	struct vbd_config *cfg = &out->cfg;
	cfg->features = *defaults;
	cfg->name = params_get_string(params, "name");
	cfg->engine = params_get_string(params, "engine");
	cfg->path = params_get_string(params, "path");
	if (!cfg->name || !cfg->name[0] || strlen(cfg->name) >= VBD_NAME_MAX || strpbrk(cfg->name, "/ \t\n")) {
		snprintf(msg, msglen, "name must be a non-empty word of at most %d characters", VBD_NAME_MAX - 1);
		return -1;
	}
	if (look->name_taken(look->ctx, cfg->name)) {
		snprintf(msg, msglen, "a disk named %s already exists", cfg->name);
		return -1;
	}
	if (!get_target(params, out->backend, sizeof(out->backend), &out->claim, &out->has_claim, msg, msglen))
		return -1;
	const char *owner = out->backend[0] ? look->backend_owner(look->ctx, out->backend) : NULL;
	if (owner) {
		snprintf(msg, msglen, "%s is already served by disk %s", out->backend, owner);
		return -1;
	}
	cfg->backend = out->backend[0] ? out->backend : NULL;
	if (!cfg->engine)
		cfg->engine = "uring";
	unsigned long size = 0, queues = cfg->features.max_queues, order = cfg->features.max_ring_order,
		      indirect = cfg->features.max_indirect_segments, pool = cfg->features.pool_pages,
		      poll = cfg->features.poll_us, block = 0, cpu_us = 0;
	if (!params_get_uint(params, "size", 1ul << 62, &size, msg, msglen) ||
	    !params_get_uint(params, "queues", VBD_MAX_QUEUES, &queues, msg, msglen) ||
	    !params_get_uint(params, "max_ring_order", VBD_MAX_RING_ORDER, &order, msg, msglen) ||
	    !params_get_uint(params, "max_indirect_segments", BLKIF_MAX_INDIRECT_SEGMENTS, &indirect, msg, msglen) ||
	    !params_get_uint(params, "pool_pages", 1u << 20, &pool, msg, msglen) ||
	    !params_get_uint(params, "poll_us", 1000000, &poll, msg, msglen) ||
	    !params_get_uint(params, "block_size", 4096, &block, msg, msglen) ||
	    !params_get_uint(params, "null_cpu_us", 1000, &cpu_us, msg, msglen) ||
	    !params_get_bool(params, "readonly", &cfg->readonly, msg, msglen) ||
	    !params_get_bool(params, "paused", &cfg->paused, msg, msglen) ||
	    !params_get_bool(params, "persistent", &cfg->features.persistent, msg, msglen) ||
	    !params_get_bool(params, "discard", &cfg->features.discard, msg, msglen) ||
	    !params_get_bool(params, "flush", &cfg->features.flush, msg, msglen) ||
	    !params_get_bool(params, "zero_copy", &cfg->features.zero_copy, msg, msglen))
		return -1;
	if (queues == 0) {
		snprintf(msg, msglen, "queues must be at least 1");
		return -1;
	}
	cfg->null_size = size;
	if (cpu_us && strcmp(cfg->engine, "null") != 0) {
		snprintf(msg, msglen, "null_cpu_us is for the null engine");
		return -1;
	}
	cfg->null_cpu_ns = (uint32_t)cpu_us * 1000;
	cfg->features.max_queues = (unsigned)queues;
	cfg->features.max_ring_order = (unsigned)order;
	cfg->features.max_indirect_segments = indirect > BLKIF_DIRECT_SEGMENTS ? (unsigned)indirect : 0;
	cfg->features.pool_pages = (unsigned)pool;
	cfg->features.poll_us = (unsigned)poll;
	/* A 4Kn disk stood for by the null engine or a file; a block device or an SPDK bdev has its own. */
	if (json_object_get(params, "block_size")) {
		if (block != 512 && block != 4096) {
			snprintf(msg, msglen, "block_size must be 512 or 4096");
			return -1;
		}
		if (strcmp(cfg->engine, "spdk") == 0) {
			snprintf(msg, msglen, "block_size is the bdev's own with the spdk engine");
			return -1;
		}
		if (strcmp(cfg->engine, "null") == 0 && size % block) {
			snprintf(msg, msglen, "size must be a multiple of block_size");
			return -1;
		}
		cfg->block_size = (uint32_t)block;
	}
	if (strcmp(cfg->engine, "null") != 0 && !cfg->path) {
		snprintf(msg, msglen, "path (a file or block device; the bdev name for spdk) is required for the %s engine", cfg->engine);
		return -1;
	}
	json_t *flush_nvme = json_object_get(params, "flush_nvme");
	if (flush_nvme && (!json_is_string(flush_nvme) || !json_string_value(flush_nvme)[0])) {
		snprintf(msg, msglen, "flush_nvme must name an NVMe namespace bdev");
		return -1;
	}
	if (flush_nvme && strcmp(cfg->engine, "spdk") != 0) {
		snprintf(msg, msglen, "flush_nvme is for the spdk engine");
		return -1;
	}
	cfg->flush_nvme = flush_nvme ? json_string_value(flush_nvme) : NULL;
	json_t *nbd_socket = json_object_get(params, "nbd_socket");
	if (nbd_socket && !json_is_string(nbd_socket)) {
		snprintf(msg, msglen, "nbd_socket must be a path");
		return -1;
	}
	out->nbd_socket = nbd_socket ? json_string_value(nbd_socket) : NULL;
	return 0;
}
