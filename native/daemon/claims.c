/*
 * Claim disks on the daemon's side: per-kind watches on CLAIM_ROOT shared by
 * every claim disk (one token, routed by path), looking again only for the
 * waiting disks whose domain an event touched, serving what is found as if
 * it had been given as `backend`, and going back to waiting when the
 * directory goes away (unplug, domain destroyed), so a later plug of the
 * same disk is claimed again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/vbd_ops.h"
#include "daemon/daemon.h"
#include "daemon/log.h"

static bool kind_wanted(struct daemon *d, const char *kind)
{
	for (struct vbd *v = d->vbds; v; v = v->next) {
		if (v->has_claim && strcmp(v->claim.kind, kind) == 0)
			return true;
	}
	return false;
}

static void watch_path(const char *kind, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", CLAIM_ROOT, kind);
}

int claims_sync_watches(struct daemon *d)
{
	char path[sizeof(CLAIM_ROOT) + CLAIM_KIND_MAX];
	for (struct claim_watch **p = &d->claim_watches; *p;) {
		struct claim_watch *w = *p;
		if (kind_wanted(d, w->kind)) {
			p = &w->next;
			continue;
		}
		watch_path(w->kind, path, sizeof(path));
		xs_unwatch(d->xb.xs, path, CLAIMS_TOKEN);
		*p = w->next;
		free(w);
	}
	int rc = 0;
	for (struct vbd *v = d->vbds; v; v = v->next) {
		if (!v->has_claim)
			continue;
		bool have = false;
		for (struct claim_watch *w = d->claim_watches; w && !have; w = w->next)
			have = strcmp(w->kind, v->claim.kind) == 0;
		if (have)
			continue;
		struct claim_watch *w = calloc(1, sizeof(*w));
		watch_path(v->claim.kind, path, sizeof(path));
		if (!w || !xs_watch(d->xb.xs, path, CLAIMS_TOKEN)) {
			log_error("cannot watch %s", path);
			free(w);
			rc = -1;
			continue;
		}
		snprintf(w->kind, sizeof(w->kind), "%s", v->claim.kind);
		w->next = d->claim_watches;
		d->claim_watches = w;
	}
	return rc;
}

void claims_note(struct daemon *d, const char *path)
{
	char kind[CLAIM_KIND_MAX];
	unsigned domid = 0;
	enum claim_route r = claim_route(path, kind, sizeof(kind), &domid);
	if (r == CLAIM_ROUTE_NONE)
		return;
	for (struct vbd *v = d->vbds; v; v = v->next) {
		if (v->has_claim && !v->backend[0] && strcmp(v->claim.kind, kind) == 0 &&
		    (r == CLAIM_ROUTE_KIND || v->claim.domid == domid))
			v->claim_pending = true;
	}
}

void claims_run(struct daemon *d)
{
	for (struct vbd *v = d->vbds; v; v = v->next) {
		if (v->claim_pending) {
			v->claim_pending = false;
			claims_try(d, v);
		}
	}
}

static bool taken(const char *backend, void *ctx)
{
	struct daemon *d = ctx;
	for (struct vbd *v = d->vbds; v; v = v->next) {
		if (strcmp(v->backend, backend) == 0)
			return true;
	}
	return false;
}

static void forget_backend(struct vbd *v)
{
	v->backend[0] = '\0';
	v->frontend[0] = '\0';
	v->frontend_id = 0;
	v->mode_readonly = false;
	v->state = XB_INITIALISING;
}

bool claims_try(struct daemon *d, struct vbd *v)
{
	char path[VBD_PATH_MAX];
	if (!v->has_claim || v->backend[0])
		return false;
	/* Each refusal marks its directory (hotplug-error), so the next search skips it; bounded all the same. */
	for (int tries = 0; tries < 16 && claim_find(d->xb.xs, &v->claim, taken, d, path, sizeof(path)) == 1; tries++) {
		char err[256];
		snprintf(v->backend, sizeof(v->backend), "%s", path);
		if (xenbus_attach(&d->xb, v, err, sizeof(err)) == 0) {
			log_info("%s: claimed %s (frontend domain %u, %s)", v->name, v->backend, v->frontend_id,
				 vbd_readonly(v) ? "read-only" : "read-write");
			daemon_reconcile(d, v);
			return v->backend[0] != '\0';
		}
		claim_refuse(d->xb.xs, path, err);
		forget_backend(v);
	}
	return false;
}

/* The claimed directory went away: stop serving it and wait for the next one. */
static void release(struct daemon *d, struct vbd *v)
{
	log_info("%s: released %s; waiting for a new one", v->name, v->backend);
	vbd_disconnect(v);
	xenbus_detach(&d->xb, v);
	forget_backend(v);
	v->claim_pending = true; /* it may be there already */
}

void daemon_reconcile(struct daemon *d, struct vbd *v)
{
	enum xenbus_outcome o = xenbus_reconcile(&d->xb, v);
	if (o == XB_KEEP)
		return;
	if (v->has_claim) {
		release(d, v);
		return;
	}
	if (o == XB_GONE) {
		v->gone = true; /* forgotten by the main loop */
		return;
	}
	/* An explicit backend directory written anew: serve the new one. */
	char err[256];
	xenbus_detach(&d->xb, v);
	if (xenbus_attach(&d->xb, v, err, sizeof(err)) != 0) {
		log_error("%s: %s", v->name, err);
		v->gone = true;
		return;
	}
	daemon_reconcile(d, v);
}
