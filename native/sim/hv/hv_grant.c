/* Backend side of grants: copy and map, checked per segment as Xen checks. */
#include <errno.h>
#include <string.h>

#include "sim/hv/hv.h"
#include "sim/hv/hv_grant_pin.h"

static bool domain_alive(const struct hv_domain *d)
{
	return __atomic_load_n(&d->status->alive, __ATOMIC_ACQUIRE) != 0;
}

static int16_t copy_one(const struct hv_domain *d, uint16_t self, struct hv_copy_seg *s)
{
	uint32_t frame;
	int16_t st;

	if (!domain_alive(d))
		return GNTST_bad_domain;
	if (s->gref >= d->nr_grants)
		return GNTST_bad_gntref;
	if (s->len == 0 || (uint32_t)s->offset + s->len > HV_PAGE_SIZE || !s->local)
		return GNTST_bad_copy_arg;
	st = hv_grant_pin(d, self, s->gref, s->to_foreign, &frame);
	if (st != GNTST_okay)
		return st;
	if (frame >= d->nr_pages) {
		st = GNTST_bad_page;
	} else {
		uint8_t *page = d->memory + (size_t)frame * HV_PAGE_SIZE + s->offset;
		if (s->to_foreign)
			memcpy(page, s->local, s->len);
		else
			memcpy(s->local, page, s->len);
	}
	hv_grant_unpin(d, s->gref, s->to_foreign);
	return st;
}

int hv_grant_copy(const struct hv_domain *d, uint16_t self, struct hv_copy_seg *segs, unsigned count)
{
	if (!d || !d->status || (count && !segs)) {
		errno = EINVAL;
		return -1;
	}
	for (unsigned i = 0; i < count; i++)
		segs[i].status = copy_one(d, self, &segs[i]);
	return 0;
}

/* A map is a check only: without an unmap call there is nothing to pin for. */
void *hv_grant_map(const struct hv_domain *d, uint16_t self, uint32_t gref, bool writable, int16_t *status)
{
	union hv_grant_combo c;
	uint32_t frame;
	int16_t st;
	void *page = NULL;

	if (!d || !d->status)
		st = GNTST_general_error;
	else if (!domain_alive(d))
		st = GNTST_bad_domain;
	else if (gref >= d->nr_grants)
		st = GNTST_bad_gntref;
	else {
		c.word = __atomic_load_n(hv_grant_word(&d->grants[gref]), __ATOMIC_ACQUIRE);
		st = hv_grant_check(c, self, writable);
		if (st == GNTST_okay) {
			frame = __atomic_load_n(&d->grants[gref].frame, __ATOMIC_RELAXED);
			if (frame >= d->nr_pages)
				st = GNTST_bad_page;
			else
				page = d->memory + (size_t)frame * HV_PAGE_SIZE;
		}
	}
	if (status)
		*status = st;
	return page;
}
