/*
 * The persistent-grant cache (backend/pgrant.c) over a fake platform: a gref
 * is mapped once and then found, the cache stops at its capacity, a mapping
 * Xen refuses is remembered (grant copy from then on), the process-wide
 * budget (half of vm.max_map_count) is shared by all caches and given back at
 * destroy, and every mapping is unmapped exactly once.
 */
#include <stdint.h>
#include <string.h>

#include "backend/pgrant.h"
#include "testing/check.h"

static uint8_t pages[64][4096];
static unsigned maps, unmaps;
static uint32_t refuse = UINT32_MAX; /* the gref Xen refuses to map */

static void *fake_map(struct gnt *g, unsigned count, const uint32_t *refs, bool writable)
{
	(void)g;
	if (count != 1 || !writable || refs[0] == refuse || refs[0] >= 64)
		return NULL;
	maps++;
	return pages[refs[0]];
}

static void fake_unmap(struct gnt *g, void *addr, unsigned count)
{
	(void)g;
	(void)addr;
	unmaps += count;
}

static const struct platform_ops fake_ops = { .name = "fake", .gnt_map = fake_map, .gnt_unmap = fake_unmap };
static struct platform fake_platform = { .ops = &fake_ops };
static struct gnt fake_gnt = { .platform = &fake_platform };

static void test_capacity_and_refusals(void)
{
	pgrant_set_process_limit(1000);
	struct pgrant_cache *c = pgrant_create(4);
	CHECK(c != NULL);
	CHECK(pgrant_get(c, &fake_gnt, 1) == pages[1]);
	CHECK(pgrant_get(c, &fake_gnt, 1) == pages[1]); /* found, not mapped again */
	CHECK(maps == 1);
	refuse = 2;
	CHECK(pgrant_get(c, &fake_gnt, 2) == NULL); /* refused: remembered */
	refuse = UINT32_MAX;
	CHECK(pgrant_get(c, &fake_gnt, 2) == NULL);
	CHECK(maps == 1);
	CHECK(pgrant_get(c, &fake_gnt, 3) == pages[3]);
	CHECK(pgrant_get(c, &fake_gnt, 4) == pages[4]);
	CHECK(pgrant_count(c) == 4);
	CHECK(pgrant_get(c, &fake_gnt, 5) == NULL); /* full */
	CHECK(pgrant_get(c, &fake_gnt, 4) == pages[4]);
	CHECK(pgrant_process_left() == 1000 - 3); /* the refused one took nothing */
	pgrant_destroy(c, &fake_gnt);
	CHECK(unmaps == 3);
	CHECK(pgrant_process_left() == 1000);
}

static void test_process_budget_shared(void)
{
	maps = unmaps = 0;
	pgrant_set_process_limit(3);
	struct pgrant_cache *a = pgrant_create(100), *b = pgrant_create(100);
	CHECK(pgrant_get(a, &fake_gnt, 10) == pages[10]);
	CHECK(pgrant_get(a, &fake_gnt, 11) == pages[11]);
	CHECK(pgrant_get(b, &fake_gnt, 12) == pages[12]);
	CHECK(pgrant_get(b, &fake_gnt, 13) == NULL); /* the process has none left */
	CHECK(pgrant_get(a, &fake_gnt, 14) == NULL);
	CHECK(pgrant_process_left() == 0);
	CHECK(maps == 3);
	pgrant_destroy(a, &fake_gnt);
	CHECK(pgrant_process_left() == 2);
	/* Freed budget serves grefs not seen before; those refused stay grant-copied. */
	CHECK(pgrant_get(b, &fake_gnt, 15) == pages[15]);
	CHECK(pgrant_get(b, &fake_gnt, 13) == NULL);
	pgrant_destroy(b, &fake_gnt);
	CHECK(unmaps == 4);
	CHECK(pgrant_process_left() == 3);
	pgrant_destroy(NULL, &fake_gnt);
}

int main(void)
{
	test_capacity_and_refusals();
	test_process_budget_shared();
	return check_report("test_pgrant");
}
