/*
 * Malicious frontend modes: unlike the hostile ones (one bad request at a
 * time), these attack the backend while it works: slots and indirect pages
 * rewritten while in flight, a ring kept full with constant notifications,
 * reads into read-only grants, grants revoked under in-flight requests, and
 * the frontend's xenstore keys flipped through every state. Each checks what
 * it can see from the guest (answers, page contents, canary pages never
 * granted, the hypervisor's refusals) and the device still working after.
 */
#ifndef GUEST_MALICIOUS_H
#define GUEST_MALICIOUS_H

#include <stdbool.h>

#include "sim/guest/blkfront.h"
#include "sim/guest/hostile.h"
#include "sim/guest/opts.h"

/* True for the modes malicious_run plays (the others are hostile_run's). */
bool malicious_mode(const char *mode);
/* Runs `o->hostile` on the connected device; 0 when the backend withstood it, 1 when not, -1 on our failure. */
int malicious_run(struct bf_dev *d, const struct guest_opts *o, struct hostile_result *r);

#endif
