/*
 * Fault injection, in the manner of SPDK's error bdev: a layer that wraps any
 * engine and fails chosen I/Os with a chosen errno instead of passing them
 * on. Only a daemon started with --allow-fault-injection wraps its engines;
 * the rules are set from the control path and read by the workers without
 * locks (engine/faults.c).
 */
#ifndef ENGINE_FAULTS_H
#define ENGINE_FAULTS_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/engine.h"

enum {
	FAULT_READ = 1u << ENG_READ,
	FAULT_WRITE = 1u << ENG_WRITE,
	FAULT_FLUSH = 1u << ENG_FLUSH,
	FAULT_DISCARD = 1u << ENG_DISCARD,
	FAULT_ALL = FAULT_READ | FAULT_WRITE | FAULT_FLUSH | FAULT_DISCARD,
};

#define FAULT_MAX_RULES 16
#define FAULT_NO_END UINT64_MAX

struct fault_rule_spec {
	unsigned ops;         /* FAULT_* mask */
	uint64_t sector_from; /* an I/O touching [sector_from, sector_to) matches; a flush only a rule without range */
	uint64_t sector_to;   /* FAULT_NO_END: to the end of the disk */
	int64_t count;        /* fail this many matching I/Os, then no more; -1: every one */
	int err;              /* positive errno the I/O completes with */
};

/* What a rule has done so far (for disk_inject_error's answer). */
struct fault_rule_state {
	struct fault_rule_spec spec;
	int64_t left; /* -1: unlimited */
	uint64_t hits;
};

/* Wraps `inner`, which the wrapper then owns (closing it closes both). NULL when out of memory. */
struct engine *engine_faults_wrap(struct engine *inner);
/* Whether `e` is a fault-injection wrapper. */
bool engine_is_faults(const struct engine *e);
/* Adds a rule (control path only); -1 when FAULT_MAX_RULES are active. */
int engine_faults_add(struct engine *e, const struct fault_rule_spec *spec);
/* Removes every rule (control path only). */
void engine_faults_clear(struct engine *e);
/* The active rules, up to `max`; returns how many. */
unsigned engine_faults_rules(struct engine *e, struct fault_rule_state *out, unsigned max);
/* I/Os failed by injection since the disk was added. */
uint64_t engine_faults_injected(const struct engine *e);

#endif
