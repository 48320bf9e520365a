/*
 * Adaptive polling for a queue's own thread: how long to keep polling an
 * idle ring before sleeping on its event channel. Polling saves the wake-up
 * (tens of µs) when the guest's next request or the engine's next completion
 * is close; it wastes a CPU when they are not, and it steals the CPU from the
 * guest and the kernel's I/O path when cores are scarce. So, in the manner of
 * KVM's halt polling:
 *  - a sleep that ended within poll_us (a poll would have caught the work)
 *    doubles the budget, up to poll_us;
 *  - a sleep longer than poll_us halves it;
 *  - a poll that lost its CPU (a gap between two passes, the thread having
 *    been preempted: something else wants this core) drops it to zero; it
 *    grows again from short sleeps.
 * Pure arithmetic, no clock of its own: the caller passes the times.
 */
#ifndef BACKEND_SPIN_H
#define BACKEND_SPIN_H

#include <stdbool.h>
#include <stdint.h>

/* A budget that grows from zero starts here. */
#define SPIN_GROW_START_NS 5000u
/* Two idle passes further apart than this: the thread was not running in between. */
#define SPIN_PREEMPT_GAP_NS 20000u

struct spin_policy {
	uint64_t max_ns;    /* poll_us */
	uint64_t budget_ns; /* how long the next idle spell polls before sleeping */
};

void spin_init(struct spin_policy *s, uint64_t max_ns);
/* While polling an idle queue: `gap_ns` since the previous pass. False: stop polling, sleep now. */
bool spin_keep_polling(struct spin_policy *s, uint64_t idle_for_ns, uint64_t gap_ns);
/* After a sleep of `slept_ns` that ended with work or a wake-up. */
void spin_after_sleep(struct spin_policy *s, uint64_t slept_ns);

#endif
