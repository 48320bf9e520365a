/* Log-linear latency histograms and per-operation counters. */
#include "sim/guest/stats.h"

#include <math.h>
#include <string.h>

const char *const st_kind_names[ST_NKINDS] = { "read", "write", "flush", "discard" };

unsigned hist_index(uint64_t v)
{
	unsigned msb;

	if (v < HIST_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	/* Keep the top 7 bits: the leading 1 picks the octave, the next 6 the sub-bucket. */
	return HIST_SUB + (msb - 6u) * HIST_SUB + (unsigned)((v >> (msb - 6u)) - HIST_SUB);
}

uint64_t hist_bucket_high(unsigned idx)
{
	unsigned oct, sub, shift;

	if (idx < HIST_SUB)
		return idx;
	oct = (idx - HIST_SUB) / HIST_SUB;
	sub = (idx - HIST_SUB) % HIST_SUB + HIST_SUB;
	shift = oct;
	if (oct == 57 && sub == 127)
		return UINT64_MAX;
	return (((uint64_t)sub + 1) << shift) - 1;
}

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

void hist_add(struct hist *h, uint64_t v)
{
	if (h->count == 0 || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->count++;
	h->sum += (double)v;
	h->b[hist_index(v)]++;
}

void hist_merge(struct hist *into, const struct hist *from)
{
	if (!from->count)
		return;
	if (into->count == 0 || from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
	into->count += from->count;
	into->sum += from->sum;
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		into->b[i] += from->b[i];
}

uint64_t hist_percentile(const struct hist *h, double p)
{
	uint64_t rank, seen = 0;

	if (h->count == 0)
		return 0;
	if (p <= 0)
		return h->min;
	rank = (uint64_t)ceil(p / 100.0 * (double)h->count - 1e-9);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			uint64_t v = hist_bucket_high(i);
			if (v > h->max)
				v = h->max;
			if (v < h->min)
				v = h->min;
			return v;
		}
	}
	return h->max;
}

double hist_mean(const struct hist *h)
{
	return h->count ? h->sum / (double)h->count : 0;
}

void run_stats_init(struct run_stats *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < ST_NKINDS; i++)
		hist_init(&s->k[i].lat);
}

void run_stats_add(struct run_stats *s, int kind, uint64_t bytes, int status, int aborted, uint64_t lat_ns)
{
	struct op_stats *o = &s->k[kind];

	o->ios++;
	if (aborted)
		o->aborted++;
	else if (status == 0)
		o->bytes += bytes;
	else if (status == -1)
		o->err_io++;
	else if (status == -2)
		o->err_eopnotsupp++;
	else
		o->err_other++;
	if (!aborted)
		hist_add(&o->lat, lat_ns);
}

uint64_t run_stats_ios(const struct run_stats *s)
{
	uint64_t n = 0;
	for (int i = 0; i < ST_NKINDS; i++)
		n += s->k[i].ios;
	return n;
}

uint64_t run_stats_errors(const struct run_stats *s)
{
	uint64_t n = 0; /* timeouts are counted among the aborted */
	for (int i = 0; i < ST_NKINDS; i++)
		n += s->k[i].err_io + s->k[i].err_eopnotsupp + s->k[i].err_other + s->k[i].aborted;
	return n;
}
