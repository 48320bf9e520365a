/* Xenstore handshake primitives for the frontend (Linux xenbus semantics). */
#include "sim/guest/xenbus.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xenstore.h>

#define TOKEN_STATE "be-state"
#define TOKEN_SECTORS "be-sectors"
#define TXN_RETRIES 1000

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void join(char *buf, size_t n, const char *dir, const char *key)
{
	snprintf(buf, n, "%s/%s", dir, key);
}

char *xb_read(struct xb *x, const char *dir, const char *key)
{
	char path[256];
	unsigned int len;

	join(path, sizeof(path), dir, key);
	return xs_read(x->xs, XBT_NULL, path, &len);
}

static int parse_ull(const char *s, unsigned long long *v)
{
	char *end;

	if (!s || !*s || *s == '-' || *s == ' ')
		return -2;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || *end ? -2 : 0;
}

int xb_read_ull(struct xb *x, const char *dir, const char *key, unsigned long long *v)
{
	char *s = xb_read(x, dir, key);
	int rc;

	if (!s)
		return -1;
	rc = parse_ull(s, v);
	free(s);
	return rc;
}

unsigned long long xb_read_ull_def(struct xb *x, const char *dir, const char *key, unsigned long long def)
{
	unsigned long long v;
	return xb_read_ull(x, dir, key, &v) == 0 ? v : def;
}

int xb_open(struct xb *x, uint32_t domid, uint32_t devid, char *err, size_t errlen)
{
	unsigned long long bid;
	char *be;

	memset(x, 0, sizeof(*x));
	x->domid = domid;
	x->devid = devid;
	x->be_state = -1;
	snprintf(x->fe, sizeof(x->fe), "/local/domain/%u/device/vbd/%u", domid, devid);
	x->xs = xs_open(XS_OPEN_SOCKETONLY);
	if (!x->xs) {
		snprintf(err, errlen, "cannot connect to xenstored (XENSTORED_PATH=%s): %s",
			 getenv("XENSTORED_PATH") ? getenv("XENSTORED_PATH") : "unset", strerror(errno));
		return -1;
	}
	be = xb_read(x, x->fe, "backend");
	if (!be) {
		snprintf(err, errlen, "%s/backend: %s", x->fe, strerror(errno));
		return -1;
	}
	if (strlen(be) >= sizeof(x->be)) {
		snprintf(err, errlen, "%s/backend is too long", x->fe);
		free(be);
		return -1;
	}
	strcpy(x->be, be);
	free(be);
	if (xb_read_ull(x, x->fe, "backend-id", &bid) < 0 || bid > 0xfffe) {
		snprintf(err, errlen, "%s/backend-id missing or invalid", x->fe);
		return -1;
	}
	x->be_domid = (uint32_t)bid;
	return 0;
}

void xb_close(struct xb *x)
{
	if (x->xs)
		xs_close(x->xs);
	x->xs = NULL;
}

int xb_fd(const struct xb *x)
{
	return xs_fileno(x->xs);
}

static int read_state(struct xb *x, const char *dir)
{
	unsigned long long v;
	int rc = xb_read_ull(x, dir, "state", &v);
	if (rc == -1)
		return -1;
	/* Garbage in a state node reads as Unknown, as xenbus_read_driver_state does. */
	return rc == 0 && v <= 8 ? (int)v : XB_UNKNOWN;
}

int xb_fe_state(struct xb *x)
{
	return read_state(x, x->fe);
}

int xb_be_state(struct xb *x)
{
	x->be_state = read_state(x, x->be);
	return x->be_state;
}

int xb_switch_state(struct xb *x, int state)
{
	char path[160], val[8];

	join(path, sizeof(path), x->fe, "state");
	snprintf(val, sizeof(val), "%d", state);
	for (int tries = 0; tries < TXN_RETRIES; tries++) {
		xs_transaction_t t = xs_transaction_start(x->xs);
		unsigned int len;
		char *cur;

		if (t == XBT_NULL)
			return -1;
		/* The toolstack may have removed us: do not recreate the node. */
		cur = xs_read(x->xs, t, path, &len);
		if (!cur) {
			xs_transaction_end(x->xs, t, true);
			errno = ENOENT;
			return -1;
		}
		free(cur);
		if (!xs_write(x->xs, t, path, val, (unsigned)strlen(val))) {
			int e = errno;
			xs_transaction_end(x->xs, t, true);
			errno = e;
			return -1;
		}
		if (xs_transaction_end(x->xs, t, false))
			return 0;
		if (errno != EAGAIN)
			return -1;
	}
	errno = EAGAIN;
	return -1;
}

void xb_fatal(struct xb *x, int err, const char *msg)
{
	char path[192], val[256];

	snprintf(path, sizeof(path), "/local/domain/%u/error/device/vbd/%u/error", x->domid, x->devid);
	snprintf(val, sizeof(val), "%i %s", err, msg);
	xs_write(x->xs, XBT_NULL, path, val, (unsigned)strlen(val));
	xb_switch_state(x, XB_CLOSING);
}

int xb_ensure(struct xb *x, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	struct xs_handle *h;
	bool sectors = x->watching_sectors;
	/* Any request answers on a live connection; on a dead one libxenstore fails at once. */
	char *p = xs_get_domain_path(x->xs, x->domid);

	if (p) {
		free(p);
		return 0;
	}
	while (!(h = xs_open(XS_OPEN_SOCKETONLY)) && now_ms() < deadline)
		poll(NULL, 0, 50);
	if (!h)
		return -1;
	xs_close(x->xs);
	x->xs = h;
	x->watching_sectors = false;
	if (xb_watch_backend(x) < 0 || (sectors && xb_watch_sectors(x) < 0))
		return -1;
	x->be_changed = true;
	return 1;
}

int xb_watch_backend(struct xb *x)
{
	char path[192];

	join(path, sizeof(path), x->be, "state");
	return xs_watch(x->xs, path, TOKEN_STATE) ? 0 : -1;
}

int xb_watch_sectors(struct xb *x)
{
	char path[192];

	if (x->watching_sectors)
		return 0;
	join(path, sizeof(path), x->be, "sectors");
	if (!xs_watch(x->xs, path, TOKEN_SECTORS))
		return -1;
	x->watching_sectors = true;
	return 0;
}

int xb_process(struct xb *x)
{
	int n = 0;
	char **vec;

	while ((vec = xs_check_watch(x->xs)) != NULL) {
		if (strcmp(vec[XS_WATCH_TOKEN], TOKEN_STATE) == 0)
			x->be_changed = true;
		else if (strcmp(vec[XS_WATCH_TOKEN], TOKEN_SECTORS) == 0)
			x->sectors_changed = true;
		free(vec);
		n++;
	}
	return n;
}

int xb_wait_be_state(struct xb *x, unsigned mask, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

	for (;;) {
		struct pollfd pfd = { .fd = xb_fd(x), .events = POLLIN };
		uint64_t now;
		int s;

		x->be_changed = false;
		s = xb_be_state(x);
		if (s < 0)
			return -2;
		if (mask & XB_STATE_BIT(s))
			return s;
		now = now_ms();
		if (now >= deadline)
			return -1;
		/* Wake on any watch event, and re-read at least every 100 ms in case one was missed. */
		poll(&pfd, 1, (int)(deadline - now < 100 ? deadline - now : 100));
		xb_process(x);
	}
}

static int write_key(struct xb *x, xs_transaction_t t, const char *dir, const char *key, const char *fmt,
		     unsigned long v)
{
	char path[224], val[32];

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	snprintf(val, sizeof(val), fmt, v);
	return xs_write(x->xs, t, path, val, (unsigned)strlen(val)) ? 0 : -1;
}

/* write_per_ring_nodes: ring-ref (one page) or ring-refN, then event-channel. */
static int write_ring(struct xb *x, xs_transaction_t t, const char *dir, unsigned npages, const struct xb_ring *r)
{
	if (npages == 1) {
		if (write_key(x, t, dir, "ring-ref", "%lu", r->grefs[0]) < 0)
			return -1;
	} else {
		for (unsigned i = 0; i < npages; i++) {
			char key[24];
			snprintf(key, sizeof(key), "ring-ref%u", i);
			if (write_key(x, t, dir, key, "%lu", r->grefs[i]) < 0)
				return -1;
		}
	}
	return write_key(x, t, dir, "event-channel", "%lu", r->port);
}

/* Keys of an earlier connection (another queue count or ring size) must not outlive it. */
static bool stale_key(const char *k)
{
	return strcmp(k, "ring-page-order") == 0 || strcmp(k, "multi-queue-num-queues") == 0 ||
	       strncmp(k, "ring-ref", 8) == 0 || strcmp(k, "event-channel") == 0 || strncmp(k, "queue-", 6) == 0 ||
	       strcmp(k, "feature-large-sector-size") == 0;
}

static void remove_stale(struct xb *x, xs_transaction_t t)
{
	unsigned int n = 0;
	char **keys = xs_directory(x->xs, t, x->fe, &n), path[224];

	for (unsigned i = 0; keys && i < n; i++) {
		if (!stale_key(keys[i]))
			continue;
		snprintf(path, sizeof(path), "%s/%s", x->fe, keys[i]);
		xs_rm(x->xs, t, path);
	}
	free(keys);
}

int xb_write_transport(struct xb *x, unsigned order, unsigned nqueues, const struct xb_ring *rings,
		       const char *protocol, bool persistent, bool large_sector, char *err, size_t errlen)
{
	unsigned npages = 1u << order;

	for (int tries = 0; tries < TXN_RETRIES; tries++) {
		xs_transaction_t t = xs_transaction_start(x->xs);
		char path[224];
		int bad = 0;

		if (t == XBT_NULL) {
			snprintf(err, errlen, "starting transaction: %s", strerror(errno));
			return -1;
		}
		remove_stale(x, t);
		if (npages > 1)
			bad |= write_key(x, t, x->fe, "ring-page-order", "%lu", order);
		if (nqueues == 1) {
			bad |= write_ring(x, t, x->fe, npages, &rings[0]);
		} else {
			bad |= write_key(x, t, x->fe, "multi-queue-num-queues", "%lu", nqueues);
			for (unsigned q = 0; q < nqueues && !bad; q++) {
				snprintf(path, sizeof(path), "%s/queue-%u", x->fe, q);
				bad |= write_ring(x, t, path, npages, &rings[q]);
			}
		}
		snprintf(path, sizeof(path), "%s/protocol", x->fe);
		if (!bad && !xs_write(x->xs, t, path, protocol, (unsigned)strlen(protocol)))
			bad = -1;
		if (!bad)
			bad |= write_key(x, t, x->fe, "feature-persistent", "%lu", persistent ? 1 : 0);
		if (!bad && large_sector)
			bad |= write_key(x, t, x->fe, "feature-large-sector-size", "%lu", 1);
		if (bad) {
			int e = errno;
			xs_transaction_end(x->xs, t, true);
			snprintf(err, errlen, "writing ring references: %s", strerror(e));
			return -1;
		}
		if (xs_transaction_end(x->xs, t, false))
			return 0;
		if (errno != EAGAIN) {
			snprintf(err, errlen, "completing transaction: %s", strerror(errno));
			return -1;
		}
	}
	snprintf(err, errlen, "transaction kept failing with EAGAIN");
	return -1;
}
