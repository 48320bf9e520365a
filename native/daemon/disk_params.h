/*
 * disk_add's parameters, checked without a daemon: what the request asks
 * for, or the first thing wrong with it. The daemon answers whether a name
 * or a backend directory is already taken through the lookup, so that the
 * checks run in the same order as they always did (and the fuzz target
 * runs them all).
 */
#ifndef DAEMON_DISK_PARAMS_H
#define DAEMON_DISK_PARAMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "backend/claim.h"
#include "backend/vbd_ops.h"

struct disk_lookup {
	bool (*name_taken)(void *ctx, const char *name);
	/* The disk serving this backend directory, or NULL. */
	const char *(*backend_owner)(void *ctx, const char *backend);
	void *ctx;
};

struct disk_params {
	struct vbd_config cfg; /* its strings point into the request and into backend below */
	char backend[VBD_PATH_MAX];
	bool has_claim;
	struct claim_spec claim;
	const char *nbd_socket; /* NULL: no NBD export */
};

/* 0, or -1 with a message naming the parameter at fault. */
int disk_params_parse(json_t *params, const struct vbd_features *defaults, const struct disk_lookup *look,
		      struct disk_params *out, char *msg, size_t msglen);

#endif
