/* A request as its handler sees it, and the payload parsing rules of
 * xenstored (strings are NUL-terminated; bytes after the last NUL do not
 * count as a string). */
#ifndef XSD_REQ_H
#define XSD_REQ_H

#include <xenstore_lib.h>

#include "conn.h"

struct req {
    struct conn *conn;
    struct xsd *xsd;
    const struct xsd_sockmsg *hdr;
    char *data;                  /* len bytes, plus a NUL not counted */
    unsigned len;
    struct txn *tx;              /* resolved from hdr->tx_id, or NULL */
};

/* The payload if it is exactly one string ending at its last byte, else
 * NULL (an answer of EINVAL). */
const char *req_onearg(const struct req *r);
/* Number of NUL-terminated strings; the first max are put in vec. */
unsigned req_strings(const struct req *r, const char **vec, unsigned max);
/* Number of NULs in the payload (xs_count_strings). */
unsigned req_nuls(const struct req *r);

#endif
