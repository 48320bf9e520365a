/* Node operations as a connection sees them: permission checks with
 * xenstored's error rules, creation of missing parents with inherited
 * permissions, recursive removal, and the watch events each change fires.
 * A view works on the live tree, or on a transaction's copy, in which case
 * every node touched is recorded and events wait for the commit. */
#ifndef XSD_VIEW_H
#define XSD_VIEW_H

#include <stdbool.h>

#include "conn.h"
#include "store.h"

struct txn;

struct view {
    struct xsd *xsd;
    struct conn *conn;           /* NULL: xenstored itself (privileged) */
    struct txn *tx;              /* NULL: the live tree */
    struct node *root;
};

void view_init(struct view *v, struct xsd *x, struct conn *c, struct txn *tx);

/* The node at a canonical path if the connection has all of perm on it.
 * Else NULL with *err: EINVAL (bad path), ENOENT, or EACCES (also instead
 * of ENOENT when the nearest existing ancestor denies perm, so a domain
 * learns nothing about what it cannot see). */
struct node *view_get(struct view *v, const char *path, unsigned perm, int *err);

/* XS_WRITE: sets the value, creating the node and missing parents. */
int view_write(struct view *v, const char *path, const void *value, unsigned len);
/* XS_MKDIR: creates the node if missing; perms (or NULL: inherited) are
 * given to the node itself before its event fires. */
int view_mkdir(struct view *v, const char *path, const struct perms *perms);
/* XS_RM: removes the node and its subtree; fine if only the node is missing. */
int view_rm(struct view *v, const char *path);
/* XS_SET_PERMS on a node. */
int view_set_perms(struct view *v, const char *path, const struct perms *perms);

#endif
