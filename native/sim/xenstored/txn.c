/* Transactions (see txn.h). */
#include "txn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"
#include "util.h"
#include "watch.h"

/* xenstored's quota_max_transaction, for unprivileged connections... */
#define TXN_QUOTA 10
/* ...and a bound of our own for dom0, as each transaction copies the tree. */
#define TXN_QUOTA_PRIV 1024

struct access {
    struct access *next;         /* in first-access order */
    struct access *hnext;        /* hash chain */
    char *path;
    uint64_t gen;                /* generation when the transaction began */
    bool existed;
    struct perms oldperms;       /* permissions then, for watch checks */
    bool modified;
    bool fire, exact;
};

struct txn {
    struct txn *next;
    uint32_t id;
    struct node *root;
    struct access *first, *last;
    struct access **bucket;
    unsigned nbucket, count;
};

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;   /* FNV-1a */

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void rehash(struct txn *t)
{
    unsigned n = t->nbucket ? 2 * t->nbucket : 64, i;
    struct access **b = xcalloc(n, sizeof(*b));
    struct access *a;

    for (a = t->first; a; a = a->next) {
        i = hash(a->path) & (n - 1);
        a->hnext = b[i];
        b[i] = a;
    }
    free(t->bucket);
    t->bucket = b;
    t->nbucket = n;
}

static struct access *find(const struct txn *t, const char *path)
{
    struct access *a;

    for (a = t->bucket[hash(path) & (t->nbucket - 1)]; a; a = a->hnext)
        if (strcmp(a->path, path) == 0)
            return a;
    return NULL;
}

static struct access *note(struct txn *t, const char *path, const struct node *n)
{
    struct access *a = find(t, path);
    unsigned i;

    if (a)
        return a;
    a = xcalloc(1, sizeof(*a));
    a->path = xstrdup(path);
    a->gen = n ? n->gen : NO_GENERATION;
    a->existed = n != NULL;
    if (n)
        perms_copy(&a->oldperms, &n->perms);
    if (t->last)
        t->last->next = a;
    else
        t->first = a;
    t->last = a;
    if (++t->count > 2 * t->nbucket) {
        rehash(t);
    } else {
        i = hash(path) & (t->nbucket - 1);
        a->hnext = t->bucket[i];
        t->bucket[i] = a;
    }
    return a;
}

void txn_note(struct txn *t, const char *path, const struct node *n)
{
    note(t, path, n);
}

void txn_note_modified(struct txn *t, const char *path, const struct node *n)
{
    note(t, path, n)->modified = true;
}

void txn_queue_watch(struct txn *t, const char *path, bool exact)
{
    struct access *a = note(t, path, store_lookup(t->root, path));

    if (!a->fire) {
        a->fire = true;
        a->exact = exact;
    } else if (!exact) {
        a->exact = false;
    }
}

struct txn *txn_start(struct conn *c, int *err)
{
    unsigned quota = conn_privileged(c) ? TXN_QUOTA_PRIV : TXN_QUOTA;
    struct txn *t;

    if (c->ntxns > quota) {
        *err = ENOSPC;
        return NULL;
    }
    t = xcalloc(1, sizeof(*t));
    /* Ids are per connection, never 0 (that means "no transaction"). */
    do {
        t->id = c->next_txid++;
    } while (t->id == 0 || txn_find(c, t->id));
    t->root = node_clone(c->xsd->root);
    rehash(t);
    t->next = c->txns;
    c->txns = t;
    c->ntxns++;
    return t;
}

struct txn *txn_find(const struct conn *c, uint32_t id)
{
    struct txn *t;

    for (t = c->txns; t; t = t->next)
        if (t->id == id)
            return t;
    return NULL;
}

uint32_t txn_id(const struct txn *t)
{
    return t->id;
}

struct node *txn_root(struct txn *t)
{
    return t->root;
}

static void txn_free(struct txn *t)
{
    while (t->first) {
        struct access *a = t->first;

        t->first = a->next;
        free(a->path);
        perms_free(&a->oldperms);
        free(a);
    }
    free(t->bucket);
    node_free(t->root);
    free(t);
}

void txn_free_all(struct conn *c)
{
    while (c->txns) {
        struct txn *t = c->txns;

        c->txns = t->next;
        txn_free(t);
    }
    c->ntxns = 0;
}

static bool conflicts(const struct txn *t, struct node *live)
{
    const struct access *a;

    for (a = t->first; a; a = a->next) {
        const struct node *n = store_lookup(live, a->path);

        if ((n ? n->gen : NO_GENERATION) != a->gen)
            return true;
    }
    return false;
}

struct pending {
    struct access *a;
    unsigned depth, order;
};

static int by_depth(const void *pa, const void *pb)
{
    const struct pending *a = pa, *b = pb;

    if (a->depth != b->depth)
        return a->depth < b->depth ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* Makes the live node g hold what the copy's node t holds. Its children
 * follow t's list: live children t still has are kept (their own changes,
 * if any, come later as they are deeper), new ones start as placeholders
 * the transaction also recorded, the rest were removed in it. */
static void apply_node(struct node *g, const struct node *t)
{
    struct node **old = g->child;
    unsigned nold = g->nchild, i, j;

    node_set_value(g, t->value, t->vlen);
    node_set_perms(g, &t->perms);
    g->gen = store_next_gen();
    g->child = t->nchild ? xmalloc(t->nchild * sizeof(*g->child)) : NULL;
    g->nchild = g->capchild = t->nchild;
    for (i = 0; i < t->nchild; i++) {
        struct node *c = NULL;

        for (j = 0; j < nold; j++) {
            if (old[j] && strcmp(old[j]->name, t->child[i]->name) == 0) {
                c = old[j];
                old[j] = NULL;
                break;
            }
        }
        if (!c)
            c = node_new(t->child[i]->name, strlen(t->child[i]->name),
                         &t->child[i]->perms);
        c->parent = g;
        g->child[i] = c;
    }
    for (j = 0; j < nold; j++)
        node_free(old[j]);
    free(old);
}

/* Copies every node the transaction changed into the live tree, parents
 * before children. No conflict means none of them changed live since the
 * copy was taken, so the copy's state of each is the one to keep. */
static void apply(struct xsd *x, struct txn *t)
{
    struct pending *todo;
    struct access *a;
    unsigned n = 0, i;

    todo = xmalloc((t->count ? t->count : 1) * sizeof(*todo));
    for (a = t->first; a; a = a->next) {
        if (!a->modified)
            continue;
        todo[n].a = a;
        todo[n].depth = path_depth(a->path);
        todo[n].order = n;
        n++;
    }
    qsort(todo, n, sizeof(*todo), by_depth);
    for (i = 0; i < n; i++) {
        const char *path = todo[i].a->path;
        const struct node *tn = store_lookup(t->root, path);
        struct node *g = store_lookup(x->root, path);

        if (!tn) {
            if (g && g->parent) {
                node_detach(g);
                node_free(g);
            }
            continue;
        }
        if (!g) {
            char *ppath = path_parent(path);
            struct node *parent = store_lookup(x->root, ppath);

            free(ppath);
            if (!parent) {
                xsd_log("transaction commit: no parent for %s", path);
                continue;
            }
            g = node_new(tn->name, strlen(tn->name), &tn->perms);
            node_attach(parent, g);
        }
        apply_node(g, tn);
    }
    free(todo);
}

int txn_end(struct conn *c, struct txn *t, bool commit)
{
    struct xsd *x = c->xsd;
    struct txn **pt;
    const struct access *a;
    int ret = 0;

    for (pt = &c->txns; *pt != t; pt = &(*pt)->next)
        ;
    *pt = t->next;
    c->ntxns--;
    if (commit) {
        if (conflicts(t, x->root)) {
            ret = EAGAIN;
        } else {
            apply(x, t);
            for (a = t->first; a; a = a->next)
                if (a->fire)
                    watch_fire(x, a->path, NULL, a->exact,
                               a->existed ? &a->oldperms : NULL);
        }
    }
    txn_free(t);
    return ret;
}
