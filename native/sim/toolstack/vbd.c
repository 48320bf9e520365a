/*
 * Adding and removing VBDs: libxl__device_generic_add / xenopsd
 * Vbd_Common.add_async write both directories in one transaction, the
 * backend's owned by the backend domain and readable by the guest, the
 * frontend's owned by the guest and readable by the backend; then, like
 * Hotplug.wait_for_plug, a bounded wait for hotplug-status (or hotplug-error).
 * A clean unplug is online=0 and Closing with a bounded wait for the
 * frontend to close, or the shutdown-request variant waiting for
 * shutdown-done; for qdisk the hotplug-status key is deleted once the
 * backend is Closed ("qemu-dp does not delete the hotplug status key"); then
 * both directories are removed.
 */
#include "sim/toolstack/vbd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/toolstack/xsutil.h"

#define TXN_RETRIES 100
#define XB_CLOSED 6

static void paths(uint32_t domid, uint32_t devid, const char *kind, uint32_t bdom, char *fe, size_t fel, char *be,
		  size_t bel)
{
	snprintf(fe, fel, "/local/domain/%u/device/vbd/%u", domid, devid);
	snprintf(be, bel, "/local/domain/%u/backend/%s/%u/%u", bdom, kind, domid, devid);
}

static int add_once(struct xs_handle *h, xs_transaction_t t, const struct vbd_spec *s, const char *fe,
		    const char *be)
{
	struct xs_permissions fperm[2] = { { s->domid, XS_PERM_NONE }, { s->backend_domid, XS_PERM_READ } };
	struct xs_permissions bperm[2] = { { s->backend_domid, XS_PERM_NONE }, { s->domid, XS_PERM_READ } };
	char num[32], dev[16];
	bool ok = true;

	ts_dev_name(s->devid, dev, sizeof(dev));
	/* Frontend directory, owned by the guest. */
	xs_rm(h, t, fe);
	ok &= xs_mkdir(h, t, fe) && xs_set_permissions(h, t, fe, fperm, 2);
	ok &= ts_write(h, t, fe, "backend", be, fperm, 2);
	snprintf(num, sizeof(num), "%u", s->backend_domid);
	ok &= ts_write(h, t, fe, "backend-id", num, fperm, 2);
	ok &= ts_write(h, t, fe, "state", "1", fperm, 2);
	snprintf(num, sizeof(num), "%u", s->devid);
	ok &= ts_write(h, t, fe, "virtual-device", num, fperm, 2);
	ok &= ts_write(h, t, fe, "device-type", s->device_type, fperm, 2);
	if (s->protocol)
		ok &= ts_write(h, t, fe, "protocol", s->protocol, fperm, 2);
	/* Backend directory, owned by the backend domain. */
	xs_rm(h, t, be);
	ok &= xs_mkdir(h, t, be) && xs_set_permissions(h, t, be, bperm, 2);
	ok &= ts_write(h, t, be, "frontend", fe, bperm, 2);
	snprintf(num, sizeof(num), "%u", s->domid);
	ok &= ts_write(h, t, be, "frontend-id", num, bperm, 2);
	ok &= ts_write(h, t, be, "online", "1", bperm, 2);
	ok &= ts_write(h, t, be, "removable", "0", bperm, 2);
	ok &= ts_write(h, t, be, "state", "1", bperm, 2);
	ok &= ts_write(h, t, be, "dev", dev, bperm, 2);
	ok &= ts_write(h, t, be, "type", "phy", bperm, 2);
	ok &= ts_write(h, t, be, "mode", s->mode, bperm, 2);
	ok &= ts_write(h, t, be, "params", s->params, bperm, 2);
	for (unsigned i = 0; i < s->nextra && ok; i++) {
		char key[256];
		const char *eq = strchr(s->extra[i], '=');
		size_t kl = eq ? (size_t)(eq - s->extra[i]) : 0;
		if (!eq || kl == 0 || kl >= sizeof(key)) {
			errno = EINVAL;
			return -1;
		}
		memcpy(key, s->extra[i], kl);
		key[kl] = '\0';
		ok &= ts_write(h, t, be, key, eq + 1, bperm, 2);
	}
	return ok ? 0 : -1;
}

int vbd_add(struct xs_handle *h, const struct vbd_spec *s)
{
	char fe[128], be[192];

	paths(s->domid, s->devid, s->kind, s->backend_domid, fe, sizeof(fe), be, sizeof(be));
	for (int tries = 0; tries < TXN_RETRIES; tries++) {
		xs_transaction_t t = xs_transaction_start(h);
		if (t == XBT_NULL)
			return -1;
		if (add_once(h, t, s, fe, be) < 0) {
			int e = errno;
			xs_transaction_end(h, t, true);
			errno = e;
			return -1;
		}
		if (xs_transaction_end(h, t, false))
			return 0;
		if (errno != EAGAIN)
			return -1;
	}
	errno = EAGAIN;
	return -1;
}

static int hotplug_done(struct xs_handle *h, void *ctx)
{
	const char *be = ctx;
	char *v = NULL;
	int rc = 0;

	if (ts_exists(h, be, "hotplug-error", &v)) {
		fprintf(stderr, "xensim-toolstack: %s/hotplug-error: %s\n", be, v);
		rc = -2;
	} else if (ts_exists(h, be, "hotplug-status", &v) && strcmp(v, "connected") == 0) {
		rc = 1;
	}
	free(v);
	return rc;
}

int vbd_wait_hotplug(struct xs_handle *h, const struct vbd_spec *s)
{
	char fe[128], be[192];
	int rc;

	paths(s->domid, s->devid, s->kind, s->backend_domid, fe, sizeof(fe), be, sizeof(be));
	rc = ts_wait_until(h, be, NULL, hotplug_done, be, ts_timeout_ms);
	if (rc == 0)
		fprintf(stderr, "xensim-toolstack: no hotplug-status in %s in time\n", be);
	return rc == 1 ? 0 : rc == 0 ? 1 : rc;
}

/*
 * xenopsd's unplug request, in one transaction: with `how` NULL, online=0 and
 * Closing unless the backend is already Closed; with a shutdown request
 * ("normal" or "force"), shutdown-request, and online=0 unless forced.
 */
static int request_unplug(struct xs_handle *h, const char *be, const char *how)
{
	char path[256];

	for (int tries = 0; tries < TXN_RETRIES; tries++) {
		xs_transaction_t t = xs_transaction_start(h);
		unsigned int len;
		char *st;
		bool ok = true;

		if (t == XBT_NULL)
			return -1;
		snprintf(path, sizeof(path), "%s/state", be);
		st = xs_read(h, t, path, &len);
		if (!st) {
			xs_transaction_end(h, t, true);
			return 0; /* already gone */
		}
		if (!how || strcmp(how, "force") != 0) {
			snprintf(path, sizeof(path), "%s/online", be);
			ok = xs_write(h, t, path, "0", 1);
		}
		if (how) {
			snprintf(path, sizeof(path), "%s/shutdown-request", be);
			ok = ok && xs_write(h, t, path, how, (unsigned)strlen(how));
		} else if (strcmp(st, "6") != 0) {
			snprintf(path, sizeof(path), "%s/state", be);
			ok = ok && xs_write(h, t, path, "5", 1);
		}
		free(st);
		if (!ok) {
			xs_transaction_end(h, t, true);
			return -1;
		}
		if (xs_transaction_end(h, t, false))
			return 0;
		if (errno != EAGAIN)
			return -1;
	}
	return -1;
}

/* shutdown-done written, or the backend directory gone. */
static int shutdown_done(struct xs_handle *h, void *ctx)
{
	const char *be = ctx;

	return ts_exists(h, be, "shutdown-done", NULL) || !ts_exists(h, be, "state", NULL);
}

struct unplug_wait {
	const char *fe, *be;
	bool qdisk;
};

static bool is_closed(struct xs_handle *h, const char *dir)
{
	char *v = NULL;
	bool closed = ts_exists(h, dir, "state", &v) && strcmp(v, "6") == 0;

	free(v);
	return closed;
}

/* What xenopsd waits for on an unplug: the frontend Closed or gone; for qdisk the backend Closed also ends it. */
static int unplugged(struct xs_handle *h, void *ctx)
{
	const struct unplug_wait *u = ctx;

	return !ts_exists(h, u->fe, "state", NULL) || is_closed(h, u->fe) || (u->qdisk && is_closed(h, u->be));
}

/* backend/<kind>/<domid> goes with its last device, as xl leaves no empty directories behind. */
static void rm_backend(struct xs_handle *h, const char *be)
{
	char parent[192];
	unsigned int n = 0;
	char **left, *slash;

	xs_rm(h, XBT_NULL, be);
	snprintf(parent, sizeof(parent), "%s", be);
	slash = strrchr(parent, '/');
	if (!slash)
		return;
	*slash = '\0';
	left = xs_directory(h, XBT_NULL, parent, &n);
	if (left && n == 0)
		xs_rm(h, XBT_NULL, parent);
	free(left);
}

int vbd_remove(struct xs_handle *h, uint32_t domid, uint32_t devid, const char *kind, uint32_t backend_domid,
	       const char *shutdown)
{
	char fe[128], be[192], path[256];
	unsigned int len;
	char *b;
	int st, late = 0;
	bool qdisk;

	paths(domid, devid, kind, backend_domid, fe, sizeof(fe), be, sizeof(be));
	/* The frontend names its backend; trust that over our guess of the kind. */
	snprintf(path, sizeof(path), "%s/backend", fe);
	b = xs_read(h, XBT_NULL, path, &len);
	if (b && strlen(b) < sizeof(be))
		strcpy(be, b);
	free(b);
	qdisk = strstr(be, "/backend/qdisk/") != NULL;
	if (request_unplug(h, be, shutdown) < 0) {
		fprintf(stderr, "xensim-toolstack: cannot request the unplug of %s: %s\n", be, strerror(errno));
		return -1;
	}
	if (shutdown) {
		if (!ts_wait_until(h, be, NULL, shutdown_done, be, ts_timeout_ms)) {
			fprintf(stderr, "xensim-toolstack: no shutdown-done in %s in time; removing anyway\n", be);
			late = 1;
		}
	} else {
		struct unplug_wait u = { .fe = fe, .be = be, .qdisk = qdisk };
		if (!ts_wait_until(h, fe, be, unplugged, &u, ts_timeout_ms)) {
			fprintf(stderr, "xensim-toolstack: frontend %s did not close in time; removing anyway\n", fe);
			late = 1;
		}
	}
	/* qemu-dp leaves hotplug-status behind: xenopsd deletes it once the backend is Closed. */
	if (qdisk) {
		snprintf(path, sizeof(path), "%s/state", be);
		st = late ? -1 : ts_wait_state(h, path, 1u << XB_CLOSED, ts_timeout_ms);
		if (st == -1 && !late) {
			fprintf(stderr, "xensim-toolstack: backend %s did not close in time; removing anyway\n", be);
			late = 1;
		}
		if (st != -2) {
			snprintf(path, sizeof(path), "%s/hotplug-status", be);
			xs_rm(h, XBT_NULL, path);
		}
	}
	xs_rm(h, XBT_NULL, fe);
	rm_backend(h, be);
	return late;
}

int vbd_hard_remove(struct xs_handle *h, const char *fe)
{
	char path[256], be[192];
	unsigned int len;
	char *b;
	int st;

	snprintf(path, sizeof(path), "%s/backend", fe);
	b = xs_read(h, XBT_NULL, path, &len);
	if (!b || strlen(b) >= sizeof(be)) {
		free(b);
		xs_rm(h, XBT_NULL, fe);
		return 0;
	}
	strcpy(be, b);
	free(b);
	snprintf(path, sizeof(path), "%s/online", be);
	xs_write(h, XBT_NULL, path, "0", 1);
	xs_rm(h, XBT_NULL, fe);
	/* No Closing from us: the backend must notice its frontend vanished (as after a crash). */
	snprintf(path, sizeof(path), "%s/state", be);
	st = ts_wait_state(h, path, 1u << XB_CLOSED, ts_timeout_ms);
	rm_backend(h, be);
	if (st == -1) {
		fprintf(stderr, "xensim-toolstack: backend %s did not close in time; removed anyway\n", be);
		return 1;
	}
	return 0;
}
