/* Permission strings and access (see perms.h). */
#include "perms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Domain ids are 16-bit; anything larger is refused rather than wrapped. */
#define DOMID_LIMIT 0xffffUL

bool perms_parse(const char *s, const char *end, unsigned num, struct perms *out)
{
    unsigned i;

    out->num = num;
    out->p = xcalloc(num, sizeof(*out->p));
    for (i = 0; i < num; i++) {
        const char *nul = memchr(s, '\0', (size_t)(end - s));
        char *e;
        unsigned long id;

        if (!nul)
            goto bad;
        switch (*s) {
        case 'r': out->p[i].perms = XS_PERM_READ; break;
        case 'w': out->p[i].perms = XS_PERM_WRITE; break;
        case 'b': out->p[i].perms = XS_PERM_READ | XS_PERM_WRITE; break;
        case 'n': out->p[i].perms = XS_PERM_NONE; break;
        default: goto bad;
        }
        s++;
        if (*s < '0' || *s > '9')
            goto bad;
        id = strtoul(s, &e, 10);
        if (e != nul || id > DOMID_LIMIT)
            goto bad;
        out->p[i].id = (unsigned)id;
        s = nul + 1;
    }
    return true;
bad:
    perms_free(out);
    return false;
}

char *perms_format(const struct perms *p, size_t *len)
{
    /* One letter, up to 10 digits and a NUL per entry. */
    char *buf = xmalloc(p->num * 12 + 1);
    size_t off = 0;
    unsigned i;

    for (i = 0; i < p->num; i++) {
        char c;

        switch (p->p[i].perms & (XS_PERM_READ | XS_PERM_WRITE)) {
        case XS_PERM_READ: c = 'r'; break;
        case XS_PERM_WRITE: c = 'w'; break;
        case XS_PERM_READ | XS_PERM_WRITE: c = 'b'; break;
        default: c = 'n'; break;
        }
        off += (size_t)snprintf(buf + off, 12, "%c%u", c, p->p[i].id) + 1;
    }
    *len = off;
    return buf;
}

unsigned perms_access(const struct perms *p, unsigned domid, bool privileged,
                      long target)
{
    const unsigned all = XS_PERM_READ | XS_PERM_WRITE | XS_PERM_OWNER;
    unsigned i;

    if (privileged || p->p[0].id == domid ||
        (target >= 0 && p->p[0].id == (unsigned long)target))
        return all;
    for (i = 1; i < p->num; i++)
        if (p->p[i].id == domid ||
            (target >= 0 && p->p[i].id == (unsigned long)target))
            return p->p[i].perms & all;
    return p->p[0].perms & all;
}

void perms_forget_domain(struct perms *p, unsigned domid)
{
    unsigned cur, keep;

    if (p->p[0].id == domid)
        p->p[0].id = 0;
    for (cur = keep = 1; cur < p->num; cur++)
        if (p->p[cur].id != domid)
            p->p[keep++] = p->p[cur];
    p->num = keep;
}
