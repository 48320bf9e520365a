/*
 * xensim-toolstack: what xl/xenopsd do for the simulator's tests.
 *
 *   xensim-toolstack [--xs PATH] [--hv PATH] [--timeout S] COMMAND ...
 *     create-domain N [--pages P] [--grants G]
 *     destroy-domain N
 *     add-vbd N DEVID [--kind qdisk|vbd|vbd3] [--backend-domid B] [--mode w|r] [--params STR]
 *             [--device-type disk|cdrom] [--protocol P] [--backend-key KEY=VALUE]... [--wait-hotplug]
 *     remove-vbd N DEVID [--kind K] [--backend-domid B] [--shutdown-request normal|force]
 *
 * XENSTORED_PATH names dom0's xenstored socket and XENSIM_HV_PATH the
 * hypervisor's, unless --xs/--hv override them. Exit 0 on success, 1 when
 * a bounded wait ran out (the operation was completed anyway), 2 on usage
 * errors, 5 when the backend refused the device (hotplug-error), other
 * values on failures.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/hv/hv.h"
#include "sim/toolstack/domain.h"
#include "sim/toolstack/vbd.h"
#include "sim/toolstack/xsutil.h"

#define DEFAULT_PAGES 16384u /* 64 MiB */
#define DEFAULT_GRANTS 8192u

static void usage(FILE *f)
{
	fprintf(f, "usage: xensim-toolstack [--xs PATH] [--hv PATH] [--timeout S] COMMAND ...\n"
		   "  create-domain N [--pages P] [--grants G]\n"
		   "  destroy-domain N\n"
		   "  add-vbd N DEVID [--kind qdisk|vbd|vbd3] [--backend-domid B] [--mode w|r] [--params STR]\n"
		   "          [--device-type disk|cdrom] [--protocol P] [--backend-key KEY=VALUE]... [--wait-hotplug]\n"
		   "      --wait-hotplug: then wait (--timeout) for the backend's hotplug-status=connected,\n"
		   "      as xenopsd does; exit 1 if it did not come, 5 on a hotplug-error\n"
		   "  remove-vbd N DEVID [--kind K] [--backend-domid B] [--shutdown-request normal|force]\n"
		   "      online=0 and Closing, wait for the frontend to close; or write shutdown-request and\n"
		   "      wait for shutdown-done; qdisk: hotplug-status deleted once the backend is Closed;\n"
		   "      then both directories removed (exit 1 if a wait ran out)\n");
}

static int num(const char *s, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

enum { C_PAGES = 256, C_GRANTS, C_KIND, C_BDOM, C_MODE, C_PARAMS, C_DTYPE, C_PROTO, C_BKEY, C_WAITHP, C_SHUTDOWN };

static const struct option cmd_opts[] = {
	{ "pages", required_argument, NULL, C_PAGES },
	{ "grants", required_argument, NULL, C_GRANTS },
	{ "kind", required_argument, NULL, C_KIND },
	{ "backend-domid", required_argument, NULL, C_BDOM },
	{ "mode", required_argument, NULL, C_MODE },
	{ "params", required_argument, NULL, C_PARAMS },
	{ "device-type", required_argument, NULL, C_DTYPE },
	{ "protocol", required_argument, NULL, C_PROTO },
	{ "backend-key", required_argument, NULL, C_BKEY },
	{ "wait-hotplug", no_argument, NULL, C_WAITHP },
	{ "shutdown-request", required_argument, NULL, C_SHUTDOWN },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	static const struct option glob_opts[] = {
		{ "xs", required_argument, NULL, 'x' },
		{ "hv", required_argument, NULL, 'v' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *hv_path = NULL, *cmd, *shutdown = NULL;
	bool wait_hotplug = false;
	struct vbd_spec vs = { .backend_domid = 0, .kind = "vbd", .mode = "w", .params = "",
			       .device_type = "disk" };
	uint32_t domid = 0, devid = 0, pages = DEFAULT_PAGES, grants = DEFAULT_GRANTS, t;
	struct xs_handle *h;
	struct hv_conn *hv = NULL;
	int c, rc;

	/* Global options stop at the command word. */
	while ((c = getopt_long(argc, argv, "+", glob_opts, NULL)) != -1) {
		switch (c) {
		case 'x': setenv("XENSTORED_PATH", optarg, 1); break;
		case 'v': hv_path = optarg; break;
		case 't':
			if (num(optarg, 86400, &t) < 0 || t == 0) {
				fprintf(stderr, "xensim-toolstack: --timeout: 1..86400 seconds\n");
				return 2;
			}
			ts_timeout_ms = (int)t * 1000;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 0;
	while ((c = getopt_long(argc, argv, "", cmd_opts, NULL)) != -1) {
		const char *a = optarg;
		switch (c) {
		case C_PAGES:
			if (num(a, HV_MAX_NR_PAGES, &pages) < 0 || !pages)
				goto bad;
			break;
		case C_GRANTS:
			if (num(a, HV_MAX_NR_GRANTS, &grants) < 0 || !grants)
				goto bad;
			break;
		case C_KIND:
			if (strcmp(a, "vbd") && strcmp(a, "vbd3") && strcmp(a, "qdisk"))
				goto bad;
			vs.kind = a;
			break;
		case C_BDOM:
			if (num(a, 0x7fef, &vs.backend_domid) < 0)
				goto bad;
			break;
		case C_MODE:
			if (strcmp(a, "w") && strcmp(a, "r"))
				goto bad;
			vs.mode = a;
			break;
		case C_PARAMS: vs.params = a; break;
		case C_DTYPE: vs.device_type = a; break;
		case C_PROTO: vs.protocol = a; break;
		case C_BKEY:
			if (vs.nextra >= sizeof(vs.extra) / sizeof(vs.extra[0]) || !strchr(a, '='))
				goto bad;
			vs.extra[vs.nextra++] = a;
			break;
		case C_WAITHP: wait_hotplug = true; break;
		case C_SHUTDOWN:
			if (strcmp(a, "normal") && strcmp(a, "force"))
				goto bad;
			shutdown = a;
			break;
		default:
			goto bad;
		}
	}
	/* Positional: N [DEVID]. */
	if (optind >= argc || num(argv[optind], 0x7fef, &domid) < 0 || domid == 0)
		goto bad;
	if (!strcmp(cmd, "add-vbd") || !strcmp(cmd, "remove-vbd")) {
		if (optind + 1 >= argc || num(argv[optind + 1], 0xffff, &devid) < 0)
			goto bad;
		optind++;
	}
	if (optind + 1 != argc)
		goto bad;
	if ((wait_hotplug && strcmp(cmd, "add-vbd")) || (shutdown && strcmp(cmd, "remove-vbd")))
		goto bad;

	h = ts_xs_open();
	if (!h) {
		fprintf(stderr, "xensim-toolstack: cannot connect to xenstored (XENSTORED_PATH=%s): %s\n",
			getenv("XENSTORED_PATH") ? getenv("XENSTORED_PATH") : "unset", strerror(errno));
		return 3;
	}
	if (!strcmp(cmd, "create-domain") || !strcmp(cmd, "destroy-domain")) {
		hv = hv_connect(hv_path);
		if (!hv) {
			fprintf(stderr, "xensim-toolstack: cannot reach the hypervisor: %s\n", strerror(errno));
			xs_close(h);
			return 3;
		}
	}
	if (!strcmp(cmd, "create-domain")) {
		rc = domain_create(hv, h, domid, pages, grants) < 0 ? 4 : 0;
	} else if (!strcmp(cmd, "destroy-domain")) {
		rc = domain_destroy(hv, h, domid);
		rc = rc < 0 ? 4 : rc;
	} else if (!strcmp(cmd, "add-vbd")) {
		vs.domid = domid;
		vs.devid = devid;
		rc = 0;
		if (vbd_add(h, &vs) < 0) {
			fprintf(stderr, "xensim-toolstack: add-vbd %u %u: %s\n", domid, devid, strerror(errno));
			rc = 4;
		} else if (wait_hotplug) {
			rc = vbd_wait_hotplug(h, &vs);
			rc = rc == -2 ? 5 : rc;
		}
	} else if (!strcmp(cmd, "remove-vbd")) {
		rc = vbd_remove(h, domid, devid, vs.kind, vs.backend_domid, shutdown);
		rc = rc < 0 ? 4 : rc;
	} else {
		fprintf(stderr, "xensim-toolstack: unknown command %s\n", cmd);
		rc = 2;
	}
	if (hv)
		hv_disconnect(hv);
	xs_close(h);
	return rc;

bad:
	fprintf(stderr, "xensim-toolstack: bad arguments for %s\n", cmd);
	usage(stderr);
	return 2;
}
