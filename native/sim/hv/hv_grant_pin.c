/* Pinning grant entries: Xen's _set_status_v1 and active-entry pin counts. */
#include "sim/hv/hv_grant_pin.h"

#include <sched.h>
#include <stddef.h>

_Static_assert(offsetof(grant_entry_v1_t, domid) == sizeof(uint16_t), "flags and domid share a word");

/* Layout of an active word: a lock bit, then all pins and write pins. */
#define ACT_LOCK 0x80000000u
#define ACT_PIN 1u
#define ACT_PIN_MASK 0x7fffu
#define ACT_WPIN (1u << 15)
#define ACT_WPIN_MASK (0x7fffu << 15)

/* A holder keeps the lock for a few instructions; one that never lets go
 * died there, and spinning forever would hang every later copy. */
#define LOCK_SPINS (1ul << 22)

/* As Xen: a guest rewriting its entry faster than we can cmpxchg it is misbehaving. */
#define CMPXCHG_RETRIES 5

static bool act_lock(uint32_t *a, uint32_t *val)
{
	for (unsigned long i = 0; i < LOCK_SPINS; i++) {
		uint32_t v = __atomic_load_n(a, __ATOMIC_RELAXED);
		if (!(v & ACT_LOCK) &&
		    __atomic_compare_exchange_n(a, &v, v | ACT_LOCK, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
			*val = v;
			return true;
		}
		if (i >= 64)
			sched_yield();
	}
	return false;
}

static void act_unlock(uint32_t *a, uint32_t val)
{
	__atomic_store_n(a, val & ~ACT_LOCK, __ATOMIC_RELEASE);
}

/* Release: our accesses to the page happen before the guest sees it unused. */
static void clear_flags(uint32_t *word, uint16_t flags)
{
	union hv_grant_combo keep = { .f = { .flags = (uint16_t)~flags, .domid = 0xffff } };
	__atomic_fetch_and(word, keep.word, __ATOMIC_RELEASE);
}

int16_t hv_grant_check(union hv_grant_combo c, uint16_t self, bool write)
{
	if ((c.f.flags & GTF_type_mask) != GTF_permit_access)
		return GNTST_bad_gntref;
	if (c.f.domid != self)
		return GNTST_permission_denied;
	if (write && (c.f.flags & GTF_readonly))
		return GNTST_permission_denied;
	return GNTST_okay;
}

int16_t hv_grant_pin(const struct hv_domain *d, uint16_t self, uint32_t gref, bool write, uint32_t *frame)
{
	grant_entry_v1_t *e = &d->grants[gref];
	uint32_t *word = hv_grant_word(e);
	uint32_t *act = &d->active[gref];
	union hv_grant_combo cur, want;
	int16_t st = GNTST_okay;
	uint32_t a;

	if (!act_lock(act, &a))
		return GNTST_general_error;
	if ((a & ACT_PIN_MASK) == ACT_PIN_MASK || (a & ACT_WPIN_MASK) == ACT_WPIN_MASK) {
		st = GNTST_no_space;
		goto out;
	}
	cur.word = __atomic_load_n(word, __ATOMIC_ACQUIRE);
	for (int tries = 0;; tries++) {
		st = hv_grant_check(cur, self, write);
		if (st != GNTST_okay)
			goto out;
		want = cur;
		want.f.flags |= GTF_reading | (write ? GTF_writing : 0);
		/* On failure `cur` is reloaded and checked again: never trust an old copy. */
		if (__atomic_compare_exchange_n(word, &cur.word, want.word, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			break;
		if (tries + 1 == CMPXCHG_RETRIES) {
			st = GNTST_general_error;
			goto out;
		}
	}
	a += ACT_PIN + (write ? ACT_WPIN : 0);
	*frame = __atomic_load_n(&e->frame, __ATOMIC_RELAXED);
out:
	act_unlock(act, a);
	return st;
}

void hv_grant_unpin(const struct hv_domain *d, uint32_t gref, bool write)
{
	uint32_t *word = hv_grant_word(&d->grants[gref]);
	uint32_t *act = &d->active[gref];
	uint32_t a;

	/* Stuck lock: leave the grant marked in use rather than clear it under someone. */
	if (!act_lock(act, &a))
		return;
	a -= ACT_PIN + (write ? ACT_WPIN : 0);
	if (write && !(a & ACT_WPIN_MASK))
		clear_flags(word, GTF_writing);
	if (!(a & ACT_PIN_MASK))
		clear_flags(word, GTF_reading);
	act_unlock(act, a);
}
