/* Handlers for the tree: READ, WRITE, MKDIR, RM, DIRECTORY,
 * DIRECTORY_PART, GET_PERMS, SET_PERMS. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain.h"
#include "ops.h"
#include "path.h"
#include "perms.h"
#include "util.h"
#include "view.h"

/* xenstored's quota_nb_perms_per_node, for unprivileged domains. */
#define PERMS_QUOTA 5

/* The canonical path of a one-string request, NULL if malformed. */
static char *onepath(const struct req *r)
{
    const char *arg = req_onearg(r);

    return arg ? path_canonical(arg, r->conn->domid) : NULL;
}

/* The node named by a one-string request, for reading. */
static struct node *readable(struct req *r, int *err)
{
    struct view v;
    struct node *n;
    char *path = onepath(r);

    view_init(&v, r->xsd, r->conn, r->tx);
    n = view_get(&v, path, XS_PERM_READ, err);
    free(path);
    return n;
}

int op_read(struct req *r)
{
    struct node *n;
    int err;

    n = readable(r, &err);
    if (!n)
        return err;
    conn_reply(r->conn, r->hdr, XS_READ, n->value, n->vlen);
    return 0;
}

int op_write(struct req *r)
{
    const char *vec[1];
    struct view v;
    size_t off;
    char *path;
    int err;

    /* The value is everything after the path, NULs included. */
    if (req_strings(r, vec, 1) < 1)
        return EINVAL;
    off = strlen(vec[0]) + 1;
    path = path_canonical(vec[0], r->conn->domid);
    view_init(&v, r->xsd, r->conn, r->tx);
    err = view_write(&v, path, r->data + off, (unsigned)(r->len - off));
    free(path);
    if (!err)
        conn_ack(r->conn, r->hdr);
    return err;
}

int op_mkdir(struct req *r)
{
    struct view v;
    char *path = onepath(r);
    int err;

    if (!path)
        return EINVAL;
    view_init(&v, r->xsd, r->conn, r->tx);
    err = view_mkdir(&v, path, NULL);
    free(path);
    if (!err)
        conn_ack(r->conn, r->hdr);
    return err;
}

int op_rm(struct req *r)
{
    struct view v;
    char *path = onepath(r);
    int err;

    if (!path)
        return EINVAL;
    view_init(&v, r->xsd, r->conn, r->tx);
    err = view_rm(&v, path);
    free(path);
    if (!err)
        conn_ack(r->conn, r->hdr);
    return err;
}

int op_directory(struct req *r)
{
    struct node *n;
    size_t len;
    char *buf;
    int err;

    n = readable(r, &err);
    if (!n)
        return err;
    len = node_children_len(n);
    buf = xmalloc(len);
    node_children_write(n, buf);
    /* Over XENSTORE_PAYLOAD_MAX this answers E2BIG: libxenstore then
     * pages through DIRECTORY_PART. */
    conn_reply(r->conn, r->hdr, XS_DIRECTORY, buf, len);
    free(buf);
    return 0;
}

/* "<path>\0<offset>\0" -> "<generation>\0" and the child list from byte
 * offset on, as much as fits; the last part ends with an extra NUL (an
 * empty name) so the client knows the list is complete. */
int op_directory_part(struct req *r)
{
    const char *vec[2];
    struct view v;
    struct node *n;
    size_t total, genlen, maxlen, len = 0;
    unsigned off;
    char *list, *out, gen[24];
    char *path;
    int err;

    if (req_nuls(r) != 2 || req_strings(r, vec, 2) != 2)
        return EINVAL;
    path = path_canonical(vec[0], r->conn->domid);
    view_init(&v, r->xsd, r->conn, r->tx);
    n = view_get(&v, path, XS_PERM_READ, &err);
    free(path);
    if (!n)
        return err;
    off = (unsigned)atoi(vec[1]);   /* as xenstored: garbage reads as 0 */
    genlen = (size_t)snprintf(gen, sizeof(gen), "%" PRIu64, n->gen) + 1;
    total = node_children_len(n);
    if (off >= total) {
        char empty[sizeof(gen) + 1];

        memcpy(empty, gen, genlen);
        empty[genlen] = '\0';
        conn_reply(r->conn, r->hdr, XS_DIRECTORY_PART, empty, genlen + 1);
        return 0;
    }
    list = xmalloc(total);
    node_children_write(n, list);
    maxlen = XENSTORE_PAYLOAD_MAX - genlen - 1;
    /* Whole names only, while they fit. */
    while (off + len < total) {
        size_t l = strlen(list + off + len);

        if (len + l >= maxlen)
            break;
        len += l + 1;
    }
    out = xmalloc(genlen + len + 1);
    memcpy(out, gen, genlen);
    memcpy(out + genlen, list + off, len);
    if (off + len == total)
        out[genlen + len++] = '\0';
    conn_reply(r->conn, r->hdr, XS_DIRECTORY_PART, out, genlen + len);
    free(out);
    free(list);
    return 0;
}

int op_get_perms(struct req *r)
{
    struct node *n;
    size_t len;
    char *buf;
    int err;

    n = readable(r, &err);
    if (!n)
        return err;
    buf = perms_format(&n->perms, &len);
    conn_reply(r->conn, r->hdr, XS_GET_PERMS, buf, len);
    free(buf);
    return 0;
}

/* The special watch paths have permissions too: they say who may watch. */
static int set_special_perms(struct req *r, const struct perms *perms)
{
    struct perms *sp = domain_special_perms(r->xsd, r->data);
    const unsigned need = XS_PERM_WRITE | XS_PERM_OWNER;

    if (!sp)
        return EINVAL;
    if ((conn_access(r->conn, sp) & need) != need)
        return EACCES;
    perms_free(sp);
    perms_copy(sp, perms);
    return 0;
}

int op_set_perms(struct req *r)
{
    unsigned num = req_nuls(r);
    struct perms perms;
    struct view v;
    const char *start;
    char *path;
    int err;

    if (num < 2)
        return EINVAL;
    num--;
    if (!conn_privileged(r->conn) && num > PERMS_QUOTA)
        return ENOSPC;
    start = r->data + strlen(r->data) + 1;
    if (!perms_parse(start, r->data + r->len, num, &perms))
        return EINVAL;
    if (r->data[0] == '@') {
        err = set_special_perms(r, &perms);
    } else {
        path = path_canonical(r->data, r->conn->domid);
        view_init(&v, r->xsd, r->conn, r->tx);
        err = view_set_perms(&v, path, &perms);
        free(path);
    }
    perms_free(&perms);
    if (!err)
        conn_ack(r->conn, r->hdr);
    return err;
}
