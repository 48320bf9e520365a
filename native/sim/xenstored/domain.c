/* Introduced domains and special watch permissions (see domain.h). */
#include "domain.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"
#include "perms.h"
#include "server.h"
#include "txn.h"
#include "util.h"
#include "view.h"
#include "watch.h"

static void default_special(struct perms *p)
{
    /* Owned by dom0, nobody else may watch (xenstored's default). */
    p->num = 1;
    p->p = xcalloc(1, sizeof(*p->p));
}

void domain_init(struct xsd *x)
{
    default_special(&x->introduce_perms);
    default_special(&x->release_perms);
}

void domain_fini(struct xsd *x)
{
    while (x->domains) {
        struct domain *d = x->domains;

        x->domains = d->next;
        free(d);
    }
    perms_free(&x->introduce_perms);
    perms_free(&x->release_perms);
}

struct domain *domain_find(struct xsd *x, unsigned domid)
{
    struct domain *d;

    for (d = x->domains; d; d = d->next)
        if (d->domid == domid)
            return d;
    return NULL;
}

long domain_target(struct xsd *x, unsigned domid)
{
    struct domain *d = domid ? domain_find(x, domid) : NULL;

    return d ? d->target : -1;
}

struct perms *domain_special_perms(struct xsd *x, const char *name)
{
    if (strcmp(name, "@introduceDomain") == 0)
        return &x->introduce_perms;
    if (strcmp(name, "@releaseDomain") == 0)
        return &x->release_perms;
    return NULL;
}

int domain_introduce(struct xsd *x, unsigned domid)
{
    struct domain *d = domain_find(x, domid);
    struct perms owned;
    struct view v;
    struct conn *c;
    char *path;
    int err;

    if (d) {
        for (c = x->conns; c; c = c->next) {
            if (c->domid == domid && !c->dead) {
                watch_free_all(c);
                txn_free_all(c);
            }
        }
        return 0;
    }
    path = xasprintf("%s/socket.d%u", x->dir, domid);
    d = xcalloc(1, sizeof(*d));
    d->domid = domid;
    d->target = -1;
    d->lis = listener_open(x, path, domid, &err);
    free(path);
    if (!d->lis) {
        free(d);
        return err;
    }
    d->next = x->domains;
    x->domains = d;

    /* The domain's home, owned by it, so it can use relative paths. */
    owned.num = 1;
    owned.p = xcalloc(1, sizeof(*owned.p));
    owned.p[0].id = domid;
    owned.p[0].perms = XS_PERM_NONE;
    path = path_home(domid);
    view_init(&v, x, NULL, NULL);
    err = view_mkdir(&v, path, &owned);
    if (err)
        xsd_log("cannot create %s: error %d", path, err);
    free(path);
    perms_free(&owned);

    watch_fire(x, "@introduceDomain", NULL, true, NULL);
    return 0;
}

int domain_release(struct xsd *x, unsigned domid)
{
    struct domain **pd, *d;
    struct conn *c;

    for (pd = &x->domains; *pd && (*pd)->domid != domid; pd = &(*pd)->next)
        ;
    d = *pd;
    if (!d)
        return ENOENT;
    for (c = x->conns; c; c = c->next)
        if (c->domid == domid && !c->dead)
            conn_drop(c);
    listener_close(d->lis);
    *pd = d->next;
    free(d);
    for (d = x->domains; d; d = d->next)
        if (d->target == (long)domid)
            d->target = -1;
    perms_forget_domain(&x->introduce_perms, domid);
    perms_forget_domain(&x->release_perms, domid);
    /* Its nodes stay: removing them is the toolstack's business here. */
    watch_fire(x, "@releaseDomain", NULL, true, NULL);
    return 0;
}

int domain_set_target(struct xsd *x, unsigned domid, unsigned target)
{
    struct domain *d = domain_find(x, domid);

    if (!d || !domain_find(x, target))
        return ENOENT;
    d->target = target;
    return 0;
}
