/*
 * The simulated hypervisor: what Xen gives a backend and a frontend, played
 * by one process (xensim-hv) and a client library.
 *
 * - A domain's memory is a memfd of nr_pages 4 KiB pages; its grant table is
 *   a memfd of nr_grants version-1 entries (struct grant_entry_v1 from
 *   <xen/grant_table.h>: flags, domid, frame), frame = page index in the
 *   memory memfd. A third memfd, the status page, holds `struct hv_status`.
 *   Any process may map a domain (hv_domain_map), as dom0 maps foreign pages.
 * - An event channel is a pair of eventfds, one per direction. Allocating an
 *   unbound port creates both; binding to it gives the binder the same pair,
 *   swapped. Notifying = writing 1 to the peer's eventfd; pending = reading
 *   one's own. Closing a port tells nobody (as in Xen, the peer just stops
 *   receiving events).
 * - Domain creation/destruction also introduces/releases the domain in the
 *   simulated xenstored (so @introduceDomain/@releaseDomain fire), and
 *   destruction clears `alive` in the status page, after which grant copies
 *   and maps against that domain fail with GNTST_bad_domain.
 *
 * The server listens on a SOCK_SEQPACKET Unix socket; XENSIM_HV_PATH names it.
 * File descriptors travel with SCM_RIGHTS.
 */
#ifndef XENSIM_HV_H
#define XENSIM_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/grant_table.h>

#define HV_PAGE_SIZE 4096u
/* Largest domain the server accepts (as Xen caps a domain's grant frames). */
#define HV_MAX_NR_PAGES (1u << 20)
#define HV_MAX_NR_GRANTS (1u << 16)

/*
 * What the hypervisor refused the backend (any process doing grant copies or
 * maps against this domain), by reason: a test asks the guest for it to show
 * the backend never reached for something it was not given. It sits in the
 * page after the active table, shared like it.
 */
enum hv_refusal {
	HV_REF_NOT_GRANTED,   /* no GTF_permit_access entry, or a ref past the table */
	HV_REF_OTHER_DOMAIN,  /* granted, but to another domain */
	HV_REF_READONLY,      /* a write (copy into, writable map) through a read-only grant */
	HV_REF_BAD_RANGE,     /* offset/length outside the page, or a frame outside the domain */
	HV_REF_DEAD_DOMAIN,   /* the domain is destroyed */
	HV_REF_OTHER,         /* busy entry, pin overflow */
	HV_REF_NR
};
struct hv_audit {
	uint64_t refused[HV_REF_NR];
	uint64_t copies, maps, unmaps; /* accesses granted */
	uint64_t maps_held;            /* pinned maps not yet unmapped */
};
const char *hv_refusal_name(enum hv_refusal r);

/* Size of the active memfd: one pin word per grant, rounded to pages, then the audit page. */
static inline size_t hv_active_bytes(uint32_t nr_grants)
{
	size_t n = (size_t)nr_grants * sizeof(uint32_t);
	return (n + HV_PAGE_SIZE - 1) / HV_PAGE_SIZE * HV_PAGE_SIZE + HV_PAGE_SIZE;
}

struct hv_status {
	uint32_t alive; /* 1 while the domain exists; 0 once destroyed */
	uint32_t domid;
	uint32_t nr_pages;
	uint32_t nr_grants;
};

/* A domain mapped into this process. */
struct hv_domain {
	uint32_t domid;
	uint32_t nr_pages;
	uint32_t nr_grants;
	uint8_t *memory;                 /* nr_pages * HV_PAGE_SIZE bytes, shared */
	grant_entry_v1_t *grants;        /* nr_grants entries, shared */
	volatile struct hv_status *status; /* read-only */
	/* Hypervisor-private per-grant pin counts (Xen's active entries), shared
	 * by every process that maps the domain so GTF_reading/GTF_writing are
	 * cleared only when the last concurrent copy of a grant finishes. */
	uint32_t *active;
	struct hv_audit *audit;          /* after the active table */
};

struct hv_conn;

/* Connects to the server at `path` (NULL: $XENSIM_HV_PATH). NULL + errno on failure. */
struct hv_conn *hv_connect(const char *path);
void hv_disconnect(struct hv_conn *hv);

/*
 * Errors (-1 + errno) of the calls below that talk to the server: ESRCH no
 * such domain; ECONNRESET the server is gone; EPROTO a malformed answer.
 */

/* Toolstack: create a domain with fresh zeroed memory and grant table, and introduce it to xenstored.
 * EEXIST (dom0 always exists), EINVAL (domid >= DOMID_FIRST_RESERVED, 0 or too many pages/grants),
 * or xenstored's errno (the domain is then not created). */
int hv_domain_create(struct hv_conn *hv, uint32_t domid, uint32_t nr_pages, uint32_t nr_grants);
/* Toolstack: destroy it (alive = 0, release it in xenstored). Mappings others hold stay valid memory.
 * Its event channel ports are closed. EPERM for dom0. */
int hv_domain_destroy(struct hv_conn *hv, uint32_t domid);
/* Any process: map a domain's memory, grant table and status page (and active table).
 * ENODEV for dom0, which has no simulated memory. */
int hv_domain_map(struct hv_conn *hv, uint32_t domid, struct hv_domain *out);
void hv_domain_unmap(struct hv_domain *d);

/* An event channel end as a process holds it. */
struct hv_evtchn {
	uint32_t local_port;
	int fd_in;  /* readable when the peer notified us (eventfd: read 8 bytes to clear) */
	int fd_out; /* write 1 (8 bytes) to notify the peer */
};

/*
 * Ports are numbered from 1. A port belongs to the hv_conn that opened it and
 * is closed when that connection goes (as libxenevtchn's ports are when a
 * process exits). As in Xen, once one end of an interdomain channel is
 * closed the other end is unbound again and its remote domain may re-bind.
 */
/* Frontend: allocate a port of `domid` that `remote_domid` (DOMID_SELF: domid) may bind to.
 * ENOSPC past 4095 ports in a domain. */
int hv_evtchn_alloc_unbound(struct hv_conn *hv, uint32_t domid, uint32_t remote_domid, struct hv_evtchn *out);
/* Backend (domain `domid`): bind to `remote_port` of `remote_domid`. -1/ENOENT if no such unbound port,
 * EPERM if it is not offered to `domid`. */
int hv_evtchn_bind_interdomain(struct hv_conn *hv, uint32_t domid, uint32_t remote_domid, uint32_t remote_port, struct hv_evtchn *out);
/* Close our end (closes the fds, even on error). ENOENT if no such port. */
int hv_evtchn_close(struct hv_conn *hv, uint32_t domid, struct hv_evtchn *ch);
/* Notify the peer / consume pending notifications (returns how many, 0 if none; never blocks). */
int hv_evtchn_notify(const struct hv_evtchn *ch);
int hv_evtchn_consume(const struct hv_evtchn *ch);

/*
 * Grant operations, checked as Xen checks them. `self` is the caller's domid
 * (the backend is 0). Status codes are GNTST_* from <xen/grant_table.h>.
 */
struct hv_copy_seg {
	/* Exactly one side is foreign: the `gref` side of dom `foreign`. */
	uint32_t gref;
	uint16_t offset; /* within the granted page */
	uint16_t len;    /* offset + len <= 4096 */
	void *local;     /* our buffer */
	bool to_foreign; /* true: local -> granted page (a READ completing); false: granted page -> local */
	int16_t status;  /* out: GNTST_okay or an error */
};

/* Performs `count` copies against domain `d` for caller `self`; statuses per segment. Returns 0
 * (-1/EINVAL if d or segs is NULL). While a segment copies, the entry carries GTF_reading (and
 * GTF_writing when to_foreign), as Xen sets them, so the guest cannot revoke it meanwhile. */
int hv_grant_copy(const struct hv_domain *d, uint16_t self, struct hv_copy_seg *segs, unsigned count);
/* Validates grant `gref` of `d` for mapping by `self` (writable: needs a non-readonly grant) and
 * returns a pointer to the page, or NULL with *status set (status may be NULL). A check only: with no
 * unmap to end it, the mapping holds no GTF_reading/GTF_writing, so it does not block revocation. */
void *hv_grant_map(const struct hv_domain *d, uint16_t self, uint32_t gref, bool writable, int16_t *status);
/* A map as Xen's GNTTABOP_map_grant_ref does it: the entry is pinned (GTF_reading, and GTF_writing
 * if writable) until hv_grant_unmap with the same `writable`, so the guest cannot end access to a
 * page a backend still has mapped. Same checks and result as hv_grant_map. */
void *hv_grant_map_pinned(const struct hv_domain *d, uint16_t self, uint32_t gref, bool writable, int16_t *status);
void hv_grant_unmap(const struct hv_domain *d, uint32_t gref, bool writable);

/* Frontend helpers: grant page `frame` of `d` to `to_domid` (readonly or not) at `gref`, or revoke it. */
int hv_grant_access(struct hv_domain *d, uint32_t gref, uint16_t to_domid, uint32_t frame, bool readonly);
/* -1/EBUSY while the grant is in use (GTF_reading/GTF_writing): the entry is then left valid and the
 * caller retries, as Linux's gnttab_end_foreign_access_ref does. Both: -1/EINVAL if gref >= nr_grants. */
int hv_grant_revoke(struct hv_domain *d, uint32_t gref);

#endif
