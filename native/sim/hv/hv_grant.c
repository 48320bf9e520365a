/* Backend side of grants: copy and map, checked per segment as Xen checks. */
#include <errno.h>
#include <string.h>

#include "sim/hv/hv.h"
#include "sim/hv/hv_grant_pin.h"

static bool domain_alive(const struct hv_domain *d)
{
	return __atomic_load_n(&d->status->alive, __ATOMIC_ACQUIRE) != 0;
}

const char *hv_refusal_name(enum hv_refusal r)
{
	static const char *const n[HV_REF_NR] = { "not_granted", "other_domain", "readonly_write", "bad_range",
						  "dead_domain", "other" };
	return r < HV_REF_NR ? n[r] : "?";
}

#define AUDIT_ADD(d, field)                                                         \
	do {                                                                        \
		if ((d)->audit)                                                     \
			__atomic_fetch_add(&(d)->audit->field, 1, __ATOMIC_RELAXED); \
	} while (0)

/* Records a refusal by reason; the entry is re-read only to tell the two GNTST_permission_denied apart. */
static void audit_refusal(const struct hv_domain *d, uint16_t self, uint32_t gref, bool write, int16_t st)
{
	enum hv_refusal r = HV_REF_OTHER;

	if (!d->audit)
		return;
	if (st == GNTST_bad_domain)
		r = HV_REF_DEAD_DOMAIN;
	else if (st == GNTST_bad_gntref)
		r = HV_REF_NOT_GRANTED;
	else if (st == GNTST_bad_copy_arg || st == GNTST_bad_page)
		r = HV_REF_BAD_RANGE;
	else if (st == GNTST_permission_denied) {
		union hv_grant_combo c;
		c.word = __atomic_load_n(hv_grant_word(&d->grants[gref]), __ATOMIC_RELAXED);
		r = write && c.f.domid == self && (c.f.flags & GTF_readonly) ? HV_REF_READONLY : HV_REF_OTHER_DOMAIN;
	}
	__atomic_fetch_add(&d->audit->refused[r], 1, __ATOMIC_RELAXED);
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
	for (unsigned i = 0; i < count; i++) {
		segs[i].status = copy_one(d, self, &segs[i]);
		if (segs[i].status == GNTST_okay)
			AUDIT_ADD(d, copies);
		else
			audit_refusal(d, self, segs[i].gref, segs[i].to_foreign, segs[i].status);
	}
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
	if (d && d->status && st != GNTST_okay)
		audit_refusal(d, self, gref, writable, st);
	return page;
}

void *hv_grant_map_pinned(const struct hv_domain *d, uint16_t self, uint32_t gref, bool writable, int16_t *status)
{
	uint32_t frame = 0;
	int16_t st;
	void *page = NULL;

	if (!d || !d->status)
		st = GNTST_general_error;
	else if (!domain_alive(d))
		st = GNTST_bad_domain;
	else if (gref >= d->nr_grants)
		st = GNTST_bad_gntref;
	else {
		st = hv_grant_pin(d, self, gref, writable, &frame);
		if (st == GNTST_okay && frame >= d->nr_pages) {
			hv_grant_unpin(d, gref, writable);
			st = GNTST_bad_page;
		}
		if (st == GNTST_okay)
			page = d->memory + (size_t)frame * HV_PAGE_SIZE;
	}
	if (status)
		*status = st;
	if (d && d->status) {
		if (st == GNTST_okay) {
			AUDIT_ADD(d, maps);
			AUDIT_ADD(d, maps_held);
		} else {
			audit_refusal(d, self, gref, writable, st);
		}
	}
	return page;
}

void hv_grant_unmap(const struct hv_domain *d, uint32_t gref, bool writable)
{
	if (!d || !d->status || gref >= d->nr_grants)
		return;
	hv_grant_unpin(d, gref, writable);
	if (d->audit) {
		__atomic_fetch_add(&d->audit->unmaps, 1, __ATOMIC_RELAXED);
		__atomic_fetch_sub(&d->audit->maps_held, 1, __ATOMIC_RELAXED);
	}
}
