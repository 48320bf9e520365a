/* One client connection: its input framing, its output queue (replies and
 * watch events, sent as the socket accepts them), its watches and its
 * transactions. A connection on <dir>/socket is dom0 (privileged); one on
 * <dir>/socket.d<N> is domain N. */
#ifndef XSD_CONN_H
#define XSD_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xenstore_lib.h>

#include "xsd.h"

#define CONN_IN_CAP (sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX)
/* Stop reading requests from a client that does not read its replies... */
#define CONN_OUT_HIGH (256u * 1024)
/* ...and drop it when watch events alone pile up this far. */
#define CONN_OUT_MAX (16u * 1024 * 1024)

struct outmsg {
    struct outmsg *next;
    size_t len, off;
    bool event;
    unsigned char data[];
};

struct watch;
struct txn;

struct conn {
    struct ep_tag tag;           /* first: epoll data */
    struct conn *next;
    struct xsd *xsd;
    int fd;
    unsigned domid;
    bool dead;                   /* closed; freed when the loop reaps */
    bool overflow;               /* too much queued output: to be dropped */
    uint32_t epmask;             /* events currently registered */
    unsigned char in[CONN_IN_CAP];
    size_t in_used;
    struct outmsg *out_head, *out_tail;
    size_t out_bytes;
    struct watch *watches;
    unsigned nwatches;
    struct txn *txns;
    unsigned ntxns;
    uint32_t next_txid;
};

struct conn *conn_new(struct xsd *x, int fd, unsigned domid);
/* Frees a connection already closed and unlinked (see server.c). */
void conn_free(struct conn *c);

static inline bool conn_privileged(const struct conn *c)
{
    return !c || c->domid == 0;
}

/* Rights of c on a node (c NULL: xenstored itself, all rights). */
unsigned conn_access(const struct conn *c, const struct perms *p);

/* Queue a reply to req; a payload over XENSTORE_PAYLOAD_MAX becomes E2BIG
 * as in xenstored. */
void conn_reply(struct conn *c, const struct xsd_sockmsg *req, uint32_t type,
                const void *data, size_t len);
void conn_ack(struct conn *c, const struct xsd_sockmsg *req);
void conn_error(struct conn *c, const struct xsd_sockmsg *req, int err);
/* Queue a watch event, unless an identical one is still queued. */
void conn_event(struct conn *c, const char *path, const char *token);

/* A complete request waits in the input buffer (0), more bytes are needed
 * (1), or the header announces an oversized payload (-1). */
int conn_request_ready(const struct conn *c);
/* Removes the first request from the input buffer. */
void conn_consume_request(struct conn *c);
/* Writes what the socket accepts; false when the peer is gone. */
bool conn_flush(struct conn *c);

#endif
