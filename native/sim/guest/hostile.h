/*
 * Hostile frontend modes: each sends a bounded burst of malformed requests
 * (or abuses the ring itself), waits a bounded time, and reports what the
 * backend answered against what a correct backend must answer. Where the
 * device should survive, a valid read afterwards checks that it still works.
 */
#ifndef GUEST_HOSTILE_H
#define GUEST_HOSTILE_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/guest/blkfront.h"
#include "sim/guest/opts.h"

/* What a correct backend answers. */
enum hexpect { H_OK, H_ERROR, H_NOTSUPP, H_FAIL /* ERROR or EOPNOTSUPP */, H_NONE /* no answer at all */ };
const char *hexpect_name(enum hexpect e);

#define HOSTILE_MAX_CASES 48
#define HOSTILE_MAX_DETAILS 40

/* A named figure of a malicious mode, printed as a member of the summary's `hostile` object. */
struct hdetail {
	const char *key;
	double val;
	bool flag; /* printed as a boolean */
};

struct hcase {
	char name[48];
	enum hexpect expect;
	uint8_t op, rsp_op;  /* sent; expected back */
	int alt_rsp_op;      /* also tolerated back (-1: none): INDIRECT the backend may treat as unknown */
	bool answered;
	uint8_t rsp_got;     /* the operation the backend answered with */
	int16_t status;
	bool pass;
};

struct hostile_result {
	const char *mode;
	struct hcase cases[HOSTILE_MAX_CASES];
	unsigned ncases, sent, answered;
	uint64_t by_status[4]; /* okay, error, eopnotsupp, other */
	int sanity;            /* -1 not applicable, 0 failed, 1 the device still works */
	int other_queue;       /* ring-overflow with several queues: -1 n/a, 0/1 */
	uint64_t responses_after; /* ring-overflow / after-close: responses that should not exist */
	int backend_state_after;
	bool device_dropped;   /* ring-overflow: the backend left Connected (what it must do) */
	bool pass;
	char note[200];
	/* Malicious modes: their figures, and the hypervisor's refusals during the mode. */
	struct hdetail det[HOSTILE_MAX_DETAILS];
	unsigned ndet;
	bool audited;
	uint64_t refused[HV_REF_NR];
};

/* Adds (or replaces) a figure. */
void hostile_detail(struct hostile_result *r, const char *key, double val);
void hostile_flag(struct hostile_result *r, const char *key, bool val);

/* Runs `o->hostile` on the connected device. Returns 0 when the backend behaved, 1 when not, -1 on our failure. */
int hostile_run(struct bf_dev *d, const struct guest_opts *o, struct hostile_result *r);

#endif
