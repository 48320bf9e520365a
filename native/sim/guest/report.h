/* The JSON summary xensim-guest prints at the end, and the error count that decides its exit status. */
#ifndef GUEST_REPORT_H
#define GUEST_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/guest/blkfront.h"
#include "sim/guest/hostile.h"
#include "sim/guest/opts.h"
#include "sim/guest/stats.h"
#include "sim/guest/verify.h"

#define REPORT_PHASES 4

struct report {
	const struct guest_opts *o;
	const struct bf_dev *d;
	bool connected;                /* the handshake reached Connected */
	char fatal[256];               /* why the run could not go on ("" if it could) */
	const struct run_stats *phase[REPORT_PHASES]; /* prefill, main, verify pass, after (NULL when not run) */
	const struct vmodel *vm;
	const struct hostile_result *hostile;
	int hostile_rc;                /* hostile_run's result */
	bool resize_checked, resize_ok;
	uint64_t resize_seen;
	double resize_waited_s;
	bool close_tried;
	bool closed_by_backend;         /* the backend (toolstack unplug) started it */
	int close_rc;
	int backend_state_final;
	uint32_t grants_left;          /* grants still held by the backend after release */
};

/* Errors by kind, summed; what the exit status is decided on. */
uint64_t report_errors(const struct report *r);
void report_print(FILE *f, const struct report *r);

#endif
