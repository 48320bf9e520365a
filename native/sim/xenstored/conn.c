/* Connection buffers and message framing (see conn.h). */
#include "conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "domain.h"
#include "perms.h"
#include "txn.h"
#include "util.h"
#include "watch.h"

struct conn *conn_new(struct xsd *x, int fd, unsigned domid)
{
    struct conn *c = xcalloc(1, sizeof(*c));

    c->tag.kind = EP_CONN;
    c->xsd = x;
    c->fd = fd;
    c->domid = domid;
    c->next_txid = 1;
    c->next = x->conns;
    x->conns = c;
    return c;
}

static void free_output(struct conn *c)
{
    while (c->out_head) {
        struct outmsg *m = c->out_head;

        c->out_head = m->next;
        free(m);
    }
    c->out_tail = NULL;
    c->out_bytes = 0;
}

void conn_free(struct conn *c)
{
    watch_free_all(c);
    txn_free_all(c);
    free_output(c);
    free(c);
}

unsigned conn_access(const struct conn *c, const struct perms *p)
{
    if (!c)
        return XS_PERM_READ | XS_PERM_WRITE | XS_PERM_OWNER;
    return perms_access(p, c->domid, conn_privileged(c),
                        domain_target(c->xsd, c->domid));
}

static void enqueue(struct conn *c, uint32_t type, uint32_t req_id,
                    uint32_t tx_id, const void *data, size_t len, bool event)
{
    struct xsd_sockmsg hdr = { type, req_id, tx_id, (uint32_t)len };
    struct outmsg *m = xmalloc(sizeof(*m) + sizeof(hdr) + len);

    m->next = NULL;
    m->len = sizeof(hdr) + len;
    m->off = 0;
    m->event = event;
    memcpy(m->data, &hdr, sizeof(hdr));
    if (len)
        memcpy(m->data + sizeof(hdr), data, len);
    if (c->out_tail)
        c->out_tail->next = m;
    else
        c->out_head = m;
    c->out_tail = m;
    c->out_bytes += m->len;
}

static const char *error_name(int err)
{
    size_t i;

    for (i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
        if (xsd_errors[i].errnum == err)
            return xsd_errors[i].errstring;
    return "EINVAL";   /* xenstored's answer for untranslatable errors */
}

void conn_error(struct conn *c, const struct xsd_sockmsg *req, int err)
{
    const char *name = error_name(err);

    if (c->dead)
        return;
    enqueue(c, XS_ERROR, req->req_id, req->tx_id, name, strlen(name) + 1, false);
}

void conn_reply(struct conn *c, const struct xsd_sockmsg *req, uint32_t type,
                const void *data, size_t len)
{
    if (c->dead)
        return;
    if (len > XENSTORE_PAYLOAD_MAX) {
        conn_error(c, req, E2BIG);
        return;
    }
    enqueue(c, type, req->req_id, req->tx_id, data, len, false);
}

void conn_ack(struct conn *c, const struct xsd_sockmsg *req)
{
    conn_reply(c, req, req->type, "OK", 3);
}

void conn_event(struct conn *c, const char *path, const char *token)
{
    size_t plen = strlen(path) + 1, len = plen + strlen(token) + 1;
    struct outmsg *m;
    char *buf;

    if (c->dead || c->overflow || len > XENSTORE_PAYLOAD_MAX)
        return;
    buf = xmalloc(len);
    memcpy(buf, path, plen);
    memcpy(buf + plen, token, len - plen);
    /* xenstored drops an event identical to one still queued (special
     * events excepted): the client learns nothing new from the second. */
    if (path[0] != '@') {
        for (m = c->out_head; m; m = m->next) {
            if (m->event && m->len == sizeof(struct xsd_sockmsg) + len &&
                memcmp(m->data + sizeof(struct xsd_sockmsg), buf, len) == 0) {
                free(buf);
                return;
            }
        }
    }
    if (c->out_bytes + len > CONN_OUT_MAX) {
        c->overflow = true;
        free(buf);
        return;
    }
    enqueue(c, XS_WATCH_EVENT, 0, 0, buf, len, true);
    free(buf);
}

int conn_request_ready(const struct conn *c)
{
    struct xsd_sockmsg hdr;

    if (c->in_used < sizeof(hdr))
        return 1;
    memcpy(&hdr, c->in, sizeof(hdr));
    if (hdr.len > XENSTORE_PAYLOAD_MAX)
        return -1;
    return c->in_used >= sizeof(hdr) + hdr.len ? 0 : 1;
}

void conn_consume_request(struct conn *c)
{
    struct xsd_sockmsg hdr;
    size_t n;

    memcpy(&hdr, c->in, sizeof(hdr));
    n = sizeof(hdr) + hdr.len;
    memmove(c->in, c->in + n, c->in_used - n);
    c->in_used -= n;
}

bool conn_flush(struct conn *c)
{
    while (c->out_head) {
        struct outmsg *m = c->out_head;
        ssize_t n = send(c->fd, m->data + m->off, m->len - m->off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        m->off += (size_t)n;
        c->out_bytes -= (size_t)n;
        if (m->off < m->len)
            continue;
        c->out_head = m->next;
        if (!c->out_head)
            c->out_tail = NULL;
        free(m);
    }
    return true;
}
