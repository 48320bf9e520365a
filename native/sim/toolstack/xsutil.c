/* Xenstore helpers for the simulated toolstack. */
#include "sim/toolstack/xsutil.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int ts_timeout_ms = 30000;

struct xs_handle *ts_xs_open(void)
{
	return xs_open(XS_OPEN_SOCKETONLY);
}

bool ts_write(struct xs_handle *h, xs_transaction_t t, const char *dir, const char *key, const char *value,
	      struct xs_permissions *perms, unsigned nperms)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	if (!xs_write(h, t, path, value, (unsigned)strlen(value)))
		return false;
	return !perms || xs_set_permissions(h, t, path, perms, nperms);
}

long long ts_read_num(struct xs_handle *h, const char *path)
{
	unsigned int len;
	char *v = xs_read(h, XBT_NULL, path, &len), *end;
	long long n;

	if (!v)
		return -1;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || end == v || *end || n < 0)
		n = -1;
	free(v);
	return n;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int ts_wait_state(struct xs_handle *h, const char *path, unsigned mask, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	bool watching = xs_watch(h, path, "ts-wait");
	int rc = -1;

	for (;;) {
		unsigned int len;
		char *v = xs_read(h, XBT_NULL, path, &len), **vec;
		struct pollfd pfd;
		uint64_t now;

		if (!v) {
			rc = -2;
			break;
		}
		{
			char *end;
			long s = strtol(v, &end, 10);
			bool match = end != v && *end == '\0' && s >= 0 && s < 32 && (mask & (1u << s));
			free(v);
			if (match) {
				rc = (int)s;
				break;
			}
		}
		now = now_ms();
		if (now >= deadline)
			break;
		pfd.fd = xs_fileno(h);
		pfd.events = POLLIN;
		/* Re-read at least every 100 ms even without a watch event. */
		poll(&pfd, 1, (int)(deadline - now < 100 ? deadline - now : 100));
		while ((vec = xs_check_watch(h)) != NULL)
			free(vec);
	}
	if (watching)
		xs_unwatch(h, path, "ts-wait");
	return rc;
}

int ts_wait_until(struct xs_handle *h, const char *watch, const char *watch2,
		  int (*check)(struct xs_handle *h, void *ctx), void *ctx, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	bool watching = xs_watch(h, watch, "ts-until");
	bool watching2 = watch2 && xs_watch(h, watch2, "ts-until");
	int rc;

	for (;;) {
		struct pollfd pfd = { .fd = xs_fileno(h), .events = POLLIN };
		char **vec;
		uint64_t now;

		rc = check(h, ctx);
		if (rc)
			break;
		now = now_ms();
		if (now >= deadline)
			break;
		poll(&pfd, 1, (int)(deadline - now < 100 ? deadline - now : 100));
		while ((vec = xs_check_watch(h)) != NULL)
			free(vec);
	}
	if (watching)
		xs_unwatch(h, watch, "ts-until");
	if (watching2)
		xs_unwatch(h, watch2, "ts-until");
	return rc;
}

bool ts_exists(struct xs_handle *h, const char *dir, const char *key, char **value)
{
	char path[512];
	unsigned int len;
	char *v;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	v = xs_read(h, XBT_NULL, path, &len);
	if (value)
		*value = v;
	else
		free(v);
	return v != NULL;
}

void ts_dev_name(uint32_t devid, char *buf, unsigned len)
{
	unsigned disk;

	if ((devid >> 8) == 202) {
		disk = (devid >> 4) & 0xf;
		snprintf(buf, len, "xvd%c", 'a' + disk);
	} else if (devid & (1u << 28)) {
		disk = (devid >> 8) & 0xfffff;
		if (disk < 26)
			snprintf(buf, len, "xvd%c", 'a' + disk);
		else
			snprintf(buf, len, "xvd%c%c", 'a' + disk / 26 - 1, 'a' + disk % 26);
	} else {
		snprintf(buf, len, "xvd?");
	}
}
