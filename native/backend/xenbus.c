/*
 * The backend xenbus state machine, as xen-blkback and QEMU run it:
 * Initialising -> (features) InitWait -> frontend Initialised/Connected ->
 * map and start -> Connected; frontend Closing -> Closing; frontend Closed ->
 * disconnect -> Closed; frontend back to Initialising -> InitWait again.
 * The toolstack's unplug (reference blkif.md 2.8): Closing written by it,
 * or shutdown-request normal (let the frontend close) or force (at once),
 * then Closed (and shutdown-done); Closed with online=0 or after a shutdown
 * request stays Closed.
 * Every value the frontend wrote is parsed strictly and bounded: a bad one
 * fails this device only.
 */
#include "backend/xenbus.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/bekeys.h"
#include "backend/fe_params.h"
#include "backend/vbd_ops.h"
#include "daemon/log.h"

#define VDISK_READONLY 0x4

static char *xread(struct xenbus_ctx *x, xs_transaction_t t, const char *dir, const char *key)
{
	char path[VBD_PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", dir, key);
	unsigned len;
	return xs_read(x->xs, t, path, &len);
}

/* The getter through which fe_params.c reads xenstore (outside any transaction). */
static char *fe_get(void *ctx, const char *dir, const char *key)
{
	return xread(ctx, XBT_NULL, dir, key);
}

static struct fe_source source(struct xenbus_ctx *x)
{
	return (struct fe_source){ .get = fe_get, .ctx = x };
}

/* A decimal unsigned value; false if absent or not a clean number within [0, max]. */
static bool read_uint(struct xenbus_ctx *x, const char *dir, const char *key, unsigned long max, unsigned long *out, bool *present)
{
	struct fe_source src = source(x);
	return fe_read_uint(&src, dir, key, max, out, present);
}

static int xwrite(struct xenbus_ctx *x, xs_transaction_t t, const char *dir, const char *key, const char *value)
{
	char path[VBD_PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", dir, key);
	return xs_write(x->xs, t, path, value, strlen(value)) ? 0 : -1;
}

static int xwrite_uint(struct xenbus_ctx *x, xs_transaction_t t, const char *dir, const char *key, uint64_t v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return xwrite(x, t, dir, key, buf);
}

/* Whether dir still exists in transaction t. */
static bool dir_exists(struct xenbus_ctx *x, xs_transaction_t t, const char *dir)
{
	unsigned len;
	char *d = xs_read(x->xs, t, dir, &len);
	free(d);
	return d != NULL;
}

/*
 * Writes dir/key only while dir exists, as xenbus_switch_state does: a plain
 * write would recreate a backend directory the toolstack just removed.
 */
static int xwrite_live(struct xenbus_ctx *x, const char *dir, const char *key, const char *value)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		xs_transaction_t t = xs_transaction_start(x->xs);
		if (t == XBT_NULL)
			return -1;
		if (!dir_exists(x, t, dir)) {
			xs_transaction_end(x->xs, t, true);
			errno = ENOENT;
			return -1;
		}
		int rc = xwrite(x, t, dir, key, value);
		if (xs_transaction_end(x->xs, t, false))
			return rc;
		if (errno != EAGAIN)
			return -1;
	}
	return -1;
}

static void set_state(struct xenbus_ctx *x, struct vbd *v, int state)
{
	if (v->state == state)
		return;
	log_info("%s: backend state %d -> %d", v->name, v->state, state);
	v->state = state;
	char buf[8];
	snprintf(buf, sizeof(buf), "%d", state);
	xwrite_live(x, v->backend, "state", buf);
}

void xenbus_token(const struct vbd *v, char *buf, size_t len)
{
	snprintf(buf, len, "vbd:%s", v->name);
}

/* Closing in xenstore that we did not write: the toolstack asks for an unplug; never overwrite it. */
static bool toolstack_closing(struct xenbus_ctx *x, xs_transaction_t t, const struct vbd *v)
{
	char *cur = xread(x, t, v->backend, "state");
	bool closing = cur && strcmp(cur, "5") == 0 && v->state != XB_CLOSING;
	free(cur);
	return closing;
}

/* Everything the frontend may read before connecting, in one transaction. */
static int publish_features(struct xenbus_ctx *x, struct vbd *v, int state)
{
	const struct vbd_features *f = &v->features;
	for (int attempt = 0; attempt < 100; attempt++) {
		xs_transaction_t t = xs_transaction_start(x->xs);
		if (t == XBT_NULL)
			return -1;
		const char *b = v->backend;
		if (!dir_exists(x, t, b)) {
			xs_transaction_end(x->xs, t, true);
			errno = ENOENT;
			return -1;
		}
		bool keep_state = toolstack_closing(x, t, v);
		xwrite_uint(x, t, b, "max-ring-page-order", f->max_ring_order);
		xwrite_uint(x, t, b, "multi-queue-max-queues", f->max_queues);
		if (f->max_indirect_segments > BLKIF_DIRECT_SEGMENTS)
			xwrite_uint(x, t, b, "feature-max-indirect-segments", f->max_indirect_segments);
		xwrite_uint(x, t, b, "feature-flush-cache", f->flush);
		xwrite_uint(x, t, b, "feature-barrier", 0);
		bool discard = f->discard && v->engine->ops->can_discard(v->engine);
		xwrite_uint(x, t, b, "feature-discard", discard);
		if (discard) {
			/* Discards must be whole blocks of the store; 4096 at least, as before, for files on 4K filesystems. */
			xwrite_uint(x, t, b, "discard-granularity", v->block_size > 4096 ? v->block_size : 4096);
			xwrite_uint(x, t, b, "discard-alignment", 0);
			xwrite_uint(x, t, b, "discard-secure", 0);
		}
		xwrite_uint(x, t, b, "feature-persistent", f->persistent);
		/*
		 * The unit is 512 until a frontend with feature-large-sector-size
		 * connects to a 4096-byte store (vbd_connect): then this second
		 * publication, with Connected in the same transaction, changes it.
		 */
		xwrite_uint(x, t, b, "sectors", v->sectors);
		xwrite_uint(x, t, b, "sector-size", 1u << v->sector_shift);
		xwrite_uint(x, t, b, "physical-sector-size", v->block_size > 4096 ? v->block_size : 4096);
		xwrite_uint(x, t, b, "info", vbd_readonly(v) ? VDISK_READONLY : 0);
		if (!keep_state)
			xwrite_uint(x, t, b, "state", (uint64_t)state);
		if (xs_transaction_end(x->xs, t, false)) {
			if (keep_state)
				log_info("%s: the toolstack asked for Closing: not going to state %d", v->name, state);
			else if (v->state != state)
				log_info("%s: backend state %d -> %d", v->name, v->state, state);
			if (!keep_state)
				v->state = state;
			return 0;
		}
		if (errno != EAGAIN)
			return -1;
	}
	return -1;
}

int xenbus_attach(struct xenbus_ctx *x, struct vbd *v, char *err, size_t errlen)
{
	struct fe_source src = source(x);
	struct fe_backend be;
	if (fe_read_backend(&src, v->backend, &be, err, errlen) != 0)
		return -1;
	snprintf(v->frontend, sizeof(v->frontend), "%s", be.frontend);
	v->frontend_id = be.frontend_id;
	v->mode_readonly = be.readonly;
	v->state = XB_INITIALISING;
	v->shutdown_done = false;
	v->shutdown_bad_logged = false;
	if (xenbus_watch(x, v) != 0) {
		snprintf(err, errlen, "cannot watch %s: %s", v->backend, strerror(errno));
		xenbus_detach(x, v);
		return -1;
	}
	if (publish_features(x, v, XB_INITWAIT) != 0) {
		snprintf(err, errlen, "cannot publish features in %s: %s", v->backend, strerror(errno));
		xenbus_detach(x, v);
		return -1;
	}
	/* Last: the toolstack's plug ends when it sees this, so we are in InitWait by then. */
	xwrite_live(x, v->backend, "hotplug-status", "connected");
	return 0;
}

int xenbus_watch(struct xenbus_ctx *x, struct vbd *v)
{
	char token[VBD_NAME_MAX + 8], path[VBD_PATH_MAX + 16];
	xenbus_token(v, token, sizeof(token));
	snprintf(path, sizeof(path), "%s/state", v->frontend);
	return xs_watch(x->xs, v->backend, token) && xs_watch(x->xs, path, token) ? 0 : -1;
}

void xenbus_detach(struct xenbus_ctx *x, struct vbd *v)
{
	if (!v->backend[0])
		return;
	char token[VBD_NAME_MAX + 8], path[VBD_PATH_MAX + 16];
	xenbus_token(v, token, sizeof(token));
	snprintf(path, sizeof(path), "%s/state", v->frontend);
	xs_unwatch(x->xs, v->backend, token);
	xs_unwatch(x->xs, path, token);
}

/* Reads and checks the frontend's transport parameters (fe_params.c). */
static int read_transport(struct xenbus_ctx *x, struct vbd *v, struct vbd_transport *t)
{
	struct fe_source src = source(x);
	struct fe_limits lim = { .max_queues = v->features.max_queues, .max_ring_order = v->features.max_ring_order };
	char err[sizeof(v->last_error)];
	if (fe_read_transport(&src, v->frontend, &lim, t, err, sizeof(err)) != 0) {
		vbd_set_error(v, "%s", err);
		return -1;
	}
	return 0;
}

static void connect(struct xenbus_ctx *x, struct vbd *v)
{
	struct vbd_transport t;
	if (read_transport(x, v, &t) != 0 || vbd_connect(v, x->plat, &t) != 0) {
		log_error("%s: cannot connect: %s", v->name, v->last_error);
		xwrite_live(x, v->backend, "error", v->last_error);
		set_state(x, v, XB_CLOSING);
		return;
	}
	log_info("%s: connected to domain %u: %u queue(s), ring order %u, %s, persistent %s, %u-byte sectors", v->name,
		 v->frontend_id, v->nr_queues, v->ring_order, v->abi->name, v->persistent ? "yes" : "no",
		 1u << v->sector_shift);
	if (publish_features(x, v, XB_CONNECTED) != 0) {
		log_error("%s: cannot publish the connection", v->name);
		vbd_disconnect(v);
		set_state(x, v, XB_CLOSING);
	}
}

/* shutdown-request, with an unknown value logged once and ignored. */
static enum be_shutdown read_shutdown(struct xenbus_ctx *x, struct vbd *v)
{
	char *s = xread(x, XBT_NULL, v->backend, "shutdown-request");
	enum be_shutdown r = bekeys_shutdown(s);
	if (r == BE_SHUTDOWN_BAD) {
		if (!v->shutdown_bad_logged)
			log_error("%s: ignoring shutdown-request '%.32s' (not normal or force)", v->name, s);
		v->shutdown_bad_logged = true;
		r = BE_SHUTDOWN_NONE;
	}
	free(s);
	return r;
}

/* What the frontend's state asks of us (-1: its state node is gone). final: Closed stays Closed. */
static void follow_frontend(struct xenbus_ctx *x, struct vbd *v, long fe, bool final)
{
	switch (fe) {
	case -1:
	case XB_UNKNOWN:
		/* Frontend vanished: treat as Closed. */
		vbd_disconnect(v);
		set_state(x, v, XB_CLOSED);
		break;
	case XB_INITIALISING:
		if (v->state == XB_CLOSED && !final)
			publish_features(x, v, XB_INITWAIT); /* reboot, kexec, driver reload */
		break;
	case XB_INITIALISED:
	case XB_CONNECTED:
		if (!v->connected && (v->state == XB_INITWAIT || v->state == XB_INITIALISING))
			connect(x, v);
		break;
	case XB_CLOSING:
		if (!(v->state == XB_CLOSED && final))
			set_state(x, v, XB_CLOSING);
		break;
	case XB_CLOSED:
		vbd_disconnect(v);
		set_state(x, v, XB_CLOSED);
		break;
	default:
		break;
	}
}

enum xenbus_outcome xenbus_reconcile(struct xenbus_ctx *x, struct vbd *v)
{
	if (v->gone || !v->backend[0])
		return XB_KEEP;
	char *fe_link = xread(x, XBT_NULL, v->backend, "frontend");
	if (!fe_link && errno != ENOENT) {
		/* Not an answer (xenstored unreachable): decide nothing; we reconcile again once reconnected. */
		log_error("%s: cannot read %s: %s", v->name, v->backend, strerror(errno));
		return XB_KEEP;
	}
	if (!fe_link) {
		/* The toolstack removed our backend directory: the device is gone. */
		log_info("%s: backend directory %s removed", v->name, v->backend);
		vbd_disconnect(v);
		return XB_GONE;
	}
	free(fe_link);
	struct fe_source src = source(x);
	long fe = fe_read_state(&src, v->frontend);
	if (fe < 0 && errno != ENOENT)
		return XB_KEEP; /* unreachable, not gone: as above */
	unsigned long online = 1, be = 0;
	bool present;
	read_uint(x, v->backend, "online", 1, &online, &present);
	if (read_uint(x, v->backend, "state", 8, &be, &present) && be == XB_INITIALISING && v->state != XB_INITIALISING) {
		/* Only the toolstack writes Initialising, when it creates a device: ours was replaced. */
		log_info("%s: backend directory %s was written anew", v->name, v->backend);
		vbd_disconnect(v);
		return XB_RENEWED;
	}
	enum be_shutdown shut = read_shutdown(x, v);
	bool final = shut != BE_SHUTDOWN_NONE || !online; /* Closed stays Closed */
	bool active = fe == XB_INITWAIT || fe == XB_INITIALISED || fe == XB_CONNECTED || fe == XB_CLOSING;

	bool unplugged = false;
	if (shut == BE_SHUTDOWN_FORCE && v->state != XB_CLOSED) {
		log_info("%s: forced shutdown requested", v->name);
		vbd_disconnect(v); /* in-flight requests complete first */
		set_state(x, v, XB_CLOSED);
		unplugged = true;
	} else if ((be == XB_CLOSING || shut == BE_SHUTDOWN_NORMAL) && v->state != XB_CLOSING && v->state != XB_CLOSED) {
		/* An unplug: the toolstack wrote Closing itself (xenopsd), or asked us to. */
		if (!active) {
			vbd_disconnect(v);
			set_state(x, v, XB_CLOSED);
			unplugged = true;
		} else if (be == XB_CLOSING) {
			v->state = XB_CLOSING;
		} else {
			set_state(x, v, XB_CLOSING);
		}
	}

	if (!unplugged) /* just Closed for the toolstack: nothing else now */
		follow_frontend(x, v, fe, final);
	if (shut != BE_SHUTDOWN_NONE && v->state == XB_CLOSED && !v->shutdown_done) {
		log_info("%s: shutdown done", v->name);
		xwrite_live(x, v->backend, "shutdown-done", "");
		v->shutdown_done = true;
	}
	return XB_KEEP;
}

void xenbus_closed(struct xenbus_ctx *x, struct vbd *v)
{
	if (v->backend[0] && !v->gone)
		set_state(x, v, XB_CLOSED);
}

void xenbus_fail(struct xenbus_ctx *x, struct vbd *v)
{
	log_error("%s: the frontend broke the ring protocol; disconnecting it", v->name);
	vbd_set_error(v, "frontend protocol error (ring indices)%s", "");
	vbd_disconnect(v);
	xwrite_live(x, v->backend, "error", v->last_error);
	set_state(x, v, XB_CLOSING);
}

int xenbus_publish_size(struct xenbus_ctx *x, struct vbd *v)
{
	if (!v->backend[0])
		return 0; /* not served yet: published at attach */
	/* Like blkback: new sectors and the unchanged state in one transaction, to fire the frontend's watch. */
	for (int attempt = 0; attempt < 100; attempt++) {
		xs_transaction_t t = xs_transaction_start(x->xs);
		if (t == XBT_NULL)
			return -1;
		if (!dir_exists(x, t, v->backend)) {
			xs_transaction_end(x->xs, t, true);
			return 0; /* gone: nobody to tell */
		}
		xwrite_uint(x, t, v->backend, "sectors", v->sectors);
		if (!toolstack_closing(x, t, v))
			xwrite_uint(x, t, v->backend, "state", (uint64_t)v->state);
		if (xs_transaction_end(x->xs, t, false))
			return 0;
		if (errno != EAGAIN)
			return -1;
	}
	return -1;
}
