/* Adaptive polling: the budget's arithmetic (spin.h). */
#include "backend/spin.h"

void spin_init(struct spin_policy *s, uint64_t max_ns)
{
	s->max_ns = max_ns;
	s->budget_ns = max_ns;
}

bool spin_keep_polling(struct spin_policy *s, uint64_t idle_for_ns, uint64_t gap_ns)
{
	if (gap_ns > SPIN_PREEMPT_GAP_NS) {
		s->budget_ns = 0; /* the core is wanted elsewhere */
		return false;
	}
	return idle_for_ns < s->budget_ns;
}

void spin_after_sleep(struct spin_policy *s, uint64_t slept_ns)
{
	if (slept_ns > s->max_ns) {
		s->budget_ns /= 2;
		return;
	}
	uint64_t grown = s->budget_ns ? s->budget_ns * 2 : SPIN_GROW_START_NS;
	s->budget_ns = grown < s->max_ns ? grown : s->max_ns;
}
