/* Handlers for a connection's own state: WATCH, UNWATCH, RESET_WATCHES,
 * TRANSACTION_START, TRANSACTION_END. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"
#include "txn.h"
#include "watch.h"

int op_watch(struct req *r)
{
    const char *vec[2];
    struct watch *w;
    int err;

    /* "<path>\0<token>\0": 4.17 takes no depth argument. */
    if (req_strings(r, vec, 2) != 2)
        return EINVAL;
    err = watch_add(r->conn, vec[0], vec[1], &w);
    if (err)
        return err;
    conn_ack(r->conn, r->hdr);
    /* Fired once straight away, after the acknowledgement. */
    watch_fire_initial(r->conn, w);
    return 0;
}

int op_unwatch(struct req *r)
{
    const char *vec[2];
    int err;

    if (req_strings(r, vec, 2) != 2)
        return EINVAL;
    err = watch_remove(r->conn, vec[0], vec[1]);
    if (!err)
        conn_ack(r->conn, r->hdr);
    return err;
}

int op_reset_watches(struct req *r)
{
    watch_free_all(r->conn);
    txn_free_all(r->conn);
    conn_ack(r->conn, r->hdr);
    return 0;
}

int op_transaction_start(struct req *r)
{
    struct txn *t;
    char id[16];
    int err;

    if (r->tx)
        return EBUSY;            /* no nested transactions */
    t = txn_start(r->conn, &err);
    if (!t)
        return err;
    snprintf(id, sizeof(id), "%u", txn_id(t));
    conn_reply(r->conn, r->hdr, XS_TRANSACTION_START, id, strlen(id) + 1);
    return 0;
}

int op_transaction_end(struct req *r)
{
    const char *arg = req_onearg(r);
    int err;

    if (!arg || (strcmp(arg, "T") != 0 && strcmp(arg, "F") != 0))
        return EINVAL;
    if (!r->tx)
        return ENOENT;
    err = txn_end(r->conn, r->tx, arg[0] == 'T');
    if (!err)
        conn_ack(r->conn, r->hdr);
    return err;
}
