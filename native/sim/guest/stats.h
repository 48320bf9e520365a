/*
 * Counters and latency histograms. Latencies go into a log-linear histogram
 * (exact below 64 ns, then 64 buckets per power of two, so any reported
 * percentile is within 1/64 of the true sample) that needs no memory per
 * sample however long the run.
 */
#ifndef GUEST_STATS_H
#define GUEST_STATS_H

#include <stdint.h>

#define HIST_SUB 64u
#define HIST_BUCKETS (HIST_SUB + 58u * HIST_SUB)

struct hist {
	uint64_t count, min, max;
	double sum;
	uint64_t b[HIST_BUCKETS];
};

void hist_init(struct hist *h);
void hist_add(struct hist *h, uint64_t v);
void hist_merge(struct hist *into, const struct hist *from);
/*
 * The p-th percentile (0 < p <= 100) by nearest rank: the smallest recorded
 * value v with at least ceil(p/100 * count) samples <= v, given as the top of
 * its bucket clamped to [min, max]. 0 when empty.
 */
uint64_t hist_percentile(const struct hist *h, double p);
double hist_mean(const struct hist *h);
/* Bucket arithmetic, exposed for tests. */
unsigned hist_index(uint64_t v);
uint64_t hist_bucket_high(unsigned idx);

/* Per kind of operation. */
struct op_stats {
	uint64_t ios, bytes;
	uint64_t err_io, err_eopnotsupp, err_other, aborted;
	struct hist lat; /* ns, successful and failed alike */
};

enum { ST_READ, ST_WRITE, ST_FLUSH, ST_DISCARD, ST_NKINDS };
extern const char *const st_kind_names[ST_NKINDS];

struct run_stats {
	struct op_stats k[ST_NKINDS];
	uint64_t start_ns, end_ns;
	uint64_t timeouts;       /* I/Os still unanswered when we gave up (also counted as aborted) */
	uint64_t flushes_dropped; /* flushes completed locally after the backend withdrew them */
	uint64_t discards_skipped;
};

void run_stats_init(struct run_stats *s);
/* Records one completed I/O of `kind`: bytes moved, status, latency. */
void run_stats_add(struct run_stats *s, int kind, uint64_t bytes, int status, int aborted, uint64_t lat_ns);
uint64_t run_stats_ios(const struct run_stats *s);
uint64_t run_stats_errors(const struct run_stats *s);

#endif
