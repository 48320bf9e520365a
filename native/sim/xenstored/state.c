/* The state file of a live update (see state.h): host-endian, written and read by the same build. */
#include "state.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "domain.h"
#include "util.h"

#define STATE_MAGIC "XSIMSTATE1\n"
#define STATE_MAX_LEN (1u << 20) /* no name, value or permission list comes near it */

static bool put_u32(FILE *f, uint32_t v)
{
    return fwrite(&v, sizeof(v), 1, f) == 1;
}

static bool put_bytes(FILE *f, const void *p, uint32_t len)
{
    return put_u32(f, len) && (len == 0 || fwrite(p, len, 1, f) == 1);
}

static bool put_perms(FILE *f, const struct perms *p)
{
    if (!put_u32(f, p->num))
        return false;
    for (unsigned i = 0; i < p->num; i++)
        if (!put_u32(f, p->p[i].id) || !put_u32(f, (uint32_t)p->p[i].perms))
            return false;
    return true;
}

static bool put_node(FILE *f, const struct node *n)
{
    if (!put_bytes(f, n->name, (uint32_t)strlen(n->name)) || !put_perms(f, &n->perms) ||
        !put_bytes(f, n->value, n->vlen) || !put_u32(f, n->nchild))
        return false;
    for (unsigned i = 0; i < n->nchild; i++)
        if (!put_node(f, n->child[i]))
            return false;
    return true;
}

bool state_save(struct xsd *x, const char *path)
{
    char *tmp = xasprintf("%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    bool ok = f != NULL;
    unsigned ndom = 0;
    struct domain *d;

    for (d = x->domains; d; d = d->next)
        ndom++;
    ok = ok && fwrite(STATE_MAGIC, strlen(STATE_MAGIC), 1, f) == 1 && put_u32(f, ndom);
    for (d = x->domains; ok && d; d = d->next)
        ok = put_u32(f, d->domid) && put_u32(f, (uint32_t)(int32_t)d->target);
    ok = ok && put_perms(f, &x->introduce_perms) && put_perms(f, &x->release_perms) && put_node(f, x->root);
    if (f && fclose(f) != 0)
        ok = false;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok) {
        xsd_log("cannot save the state to %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return ok;
}

static bool get_u32(FILE *f, uint32_t *v)
{
    return fread(v, sizeof(*v), 1, f) == 1;
}

/* A length-prefixed byte string, NUL-terminated for convenience. */
static char *get_bytes(FILE *f, uint32_t *len)
{
    char *p;

    if (!get_u32(f, len) || *len > STATE_MAX_LEN)
        return NULL;
    p = xmalloc(*len + 1);
    if (*len && fread(p, *len, 1, f) != 1) {
        free(p);
        return NULL;
    }
    p[*len] = '\0';
    return p;
}

static bool get_perms(FILE *f, struct perms *p)
{
    uint32_t num, id, perm;

    p->num = 0;
    p->p = NULL;
    if (!get_u32(f, &num) || num == 0 || num > STATE_MAX_LEN)
        return false;
    p->p = xcalloc(num, sizeof(*p->p));
    p->num = num;
    for (unsigned i = 0; i < num; i++) {
        if (!get_u32(f, &id) || !get_u32(f, &perm))
            return false;
        p->p[i].id = id;
        p->p[i].perms = perm;
    }
    return true;
}

static struct node *get_node(FILE *f, unsigned depth)
{
    uint32_t namelen, vlen, nchild;
    struct perms perms = { 0, NULL };
    char *name = NULL, *value = NULL;
    struct node *n = NULL;

    if (depth > 1024)
        return NULL;
    name = get_bytes(f, &namelen);
    if (!name || !get_perms(f, &perms))
        goto out;
    value = get_bytes(f, &vlen);
    if (!value || !get_u32(f, &nchild))
        goto out;
    n = node_new(name, namelen, &perms);
    if (vlen)
        node_set_value(n, value, vlen);
    for (uint32_t i = 0; i < nchild; i++) {
        struct node *c = get_node(f, depth + 1);

        if (!c) {
            node_free(n);
            n = NULL;
            goto out;
        }
        node_attach(n, c);
    }
out:
    free(name);
    free(value);
    perms_free(&perms);
    return n;
}

int state_load(struct xsd *x, const char *path)
{
    FILE *f = fopen(path, "rb");
    char magic[sizeof(STATE_MAGIC) - 1];
    struct perms intro = { 0, NULL }, rel = { 0, NULL };
    uint32_t ndom, *doms = NULL;
    struct node *root = NULL;
    bool ok;

    if (!f)
        return errno == ENOENT ? 0 : -1;
    ok = fread(magic, sizeof(magic), 1, f) == 1 && memcmp(magic, STATE_MAGIC, sizeof(magic)) == 0 &&
         get_u32(f, &ndom) && ndom <= 0x7ff0;
    if (ok) {
        doms = xcalloc(2 * (size_t)ndom + 1, sizeof(*doms));
        for (uint32_t i = 0; ok && i < ndom; i++)
            ok = get_u32(f, &doms[2 * i]) && get_u32(f, &doms[2 * i + 1]);
    }
    ok = ok && get_perms(f, &intro) && get_perms(f, &rel) && (root = get_node(f, 0)) != NULL;
    fclose(f);
    if (!ok) {
        xsd_log("%s: not a state file this server wrote", path);
        perms_free(&intro);
        perms_free(&rel);
        node_free(root);
        free(doms);
        return -1;
    }
    node_free(x->root);
    x->root = root;
    perms_free(&x->introduce_perms);
    perms_free(&x->release_perms);
    x->introduce_perms = intro;
    x->release_perms = rel;
    /* Introduced again: each domain's socket reopens, its home is already in the tree. */
    for (uint32_t i = 0; i < ndom; i++) {
        int err = domain_introduce(x, doms[2 * i]);

        if (err)
            xsd_log("cannot reintroduce domain %u: error %d", doms[2 * i], err);
    }
    for (uint32_t i = 0; i < ndom; i++)
        if ((int32_t)doms[2 * i + 1] >= 0)
            domain_set_target(x, doms[2 * i], doms[2 * i + 1]);
    free(doms);
    unlink(path); /* consumed: a later plain start begins afresh */
    return 1;
}
