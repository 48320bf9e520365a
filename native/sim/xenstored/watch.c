/* Watches (see watch.h). */
#include "watch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore_lib.h>

#include "domain.h"
#include "path.h"
#include "util.h"

/* xenstored's per-domain limit, applied to unprivileged connections. */
#define WATCH_QUOTA 128

static void watch_free(struct watch *w)
{
    free(w->node);
    free(w->token);
    free(w->relative_to);
    free(w);
}

int watch_add(struct conn *c, const char *path, const char *token,
              struct watch **added)
{
    struct watch *w, **tail;
    char *canon;

    if (path[0] == '@') {
        if (strlen(path) > XENSTORE_REL_PATH_MAX)
            return EINVAL;
    }
    canon = path_canonical(path, c->domid);
    if (canon[0] != '@' && !path_valid(canon)) {
        free(canon);
        return EINVAL;
    }
    for (w = c->watches; w; w = w->next) {
        if (strcmp(w->node, canon) == 0 && strcmp(w->token, token) == 0) {
            free(canon);
            return EEXIST;
        }
    }
    if (!conn_privileged(c) && c->nwatches > WATCH_QUOTA) {
        free(canon);
        return E2BIG;
    }
    w = xcalloc(1, sizeof(*w));
    w->node = canon;
    w->token = xstrdup(token);
    if (path[0] != '/' && path[0] != '@')
        w->relative_to = path_home(c->domid);
    /* Append: events for one change reach watches in registration order. */
    for (tail = &c->watches; *tail; tail = &(*tail)->next)
        ;
    *tail = w;
    c->nwatches++;
    *added = w;
    return 0;
}

/* The event path as the watcher wrote it: relative watches get relative
 * paths ("" for the home itself). */
static const char *watch_path(const struct watch *w, const char *name)
{
    const char *p = name;

    if (w->relative_to) {
        p += strlen(w->relative_to);
        if (*p == '/')
            p++;
    }
    return p;
}

void watch_fire_initial(struct conn *c, const struct watch *w)
{
    conn_event(c, watch_path(w, w->node), w->token);
}

int watch_remove(struct conn *c, const char *path, const char *token)
{
    struct watch **pw;
    char *canon = path_canonical(path, c->domid);

    for (pw = &c->watches; *pw; pw = &(*pw)->next) {
        struct watch *w = *pw;

        if (strcmp(w->node, canon) == 0 && strcmp(w->token, token) == 0) {
            *pw = w->next;
            watch_free(w);
            c->nwatches--;
            free(canon);
            return 0;
        }
    }
    free(canon);
    return ENOENT;
}

void watch_free_all(struct conn *c)
{
    while (c->watches) {
        struct watch *w = c->watches;

        c->watches = w->next;
        watch_free(w);
    }
    c->nwatches = 0;
}

/* xenstored's watch_permitted: the old permissions, the node or its parent
 * must be readable by the watcher. A node that is gone and had no old
 * permissions given is not. */
static bool permitted(struct xsd *x, const struct conn *c, const char *name,
                      const struct node *node, const struct perms *oldperms)
{
    const struct node *parent;

    if (oldperms && (conn_access(c, oldperms) & XS_PERM_READ))
        return true;
    if (!node)
        node = store_lookup(x->root, name);
    if (!node)
        return false;
    if (conn_access(c, &node->perms) & XS_PERM_READ)
        return true;
    parent = node->parent ? node->parent : node;
    return conn_access(c, &parent->perms) & XS_PERM_READ;
}

void watch_fire(struct xsd *x, const char *name, const struct node *node,
                bool exact, const struct perms *oldperms)
{
    bool special = name[0] == '@';
    struct conn *c;
    struct watch *w;

    for (c = x->conns; c; c = c->next) {
        if (c->dead || !c->watches)
            continue;
        if (special) {
            const struct perms *sp = domain_special_perms(x, name);

            if (!sp || !(conn_access(c, sp) & XS_PERM_READ))
                continue;
        } else if (!permitted(x, c, name, node, oldperms)) {
            continue;
        }
        for (w = c->watches; w; w = w->next) {
            /* Special events only ever match exactly (a watch on "/" does
             * not hear of @introduceDomain). */
            bool match = exact || special ? strcmp(name, w->node) == 0
                               : path_is_child(name, w->node);

            if (match)
                conn_event(c, watch_path(w, name), w->token);
        }
    }
}
