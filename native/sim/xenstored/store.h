/* The node tree: names, values, permissions, children in creation order and
 * a generation count per node. No policy here: permission checks, watches
 * and transactions are layered on top (view.c, watch.c, txn.c). */
#ifndef XSD_STORE_H
#define XSD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xenstore_lib.h>

/* Generation of a node that does not exist (as in xenstored). */
#define NO_GENERATION UINT64_MAX

struct perms {
    unsigned num;               /* >= 1 for a real node: p[0] is the owner */
    struct xs_permissions *p;
};

struct node {
    char *name;                 /* last path component; "" for the root */
    struct node *parent;
    struct node **child;        /* in creation order, as DIRECTORY lists them */
    unsigned nchild, capchild;
    char *value;
    unsigned vlen;
    struct perms perms;
    uint64_t gen;               /* bumped on every change of this node */
};

/* A fresh, globally unique generation (also used for transactions). */
uint64_t store_next_gen(void);

/* A parentless node with a copy of the permissions, an empty value and a
 * fresh generation. */
struct node *node_new(const char *name, size_t namelen, const struct perms *perms);
/* Frees the node and its subtree; detach it first if it has a parent. */
void node_free(struct node *n);
/* A deep copy of the subtree, generations included. */
struct node *node_clone(const struct node *n);

struct node *node_child(const struct node *n, const char *name, size_t len);
void node_attach(struct node *parent, struct node *child);
void node_detach(struct node *child);
void node_set_value(struct node *n, const void *value, unsigned len);
void node_set_perms(struct node *n, const struct perms *perms);
/* Bytes of the child list as the wire sends it: "a\0b\0". */
size_t node_children_len(const struct node *n);
/* Writes the child list into buf (node_children_len bytes). */
void node_children_write(const struct node *n, char *buf);

/* The node at an absolute, valid path, or NULL. */
struct node *store_lookup(struct node *root, const char *path);
/* The deepest existing node on the way to path (at least the root). */
struct node *store_nearest(struct node *root, const char *path);

void perms_copy(struct perms *dst, const struct perms *src);
void perms_free(struct perms *p);

#endif
