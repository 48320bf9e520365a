/* Parsing and checking xensim-guest's command line. */
#include "sim/guest/opts.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const hostile_modes[] = { "bad-gref", "past-end", "bad-segment", "too-many-segments", "bad-indirect",
				      "ring-overflow", "after-close", "bad-op", "ro-write",
				      /* malicious.c */
				      "rewrite-in-flight", "flood", "ro-grant-read", "revoke-in-flight", "xenstore-flip",
				      NULL };

static const char *const rw_names[] = { "read", "write", "randread", "randwrite", "rw", "randrw" };

const char *rw_mode_name(enum rw_mode m)
{
	return rw_names[m];
}

int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: break;
	}
	/* Accept fio's spellings: 4k, 4kb, 4KiB. */
	if (shift && (strcasecmp(end, "ib") == 0 || strcasecmp(end, "b") == 0))
		end += strlen(end);
	if (*end)
		return -1;
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

void guest_opts_defaults(struct guest_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->devid = 51712; /* xvda */
	o->abi = "x86_64";
	o->rw = RW_READ;
	o->rwmixread = 50;
	o->bs = 4096;
	o->iodepth = 1;
	o->queues = 1;
	o->seed = 1;
	o->indirect_segs = 32; /* blkfront's max_indirect_segments default */
	o->persistent = true;  /* blkfront's feature_persistent default */
	o->timeout = 30;
	o->progress = -1;
}

void guest_usage(FILE *f)
{
	fprintf(f,
		"usage: xensim-guest --domid N [--devid D] [options]\n"
		"Plays Linux xen-blkfront for vbd D of domain N against its backend.\n"
		"Environment: XENSTORED_PATH (the domain's socket D/socket.dN), XENSIM_HV_PATH.\n"
		"  --xs PATH  --hv PATH         override the environment\n"
		"  --abi x86_64|x86_32          ring ABI, written as `protocol`\n"
		"  --rw read|write|randread|randwrite|rw|randrw  [--rwmixread P]\n"
		"  --bs SIZE  --iodepth N (per queue)  --queues N  --ring-order N\n"
		"  --runtime SECONDS | --ios N  (default: one pass over the region)\n"
		"  --size BYTES  --offset BYTES  --seed N\n"
		"  --discard-every N  --flush-every N (writes)  --fua-every N (writes)\n"
		"  --indirect-segs N (0: never indirect)  --persistent 0|1\n"
		"  --large-sector               write feature-large-sector-size=1: sectors in the backend's sector-size\n"
		"  --verify  [--verify-state FILE]\n"
		"  --close   --resize-wait SECTORS   --timeout SECONDS\n"
		"  --hostile bad-gref|past-end|bad-segment|too-many-segments|bad-indirect|\n"
		"            ring-overflow|after-close|bad-op|ro-write|\n"
		"            rewrite-in-flight|flood|ro-grant-read|revoke-in-flight|xenstore-flip\n"
		"            (malicious modes run for --runtime seconds, default 2)\n"
		"  --page-base P --pages N --gref-base G --grefs N   guest memory windows\n"
		"  --progress | --no-progress\n"
		"  --durable-state FILE [--after-offset BYTES --after-runtime S]   with --verify: after the job a\n"
		"            flush, then the model of what it made durable in FILE; then unverified writes elsewhere\n"
		"Prints a JSON summary on stdout; exits 0 only if there were no errors.\n");
}

enum {
	O_DOMID = 256, O_DEVID, O_XS, O_HV, O_ABI, O_RW, O_MIX, O_BS, O_DEPTH, O_QUEUES, O_ORDER, O_RUNTIME, O_IOS,
	O_SIZE, O_OFFSET, O_SEED, O_DISCARD, O_FLUSH, O_FUA, O_INDIRECT, O_PERSIST, O_VERIFY, O_VSTATE, O_CLOSE,
	O_RESIZE, O_HOSTILE, O_TIMEOUT, O_PBASE, O_PAGES, O_GBASE, O_GREFS, O_PROGRESS, O_NOPROGRESS, O_HELP,
	O_DURABLE, O_AFTER_OFFSET, O_AFTER_RUNTIME, O_LARGE_SECTOR,
};

static const struct option longopts[] = {
	{ "domid", required_argument, NULL, O_DOMID },
	{ "devid", required_argument, NULL, O_DEVID },
	{ "xs", required_argument, NULL, O_XS },
	{ "hv", required_argument, NULL, O_HV },
	{ "abi", required_argument, NULL, O_ABI },
	{ "rw", required_argument, NULL, O_RW },
	{ "rwmixread", required_argument, NULL, O_MIX },
	{ "bs", required_argument, NULL, O_BS },
	{ "iodepth", required_argument, NULL, O_DEPTH },
	{ "queues", required_argument, NULL, O_QUEUES },
	{ "ring-order", required_argument, NULL, O_ORDER },
	{ "runtime", required_argument, NULL, O_RUNTIME },
	{ "ios", required_argument, NULL, O_IOS },
	{ "size", required_argument, NULL, O_SIZE },
	{ "offset", required_argument, NULL, O_OFFSET },
	{ "seed", required_argument, NULL, O_SEED },
	{ "discard-every", required_argument, NULL, O_DISCARD },
	{ "flush-every", required_argument, NULL, O_FLUSH },
	{ "fua-every", required_argument, NULL, O_FUA },
	{ "indirect-segs", required_argument, NULL, O_INDIRECT },
	{ "persistent", required_argument, NULL, O_PERSIST },
	{ "verify", no_argument, NULL, O_VERIFY },
	{ "verify-state", required_argument, NULL, O_VSTATE },
	{ "close", no_argument, NULL, O_CLOSE },
	{ "resize-wait", required_argument, NULL, O_RESIZE },
	{ "hostile", required_argument, NULL, O_HOSTILE },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "page-base", required_argument, NULL, O_PBASE },
	{ "pages", required_argument, NULL, O_PAGES },
	{ "gref-base", required_argument, NULL, O_GBASE },
	{ "grefs", required_argument, NULL, O_GREFS },
	{ "progress", no_argument, NULL, O_PROGRESS },
	{ "no-progress", no_argument, NULL, O_NOPROGRESS },
	{ "help", no_argument, NULL, O_HELP },
	{ "durable-state", required_argument, NULL, O_DURABLE },
	{ "after-offset", required_argument, NULL, O_AFTER_OFFSET },
	{ "after-runtime", required_argument, NULL, O_AFTER_RUNTIME },
	{ "large-sector", no_argument, NULL, O_LARGE_SECTOR },
	{ NULL, 0, NULL, 0 },
};

static int bad(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return -1;
}

static int uint_arg(const char *s, uint64_t max, uint64_t *v)
{
	char *end;
	unsigned long long x;

	if (!*s || *s == '-')
		return -1;
	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || *end || x > max)
		return -1;
	*v = x;
	return 0;
}

static int seconds_arg(const char *s, double *v)
{
	char *end;
	double x;

	errno = 0;
	x = strtod(s, &end);
	if (errno || end == s || *end || !(x >= 0) || isinf(x))
		return -1;
	*v = x;
	return 0;
}

int guest_opts_parse(struct guest_opts *o, int argc, char **argv, char *err, size_t errlen)
{
	int c;

	guest_opts_defaults(o);
	optind = 0; /* GNU: full re-initialisation, so tests can parse repeatedly */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		const char *a = optarg;
		uint64_t v;

		switch (c) {
		case O_HELP: return 1;
		case O_XS: o->xs_path = a; continue;
		case O_HV: o->hv_path = a; continue;
		case O_VERIFY: o->verify = true; continue;
		case O_VSTATE: o->verify_state = a; continue;
		case O_CLOSE: o->close = true; continue;
		case O_LARGE_SECTOR: o->large_sector = true; continue;
		case O_PROGRESS: o->progress = 1; continue;
		case O_NOPROGRESS: o->progress = 0; continue;
		case O_DURABLE: o->durable_state = a; continue;
		case O_AFTER_OFFSET:
			if (parse_size(a, &o->after_offset) < 0 || o->after_offset % 512)
				return bad(err, errlen, "--after-offset: a multiple of 512, not '%s'", a);
			continue;
		case O_AFTER_RUNTIME:
			if (seconds_arg(a, &o->after_runtime) < 0)
				return bad(err, errlen, "--after-runtime: not a number of seconds: '%s'", a);
			continue;
		case O_ABI:
			if (strcmp(a, "x86_64") != 0 && strcmp(a, "x86_32") != 0)
				return bad(err, errlen, "--abi: x86_64 or x86_32, not '%s'", a);
			o->abi = a;
			continue;
		case O_RW: {
			int m = -1;
			for (int i = 0; i < 6; i++)
				if (strcmp(a, rw_names[i]) == 0)
					m = i;
			if (m < 0)
				return bad(err, errlen, "--rw: unknown mode '%s'", a);
			o->rw = (enum rw_mode)m;
			continue;
		}
		case O_HOSTILE: {
			bool ok = false;
			for (int i = 0; hostile_modes[i]; i++)
				ok |= strcmp(a, hostile_modes[i]) == 0;
			if (!ok)
				return bad(err, errlen, "--hostile: unknown mode '%s'", a);
			o->hostile = a;
			continue;
		}
		case O_RUNTIME:
			if (seconds_arg(a, &o->runtime) < 0)
				return bad(err, errlen, "--runtime: not a number of seconds: '%s'", a);
			continue;
		case O_TIMEOUT:
			if (seconds_arg(a, &o->timeout) < 0 || o->timeout <= 0 || o->timeout > 86400)
				return bad(err, errlen, "--timeout: between 0 and 86400 seconds, not '%s'", a);
			continue;
		case O_BS: case O_SIZE: case O_OFFSET:
			if (parse_size(a, &v) < 0)
				return bad(err, errlen, "--%s: not a size: '%s'",
					   c == O_BS ? "bs" : c == O_SIZE ? "size" : "offset", a);
			if (c == O_BS)
				o->bs = v;
			else if (c == O_SIZE)
				o->size = v;
			else
				o->offset = v;
			continue;
		case '?':
			return bad(err, errlen, "unknown option or missing argument: %s", argv[optind - 1]);
		default:
			break;
		}
		/* The rest are unsigned numbers. */
		if (uint_arg(a, UINT64_MAX, &v) < 0)
			return bad(err, errlen, "--%s: not an unsigned number: '%s'", longopts[c - O_DOMID].name, a);
		switch (c) {
		case O_DOMID:
			if (v == 0 || v >= 0x7ff0)
				return bad(err, errlen, "--domid: a guest domain id (1..32751), not %s", a);
			o->domid = (uint32_t)v;
			o->domid_set = true;
			break;
		case O_DEVID:
			if (v > 0xffff)
				return bad(err, errlen, "--devid: at most 65535 (the handle is 16 bits)");
			o->devid = (uint32_t)v;
			break;
		case O_MIX:
			if (v > 100)
				return bad(err, errlen, "--rwmixread: a percentage");
			o->rwmixread = (unsigned)v;
			break;
		case O_DEPTH:
			if (v < 1 || v > 4096)
				return bad(err, errlen, "--iodepth: 1..4096");
			o->iodepth = (unsigned)v;
			break;
		case O_QUEUES:
			if (v < 1 || v > 64)
				return bad(err, errlen, "--queues: 1..64");
			o->queues = (unsigned)v;
			break;
		case O_ORDER:
			if (v > 4)
				return bad(err, errlen, "--ring-order: 0..4 (XENBUS_MAX_RING_GRANT_ORDER)");
			o->ring_order = (unsigned)v;
			break;
		case O_IOS: o->ios = v; o->ios_set = true; break;
		case O_SEED: o->seed = v; break;
		case O_DISCARD: o->discard_every = (unsigned)(v > 0xffffffffu ? 0xffffffffu : v); break;
		case O_FLUSH: o->flush_every = (unsigned)(v > 0xffffffffu ? 0xffffffffu : v); break;
		case O_FUA: o->fua_every = (unsigned)(v > 0xffffffffu ? 0xffffffffu : v); break;
		case O_INDIRECT:
			if (v > 4096)
				return bad(err, errlen, "--indirect-segs: 0..4096 (8 pages of 512)");
			o->indirect_segs = (unsigned)v;
			break;
		case O_PERSIST:
			if (v > 1)
				return bad(err, errlen, "--persistent: 0 or 1");
			o->persistent = v == 1;
			break;
		case O_RESIZE: o->resize_wait = v; o->resize_wait_set = true; break;
		case O_PBASE: case O_PAGES: case O_GBASE: case O_GREFS:
			if (v > 0xffffffffu)
				return bad(err, errlen, "--%s: too large", longopts[c - O_DOMID].name);
			if (c == O_PBASE)
				o->page_base = (uint32_t)v;
			else if (c == O_PAGES)
				o->pages = (uint32_t)v;
			else if (c == O_GBASE)
				o->gref_base = (uint32_t)v;
			else
				o->grefs = (uint32_t)v;
			break;
		default:
			return bad(err, errlen, "internal: option %d", c);
		}
	}
	if (optind < argc)
		return bad(err, errlen, "unexpected argument: %s", argv[optind]);
	if (!o->domid_set)
		return bad(err, errlen, "--domid is required");
	if (o->bs == 0 || o->bs % 512)
		return bad(err, errlen, "--bs: a positive multiple of 512");
	if (o->bs > (64u << 20))
		return bad(err, errlen, "--bs: at most 64m");
	if (o->offset % 512 || o->size % 512)
		return bad(err, errlen, "--offset and --size: multiples of 512");
	if (o->verify_state && !o->verify)
		return bad(err, errlen, "--verify-state needs --verify");
	if (o->durable_state && (!o->verify || !rw_writes(o->rw)))
		return bad(err, errlen, "--durable-state needs --verify and a writing job");
	if ((o->after_runtime > 0) != (o->after_offset > 0) || (o->after_runtime > 0 && !o->durable_state))
		return bad(err, errlen, "--after-offset and --after-runtime go together, with --durable-state");
	return 0;
}
