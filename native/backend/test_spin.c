/*
 * The adaptive polling budget (backend/spin.c): it polls for poll_us at
 * first, halves after long sleeps, doubles back after short ones, drops to
 * zero when a poll loses its CPU, and poll_us 0 never polls.
 */
#include "backend/spin.h"
#include "testing/check.h"

#define US 1000u

static void test_long_sleeps_halve_short_ones_double(void)
{
	struct spin_policy s;
	spin_init(&s, 50 * US);
	CHECK(s.budget_ns == 50 * US);
	CHECK(spin_keep_polling(&s, 10 * US, 1 * US));
	CHECK(!spin_keep_polling(&s, 50 * US, 1 * US));
	spin_after_sleep(&s, 2000 * US); /* nothing came for 2 ms: the poll was wasted */
	CHECK(s.budget_ns == 25 * US);
	spin_after_sleep(&s, 2000 * US);
	spin_after_sleep(&s, 2000 * US);
	CHECK(s.budget_ns == 6250);
	spin_after_sleep(&s, 30 * US); /* work came soon after sleeping: a longer poll would have caught it */
	CHECK(s.budget_ns == 12500);
	spin_after_sleep(&s, 30 * US);
	spin_after_sleep(&s, 30 * US);
	CHECK(s.budget_ns == 50 * US); /* never past poll_us */
	spin_after_sleep(&s, 50 * US);
	CHECK(s.budget_ns == 50 * US);
	for (int i = 0; i < 70; i++)
		spin_after_sleep(&s, 1000 * 1000 * US);
	CHECK(s.budget_ns == 0);
	CHECK(!spin_keep_polling(&s, 0, 0));
	spin_after_sleep(&s, 3 * US); /* from zero it starts again small */
	CHECK(s.budget_ns == SPIN_GROW_START_NS);
}

static void test_preempted_poll_stops(void)
{
	struct spin_policy s;
	spin_init(&s, 50 * US);
	CHECK(spin_keep_polling(&s, 5 * US, SPIN_PREEMPT_GAP_NS));
	CHECK(s.budget_ns == 50 * US);
	CHECK(!spin_keep_polling(&s, 5 * US, SPIN_PREEMPT_GAP_NS + 1)); /* the thread lost its CPU */
	CHECK(s.budget_ns == 0);
	CHECK(!spin_keep_polling(&s, 0, 0));
	spin_after_sleep(&s, 10 * US);
	CHECK(s.budget_ns == SPIN_GROW_START_NS);
	CHECK(spin_keep_polling(&s, 4 * US, 1 * US));
	CHECK(!spin_keep_polling(&s, 5 * US, 1 * US));
}

static void test_no_polling(void)
{
	struct spin_policy s;
	spin_init(&s, 0);
	CHECK(!spin_keep_polling(&s, 0, 0));
	spin_after_sleep(&s, 0);
	spin_after_sleep(&s, 1 * US);
	CHECK(s.budget_ns == 0);
	CHECK(!spin_keep_polling(&s, 0, 0));
}

int main(void)
{
	test_long_sleeps_halve_short_ones_double();
	test_preempted_poll_stops();
	test_no_polling();
	return check_report("test_spin");
}
