/* Request routing (see dispatch.h); the table mirrors xenstored's
 * wire_funcs, flags included. */
#include "dispatch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"
#include "txn.h"
#include "util.h"

#define PRIV (1u << 0)     /* dom0 only: EACCES for domains */
#define NOTID (1u << 1)    /* tx_id ignored */

static const struct {
    const char *name;
    int (*fn)(struct req *r);
    unsigned flags;
} ops[XS_TYPE_COUNT] = {
    [XS_CONTROL] = { "CONTROL", op_control, PRIV },
    [XS_DIRECTORY] = { "DIRECTORY", op_directory, 0 },
    [XS_READ] = { "READ", op_read, 0 },
    [XS_GET_PERMS] = { "GET_PERMS", op_get_perms, 0 },
    [XS_WATCH] = { "WATCH", op_watch, NOTID },
    [XS_UNWATCH] = { "UNWATCH", op_unwatch, NOTID },
    [XS_TRANSACTION_START] = { "TRANSACTION_START", op_transaction_start, 0 },
    [XS_TRANSACTION_END] = { "TRANSACTION_END", op_transaction_end, 0 },
    [XS_INTRODUCE] = { "INTRODUCE", op_introduce, PRIV },
    [XS_RELEASE] = { "RELEASE", op_release, PRIV },
    [XS_GET_DOMAIN_PATH] = { "GET_DOMAIN_PATH", op_get_domain_path, 0 },
    [XS_WRITE] = { "WRITE", op_write, 0 },
    [XS_MKDIR] = { "MKDIR", op_mkdir, 0 },
    [XS_RM] = { "RM", op_rm, 0 },
    [XS_SET_PERMS] = { "SET_PERMS", op_set_perms, 0 },
    [XS_IS_DOMAIN_INTRODUCED] = { "IS_DOMAIN_INTRODUCED", op_is_domain_introduced, PRIV },
    [XS_RESUME] = { "RESUME", op_resume, PRIV },
    [XS_SET_TARGET] = { "SET_TARGET", op_set_target, PRIV },
    [XS_RESET_WATCHES] = { "RESET_WATCHES", op_reset_watches, 0 },
    [XS_DIRECTORY_PART] = { "DIRECTORY_PART", op_directory_part, 0 },
};

/* First string of the payload, printable, for --trace. */
static void trace(const struct conn *c, const struct xsd_sockmsg *hdr,
                  const char *payload)
{
    const char *name = hdr->type < XS_TYPE_COUNT && ops[hdr->type].name
                           ? ops[hdr->type].name : "?";
    char arg[64];
    size_t i;

    for (i = 0; i + 1 < sizeof(arg) && i < hdr->len && payload[i]; i++)
        arg[i] = payload[i] >= 0x20 && payload[i] < 0x7f ? payload[i] : '?';
    arg[i] = '\0';
    xsd_log("d%u req %u tx %u %s %s", c->domid, hdr->req_id, hdr->tx_id,
            name, arg);
}

void dispatch(struct conn *c, const struct xsd_sockmsg *hdr, char *payload)
{
    struct req r = { c, c->xsd, hdr, payload, hdr->len, NULL };
    int err;

    if (c->xsd->trace)
        trace(c, hdr, payload);
    if (hdr->type >= XS_TYPE_COUNT || !ops[hdr->type].fn) {
        conn_error(c, hdr, ENOSYS);
        return;
    }
    if ((ops[hdr->type].flags & PRIV) && !conn_privileged(c)) {
        conn_error(c, hdr, EACCES);
        return;
    }
    if (!(ops[hdr->type].flags & NOTID) && hdr->tx_id) {
        r.tx = txn_find(c, hdr->tx_id);
        if (!r.tx) {
            conn_error(c, hdr, ENOENT);
            return;
        }
    }
    err = ops[hdr->type].fn(&r);
    if (err)
        conn_error(c, hdr, err);
}
