/* xensim-hv: the xenstored connection, opened lazily and reopened after a failure. */
#include "sim/hv/srv_xs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <xenstore.h>

/* xenstored (the real one and ours) refuses a store event channel of 0. The
 * simulated guest reaches xenstored through its own socket, so this port is
 * nominal: nothing binds it. No ring page either, hence mfn 0. */
#define STORE_EVTCHN 1
#define STORE_MFN 0

static const char *xs_path;
static struct xs_handle *xs;

void srv_xs_init(const char *path)
{
	xs_path = path;
}

void srv_xs_fini(void)
{
	if (xs)
		xs_close(xs);
	xs = NULL;
}

/* Lazily, so xenstored may start after us; libxenstore finds it through the environment. */
static struct xs_handle *handle(void)
{
	if (!xs) {
		if (setenv("XENSTORED_PATH", xs_path, 1) < 0)
			return NULL;
		xs = xs_open(XS_OPEN_SOCKETONLY);
	}
	return xs;
}

static int result(bool ok)
{
	int e = errno;

	if (ok)
		return 0;
	/* The daemon may have gone or restarted: start afresh next time. */
	srv_xs_fini();
	return -(e ? e : EIO);
}

int srv_xs_introduce(uint32_t domid)
{
	struct xs_handle *h;

	if (!xs_path)
		return 0;
	errno = 0;
	h = handle();
	if (!h)
		return result(false);
	return result(xs_introduce_domain(h, domid, STORE_MFN, STORE_EVTCHN));
}

int srv_xs_release(uint32_t domid)
{
	struct xs_handle *h;

	if (!xs_path)
		return 0;
	errno = 0;
	h = handle();
	if (!h)
		return result(false);
	return result(xs_release_domain(h, domid));
}
