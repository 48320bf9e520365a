/* Frontend side of grants: granting and revoking access, as Linux gnttab does. */
#include <errno.h>

#include "sim/hv/hv.h"
#include "sim/hv/hv_grant_pin.h"

int hv_grant_access(struct hv_domain *d, uint32_t gref, uint16_t to_domid, uint32_t frame, bool readonly)
{
	grant_entry_v1_t *e;

	if (!d || !d->grants || gref >= d->nr_grants) {
		errno = EINVAL;
		return -1;
	}
	e = &d->grants[gref];
	__atomic_store_n(&e->domid, to_domid, __ATOMIC_RELAXED);
	__atomic_store_n(&e->frame, frame, __ATOMIC_RELAXED);
	/* Release: the hypervisor that sees the flags sees domid and frame too. */
	__atomic_store_n(&e->flags, (uint16_t)(GTF_permit_access | (readonly ? GTF_readonly : 0)),
			 __ATOMIC_RELEASE);
	return 0;
}

int hv_grant_revoke(struct hv_domain *d, uint32_t gref)
{
	union hv_grant_combo cur, want;
	uint32_t *word;

	if (!d || !d->grants || gref >= d->nr_grants) {
		errno = EINVAL;
		return -1;
	}
	word = hv_grant_word(&d->grants[gref]);
	cur.word = __atomic_load_n(word, __ATOMIC_ACQUIRE);
	do {
		/* In use: the entry stays valid; the caller retries once the backend is done. */
		if (cur.f.flags & (GTF_reading | GTF_writing)) {
			errno = EBUSY;
			return -1;
		}
		want = cur;
		want.f.flags = 0;
	} while (!__atomic_compare_exchange_n(word, &cur.word, want.word, false, __ATOMIC_ACQ_REL,
					      __ATOMIC_ACQUIRE));
	return 0;
}
