/* Command line of xensim-guest (fio-like workload options plus the frontend's knobs). */
#ifndef GUEST_OPTS_H
#define GUEST_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum rw_mode { RW_READ, RW_WRITE, RW_RANDREAD, RW_RANDWRITE, RW_RW, RW_RANDRW };

struct guest_opts {
	uint32_t domid, devid;
	bool domid_set;
	const char *xs_path, *hv_path;
	const char *abi;
	enum rw_mode rw;
	unsigned rwmixread;
	uint64_t bs;
	unsigned iodepth, queues, ring_order;
	double runtime;        /* seconds, 0 = not time-limited */
	uint64_t ios;          /* I/O count when ios_set */
	bool ios_set;
	uint64_t size, offset; /* bytes; size 0 = to the end of the disk */
	uint64_t seed;
	unsigned discard_every, flush_every, fua_every;
	unsigned indirect_segs;
	bool persistent;
	bool large_sector; /* feature-large-sector-size=1 */
	bool verify;
	const char *verify_state;
	bool close;
	uint64_t resize_wait;
	bool resize_wait_set;
	const char *hostile;
	double timeout;        /* seconds for every bounded wait */
	uint32_t page_base, pages, gref_base, grefs;
	int progress;          /* -1 auto (stderr is a terminal), 0 off, 1 on */
	const char *durable_state; /* after the main phase: flush, then save the model here (durable.h) */
	uint64_t after_offset;     /* then write elsewhere for after_runtime seconds (a region of --size) */
	double after_runtime;
};

extern const char *const hostile_modes[];
const char *rw_mode_name(enum rw_mode m);
static inline bool rw_is_random(enum rw_mode m)
{
	return m == RW_RANDREAD || m == RW_RANDWRITE || m == RW_RANDRW;
}
static inline bool rw_writes(enum rw_mode m)
{
	return m != RW_READ && m != RW_RANDREAD;
}
static inline bool rw_reads(enum rw_mode m)
{
	return m != RW_WRITE && m != RW_RANDWRITE;
}

/* "4k", "1m", "512", "2g", "1KiB": binary multiples. 0 or -1 if malformed. */
int parse_size(const char *s, uint64_t *out);
void guest_opts_defaults(struct guest_opts *o);
/* 0 to run, 1 if --help was printed, -1 with a message in `err`. */
int guest_opts_parse(struct guest_opts *o, int argc, char **argv, char *err, size_t errlen);
void guest_usage(FILE *f);

#endif
