/* The node tree. */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

static uint64_t generation;

uint64_t store_next_gen(void)
{
    return ++generation;
}

void perms_copy(struct perms *dst, const struct perms *src)
{
    dst->num = src->num;
    dst->p = xmalloc(src->num * sizeof(*dst->p));
    memcpy(dst->p, src->p, src->num * sizeof(*dst->p));
}

void perms_free(struct perms *p)
{
    free(p->p);
    p->p = NULL;
    p->num = 0;
}

struct node *node_new(const char *name, size_t namelen, const struct perms *perms)
{
    struct node *n = xcalloc(1, sizeof(*n));

    n->name = xstrndup(name, namelen);
    perms_copy(&n->perms, perms);
    n->gen = store_next_gen();
    return n;
}

void node_free(struct node *n)
{
    unsigned i;

    if (!n)
        return;
    for (i = 0; i < n->nchild; i++)
        node_free(n->child[i]);
    free(n->child);
    free(n->name);
    free(n->value);
    perms_free(&n->perms);
    free(n);
}

struct node *node_clone(const struct node *n)
{
    struct node *c = xcalloc(1, sizeof(*c));
    unsigned i;

    c->name = xstrdup(n->name);
    perms_copy(&c->perms, &n->perms);
    c->gen = n->gen;
    if (n->vlen) {
        c->value = xmalloc(n->vlen);
        memcpy(c->value, n->value, n->vlen);
        c->vlen = n->vlen;
    }
    if (n->nchild) {
        c->child = xmalloc(n->nchild * sizeof(*c->child));
        c->capchild = c->nchild = n->nchild;
        for (i = 0; i < n->nchild; i++) {
            c->child[i] = node_clone(n->child[i]);
            c->child[i]->parent = c;
        }
    }
    return c;
}

struct node *node_child(const struct node *n, const char *name, size_t len)
{
    unsigned i;

    for (i = 0; i < n->nchild; i++) {
        const char *cn = n->child[i]->name;

        if (strncmp(cn, name, len) == 0 && cn[len] == '\0')
            return n->child[i];
    }
    return NULL;
}

void node_attach(struct node *parent, struct node *child)
{
    if (parent->nchild == parent->capchild) {
        parent->capchild = parent->capchild ? 2 * parent->capchild : 4;
        parent->child = xrealloc(parent->child,
                                 parent->capchild * sizeof(*parent->child));
    }
    parent->child[parent->nchild++] = child;
    child->parent = parent;
}

void node_detach(struct node *child)
{
    struct node *p = child->parent;
    unsigned i;

    if (!p)
        return;
    for (i = 0; i < p->nchild; i++)
        if (p->child[i] == child)
            break;
    if (i < p->nchild) {
        /* Keep the order: DIRECTORY_PART offsets depend on it. */
        memmove(&p->child[i], &p->child[i + 1],
                (p->nchild - i - 1) * sizeof(*p->child));
        p->nchild--;
    }
    child->parent = NULL;
}

void node_set_value(struct node *n, const void *value, unsigned len)
{
    free(n->value);
    n->value = NULL;
    n->vlen = len;
    if (len) {
        n->value = xmalloc(len);
        memcpy(n->value, value, len);
    }
}

void node_set_perms(struct node *n, const struct perms *perms)
{
    perms_free(&n->perms);
    perms_copy(&n->perms, perms);
}

size_t node_children_len(const struct node *n)
{
    size_t len = 0;
    unsigned i;

    for (i = 0; i < n->nchild; i++)
        len += strlen(n->child[i]->name) + 1;
    return len;
}

void node_children_write(const struct node *n, char *buf)
{
    unsigned i;

    for (i = 0; i < n->nchild; i++) {
        size_t l = strlen(n->child[i]->name) + 1;

        memcpy(buf, n->child[i]->name, l);
        buf += l;
    }
}

/* Walks path from the root; stops at the first missing component. */
static struct node *walk(struct node *root, const char *path, bool *complete)
{
    struct node *n = root;
    const char *p = path;

    *complete = true;
    while (*p == '/')
        p++;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        struct node *c = node_child(n, p, len);

        if (!c) {
            *complete = false;
            return n;
        }
        n = c;
        p += len;
        while (*p == '/')
            p++;
    }
    return n;
}

struct node *store_lookup(struct node *root, const char *path)
{
    bool complete;
    struct node *n = walk(root, path, &complete);

    return complete ? n : NULL;
}

struct node *store_nearest(struct node *root, const char *path)
{
    bool complete;

    return walk(root, path, &complete);
}
