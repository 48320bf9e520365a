/* Xenstore helpers for the simulated toolstack: transactions, permissions, bounded waits. */
#ifndef TOOLSTACK_XSUTIL_H
#define TOOLSTACK_XSUTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <xenstore.h>

extern int ts_timeout_ms;

struct xs_handle *ts_xs_open(void);
/* Writes dir/key = value in transaction t and gives the node `perms` (owner first). */
bool ts_write(struct xs_handle *h, xs_transaction_t t, const char *dir, const char *key, const char *value,
	      struct xs_permissions *perms, unsigned nperms);
/* A node's unsigned value, or -1 if absent or not a number. */
long long ts_read_num(struct xs_handle *h, const char *path);
/* Waits until `path` holds a number in `mask` (bit per value) or disappears; returns it, -2 gone, -1 timeout. */
int ts_wait_state(struct xs_handle *h, const char *path, unsigned mask, int timeout_ms);
/* Calls check(h, ctx) at once and after every event under `watch` or `watch2` (may be NULL), at
 * least every 100 ms, until it returns non-zero; returns that, or 0 when timeout_ms ran out. */
int ts_wait_until(struct xs_handle *h, const char *watch, const char *watch2,
		  int (*check)(struct xs_handle *h, void *ctx), void *ctx, int timeout_ms);
/* Whether dir/key exists; its value in *value (caller frees) if value is not NULL. */
bool ts_exists(struct xs_handle *h, const char *dir, const char *key, char **value);
/* xenopsd's mapping of a devid to a Linux name: xvdX for 202:X<<4, else "xvd?". */
void ts_dev_name(uint32_t devid, char *buf, unsigned len);

#endif
