/*
 * Claiming a backend directory the toolstack wrote: a disk added with
 * `claim` waits for /local/domain/0/backend/<kind>/<domid>/<devid> whose
 * <key> holds its value (xenopsd writes XenDisk.extra under sm-data/), as
 * qemuback does for qemu-dp (reference blkif.md 2.9).
 */
#ifndef BACKEND_CLAIM_H
#define BACKEND_CLAIM_H

#include <stdbool.h>
#include <stddef.h>

#define CLAIM_ROOT "/local/domain/0/backend"
#define CLAIM_DOMID_MAX 32752
#define CLAIM_KIND_MAX 32
#define CLAIM_KEY_MAX 128
#define CLAIM_VALUE_MAX 256
#define CLAIM_DEFAULT_KIND "qdisk"
#define CLAIM_DEFAULT_KEY "sm-data/xenblkd-disk"

struct json_t;
struct xs_handle;

struct claim_spec {
	unsigned domid;
	char kind[CLAIM_KIND_MAX];
	char key[CLAIM_KEY_MAX];
	char value[CLAIM_VALUE_MAX];
};

/* disk_add's `claim` object; -1 with a message naming the member at fault. */
int claim_spec_parse(struct json_t *j, struct claim_spec *out, char *msg, size_t msglen);

enum claim_route {
	CLAIM_ROUTE_NONE,   /* not under CLAIM_ROOT/<kind> */
	CLAIM_ROUTE_KIND,   /* CLAIM_ROOT/<kind> itself: any domain may have changed */
	CLAIM_ROUTE_DOMAIN, /* CLAIM_ROOT/<kind>/<domid>[/...] */
};

/* Which kind (and domain) a watch event path touches. */
enum claim_route claim_route(const char *path, char *kind, size_t kindlen, unsigned *domid);

/* Whether another disk already serves this backend directory. */
typedef bool (*claim_taken_fn)(const char *backend, void *ctx);

/*
 * Looks for a claimable directory: <key> equal to the value, not taken, not
 * refused before (hotplug-error), not being unplugged (online=0), complete
 * (frontend and frontend-id present). Devids are tried in numeric order.
 * 1 and its path, or 0. A frontend-id that is not the domain is refused.
 */
int claim_find(struct xs_handle *xs, const struct claim_spec *c, claim_taken_fn taken, void *ctx, char *path,
	       size_t pathlen);

/* Refuses a directory for good: hotplug-error, which the toolstack waits for too. */
void claim_refuse(struct xs_handle *xs, const char *backend, const char *why);

#endif
