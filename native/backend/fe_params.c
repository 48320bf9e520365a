/* Parsing what the frontend and the toolstack wrote in xenstore (see fe_params.h). */
#include "backend/fe_params.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/bekeys.h"

bool fe_read_uint(const struct fe_source *src, const char *dir, const char *key, unsigned long max, unsigned long *out,
		  bool *present)
{
	char *s = src->get(src->ctx, dir, key);
	*present = s != NULL;
	if (!s)
		return false;
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	/* strtoul alone would take spaces, a sign and an empty string. */
	bool ok = s[0] >= '0' && s[0] <= '9' && *end == '\0' && errno == 0 && v <= max;
	free(s);
	if (ok)
		*out = v;
	return ok;
}

long fe_read_state(const struct fe_source *src, const char *dir)
{
	unsigned long v;
	bool present;
	if (fe_read_uint(src, dir, "state", 8, &v, &present))
		return (long)v;
	return present ? XB_UNKNOWN : -1;
}

int fe_read_backend(const struct fe_source *src, const char *backend, struct fe_backend *out, char *err,
		    size_t errlen)
{
	char *fe = src->get(src->ctx, backend, "frontend");
	unsigned long id = 0;
	bool present;
	if (!fe || fe[0] != '/' || strlen(fe) >= sizeof(out->frontend) ||
	    !fe_read_uint(src, backend, "frontend-id", 0x7FF0, &id, &present)) {
		snprintf(err, errlen, "%s has no valid frontend / frontend-id", backend);
		free(fe);
		return -1;
	}
	char *mode = src->get(src->ctx, backend, "mode");
	enum be_mode m = bekeys_mode(mode);
	if (m == BE_MODE_BAD)
		snprintf(err, errlen, "%s/mode must be r or w, not '%.32s'", backend, mode);
	free(mode);
	if (m == BE_MODE_BAD) {
		free(fe);
		return -1;
	}
	snprintf(out->frontend, sizeof(out->frontend), "%s", fe);
	free(fe);
	out->frontend_id = (uint16_t)id;
	out->readonly = m == BE_MODE_R;
	return 0;
}

int fe_read_transport(const struct fe_source *src, const char *frontend, const struct fe_limits *lim,
		      struct vbd_transport *t, char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	/* Our own arrays bound what we offer too: t has room for no more. */
	unsigned max_queues = lim->max_queues < VBD_MAX_QUEUES ? lim->max_queues : VBD_MAX_QUEUES;
	unsigned max_order = lim->max_ring_order < VBD_MAX_RING_ORDER ? lim->max_ring_order : VBD_MAX_RING_ORDER;
	unsigned long n = 1, order = 0;
	bool present;
	if ((!fe_read_uint(src, frontend, "multi-queue-num-queues", max_queues, &n, &present) && present) || n == 0 ||
	    n > max_queues) {
		snprintf(err, errlen, "bad multi-queue-num-queues");
		return -1;
	}
	if (!fe_read_uint(src, frontend, "ring-page-order", max_order, &order, &present) && present) {
		snprintf(err, errlen, "bad ring-page-order");
		return -1;
	}
	bool paged = present;
	t->nr_queues = (unsigned)n;
	t->ring_order = (unsigned)order;

	char *proto = src->get(src->ctx, frontend, "protocol");
	t->abi = blkif_abi_from_protocol(proto ? proto : "", proto != NULL);
	free(proto);
	if (!t->abi) {
		snprintf(err, errlen, "unknown protocol");
		return -1;
	}
	unsigned long pers = 0;
	t->persistent = fe_read_uint(src, frontend, "feature-persistent", 1, &pers, &present) && pers == 1;
	/* Anything but a clean 1 (absent, 0, garbage) keeps 512-byte units, the safe reading of blkif.h. */
	unsigned long large = 0;
	t->large_sector = fe_read_uint(src, frontend, "feature-large-sector-size", 1, &large, &present) && large == 1;

	for (unsigned q = 0; q < t->nr_queues; q++) {
		char dir[VBD_PATH_MAX + 32];
		if (t->nr_queues == 1)
			snprintf(dir, sizeof(dir), "%s", frontend);
		else
			snprintf(dir, sizeof(dir), "%s/queue-%u", frontend, q);
		unsigned long port;
		if (!fe_read_uint(src, dir, "event-channel", UINT32_MAX, &port, &present)) {
			snprintf(err, errlen, "missing or bad event-channel");
			return -1;
		}
		t->ports[q] = (uint32_t)port;
		for (unsigned i = 0; i < (1u << t->ring_order); i++) {
			char key[24];
			if (paged)
				snprintf(key, sizeof(key), "ring-ref%u", i);
			else
				snprintf(key, sizeof(key), "ring-ref");
			unsigned long ref;
			if (!fe_read_uint(src, dir, key, UINT32_MAX, &ref, &present)) {
				snprintf(err, errlen, "missing or bad ring-ref");
				return -1;
			}
			t->ring_refs[q][i] = (uint32_t)ref;
		}
	}
	return 0;
}
