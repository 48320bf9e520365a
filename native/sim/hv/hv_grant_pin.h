/*
 * Acquiring a guest's grant entry as Xen does (private to the client library).
 *
 * The entry's first word (flags + domid) is read once and checked; the check
 * and the setting of GTF_reading (and GTF_writing) happen in one cmpxchg, so
 * a guest that revokes concurrently either sees the flag and backs off, or
 * wins and makes our check fail. Pins are counted per grant in the domain's
 * shared `active` table, so the flags are cleared only by the last of
 * concurrent users, in whichever process.
 */
#ifndef XENSIM_HV_GRANT_PIN_H
#define XENSIM_HV_GRANT_PIN_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/hv/hv.h"

/* flags and domid as one atomically accessed word, endian-neutral. */
union hv_grant_combo {
	uint32_t word;
	struct {
		uint16_t flags;
		domid_t domid;
	} f;
};

static inline uint32_t *hv_grant_word(grant_entry_v1_t *e)
{
	return (uint32_t *)(void *)e;
}

/* Checks a copy of an entry for access by `self`: GNTST_okay or the error. */
int16_t hv_grant_check(union hv_grant_combo c, uint16_t self, bool write);

/* Pins grant `gref` (< d->nr_grants) for `self`, for writing into the page if
 * `write`. On GNTST_okay stores the entry's frame (read once, unchecked) and
 * the caller must hv_grant_unpin() with the same `write`. */
int16_t hv_grant_pin(const struct hv_domain *d, uint16_t self, uint32_t gref, bool write, uint32_t *frame);
void hv_grant_unpin(const struct hv_domain *d, uint32_t gref, bool write);

#endif
