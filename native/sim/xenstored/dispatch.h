/* Routes one request to its handler after the checks every request gets:
 * known type, privilege, transaction id. */
#ifndef XSD_DISPATCH_H
#define XSD_DISPATCH_H

#include "conn.h"

/* payload holds hdr->len bytes plus a terminating NUL. */
void dispatch(struct conn *c, const struct xsd_sockmsg *hdr, char *payload);

#endif
