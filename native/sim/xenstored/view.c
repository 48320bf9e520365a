/* Node operations with permissions, events and transaction recording (see
 * view.h). The rules follow xenstored's core.c: read, read what you may,
 * create under what you may write, own what you create. */
#include "view.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore_lib.h>

#include "path.h"
#include "txn.h"
#include "util.h"
#include "watch.h"

/* xenstored's quota_max_entry_size for unprivileged writers, measured as
 * its database record: a 24-byte header, 8 bytes a permission, the value
 * and the child list. */
#define ENTRY_QUOTA 2048

void view_init(struct view *v, struct xsd *x, struct conn *c, struct txn *tx)
{
    v->xsd = x;
    v->conn = c;
    v->tx = tx;
    v->root = tx ? txn_root(tx) : x->root;
}

static bool over_quota(const struct view *v, unsigned nperms, size_t vlen,
                       size_t childlen)
{
    return !conn_privileged(v->conn) &&
           24 + 8 * (size_t)nperms + vlen + childlen >= ENTRY_QUOTA;
}

/* Before changing (or creating, n NULL) the node at path. */
static void touch(struct view *v, const char *path, const struct node *n)
{
    if (v->tx)
        txn_note_modified(v->tx, path, n);
}

static void fire(struct view *v, const char *path, const struct node *n,
                 bool exact, const struct perms *oldperms)
{
    if (v->tx)
        txn_queue_watch(v->tx, path, exact);
    else
        watch_fire(v->xsd, path, n, exact, oldperms);
}

struct node *view_get(struct view *v, const char *path, unsigned perm, int *err)
{
    const struct node *anc;
    struct node *n;
    int e;

    if (!path || !path_valid(path)) {
        *err = EINVAL;
        return NULL;
    }
    n = store_lookup(v->root, path);
    if (v->tx)
        txn_note(v->tx, path, n);
    if (n && (conn_access(v->conn, &n->perms) & perm) == perm)
        return n;
    /* xenstored's errno_from_parents: what the nearest ancestor says. */
    e = n ? EACCES : ENOENT;
    anc = n ? (n->parent ? n->parent : n) : store_nearest(v->root, path);
    *err = (conn_access(v->conn, &anc->perms) & perm) ? e : EACCES;
    return NULL;
}

/* The part of a valid path below node n, an ancestor of it in the tree. */
static const char *below(const struct node *n, const char *path)
{
    const char *rest = path + 1;

    for (; n->parent; n = n->parent)
        rest = strchr(rest, '/') + 1;
    return rest;
}

/* Whether an unprivileged writer stays within its quota creating rest below
 * parent: the parent gains a child name, each new node but the last holds
 * one, the last holds the value. */
static bool creation_fits(const struct view *v, const struct node *parent,
                          const char *rest, unsigned nperms,
                          unsigned last_nperms, unsigned vlen)
{
    const char *p, *slash;

    if (over_quota(v, parent->perms.num, parent->vlen,
                   node_children_len(parent) + strcspn(rest, "/") + 1))
        return false;
    for (p = rest; (slash = strchr(p, '/')); p = slash + 1)
        if (over_quota(v, nperms, 0, strcspn(slash + 1, "/") + 1))
            return false;
    return !over_quota(v, last_nperms, vlen, 0);
}

/* Creates path below its deepest existing ancestor (which the caller found
 * writable): each new node inherits its parent's permissions, and a node an
 * unprivileged domain creates is owned by it. perms, if given, replace the
 * last node's. */
static int create(struct view *v, const char *path, const void *value,
                  unsigned len, const struct perms *perms, struct node **out)
{
    struct node *cur = store_nearest(v->root, path);
    const char *rest = below(cur, path), *p;
    struct perms inherit;
    char *curpath;

    perms_copy(&inherit, &cur->perms);
    if (!conn_privileged(v->conn))
        inherit.p[0].id = v->conn->domid;
    if (!creation_fits(v, cur, rest, inherit.num,
                       perms ? perms->num : inherit.num, len)) {
        perms_free(&inherit);
        return ENOSPC;
    }

    curpath = rest - path > 1 ? xstrndup(path, (size_t)(rest - path) - 1)
                              : xstrdup("/");
    touch(v, curpath, cur);
    free(curpath);
    cur->gen = store_next_gen();
    for (p = rest; ; p += strcspn(p, "/") + 1) {
        size_t clen = strcspn(p, "/");
        char *npath = xstrndup(path, (size_t)(p - path) + clen);
        struct node *n = node_new(p, clen, &inherit);

        touch(v, npath, NULL);
        free(npath);
        node_attach(cur, n);
        cur = n;
        if (!p[clen])
            break;
    }
    node_set_value(cur, value, len);
    if (perms)
        node_set_perms(cur, perms);
    perms_free(&inherit);
    *out = cur;
    return 0;
}

int view_write(struct view *v, const char *path, const void *value, unsigned len)
{
    struct node *n;
    int err;

    n = view_get(v, path, XS_PERM_WRITE, &err);
    if (!n) {
        if (err != ENOENT)
            return err;
        err = create(v, path, value, len, NULL, &n);
        if (err)
            return err;
    } else {
        if (over_quota(v, n->perms.num, len, node_children_len(n)))
            return ENOSPC;
        touch(v, path, n);
        node_set_value(n, value, len);
        n->gen = store_next_gen();
    }
    fire(v, path, n, false, NULL);
    return 0;
}

int view_mkdir(struct view *v, const char *path, const struct perms *perms)
{
    struct node *n;
    int err;

    n = view_get(v, path, XS_PERM_WRITE, &err);
    if (n)
        return 0;        /* exists: nothing changes, nothing fires */
    if (err != ENOENT)
        return err;
    err = create(v, path, NULL, 0, perms, &n);
    if (err)
        return err;
    fire(v, path, n, false, NULL);
    return 0;
}

/* Post-order over the subtree, as xenstored's delnode_sub: every node
 * removed fires while its permissions are still there; descendants fire
 * only watches set exactly on them. */
static void rm_walk(struct view *v, struct node *n, const char *path, bool top)
{
    unsigned i;

    for (i = 0; i < n->nchild; i++) {
        char *cpath = path_join(path, n->child[i]->name);

        rm_walk(v, n->child[i], cpath, false);
        free(cpath);
    }
    touch(v, path, n);
    fire(v, path, n, !top, NULL);
}

int view_rm(struct view *v, const char *path)
{
    struct node *n, *parent;
    char *ppath;
    int err;

    n = view_get(v, path, XS_PERM_WRITE, &err);
    if (n && !n->parent)
        return EINVAL;                  /* "/" */
    if (!n && err != ENOENT)
        return err;
    ppath = path_parent(path);
    if (!n) {
        /* Missing is fine if the parent exists; nothing fires. */
        parent = store_lookup(v->root, ppath);
        if (v->tx)
            txn_note(v->tx, ppath, parent);
        free(ppath);
        return parent ? 0 : ENOENT;
    }
    rm_walk(v, n, path, true);
    parent = n->parent;
    touch(v, ppath, parent);
    free(ppath);
    parent->gen = store_next_gen();
    node_detach(n);
    node_free(n);
    return 0;
}

int view_set_perms(struct view *v, const char *path, const struct perms *perms)
{
    struct perms old;
    struct node *n;
    int err;

    n = view_get(v, path, XS_PERM_WRITE | XS_PERM_OWNER, &err);
    if (!n)
        return err;
    /* Only the privileged domain may give a node away. */
    if (!conn_privileged(v->conn) && perms->p[0].id != n->perms.p[0].id)
        return EPERM;
    if (over_quota(v, perms->num, n->vlen, node_children_len(n)))
        return ENOSPC;
    touch(v, path, n);
    perms_copy(&old, &n->perms);
    node_set_perms(n, perms);
    n->gen = store_next_gen();
    fire(v, path, n, false, &old);
    perms_free(&old);
    return 0;
}
