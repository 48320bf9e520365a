/*
 * A minimal backend for the guest's loopback tests: a thread in the test
 * that follows the xenbus protocol from the backend side, maps the rings
 * through the simulated hypervisor, decodes requests with the project's
 * blkif engine (blkif/) and serves them from an in-memory disk with grant
 * copies. Faults can be injected to check that the guest notices them.
 * It is no substitute for the real backend; it lets the guest's data path be
 * tested before that exists, and cross-checks two independent encodings of
 * the protocol against each other.
 */
#ifndef GUEST_TEST_BACKEND_H
#define GUEST_TEST_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#define TB_NEVER UINT64_MAX

struct tb_opts {
	uint32_t domid, devid;
	uint64_t sectors;
	unsigned max_order, max_queues, max_indirect;
	bool persistent, flush, barrier, discard, discard_secure, readonly;
	uint32_t discard_granularity;
	/* Faults. */
	uint64_t wrong_op_at;      /* the N-th response (1-based) carries a wrong operation; 0 never */
	uint64_t flip_lba;         /* reads of this sector come back with one bit flipped */
	uint64_t ignore_write_lba; /* writes to this sector are acknowledged and dropped */
	uint64_t misdirect_lba;    /* writes to this sector land 8 sectors (one 4k block) earlier */
};

struct tb_counts {
	uint64_t ops[256];
	uint64_t indirect, max_segs, secure_discards, flushes_with_data, responses, errors, overflow_stops;
	uint64_t per_queue[8];
	unsigned queues, order, connects;
	char protocol[16];
};

struct tb;
/* Writes the backend's features and InitWait, then serves until tb_stop. XENSTORED_PATH must be dom0's. */
struct tb *tb_start(const struct tb_opts *o);
void tb_stop(struct tb *b);
void tb_counts(struct tb *b, struct tb_counts *out);
/* The disk contents (sectors * 512 bytes); only touch while the guest is idle. */
uint8_t *tb_disk(struct tb *b);
struct tb_opts tb_defaults(uint32_t domid, uint32_t devid);
/* Changes the injected faults while running (TB_NEVER: none). */
void tb_set_faults(struct tb *b, uint64_t flip_lba, uint64_t ignore_write_lba, uint64_t misdirect_lba);

#endif
