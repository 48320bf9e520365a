/* Permissions through the real libxenstore, with a client connected as
 * domain 5 through socket.d5: what it may read and write, the errors it
 * gets, inheritance and ownership of the nodes it creates, SET_PERMS
 * rules, XS_SET_TARGET and the unprivileged quotas. */
#include <stdio.h>
#include <stdlib.h>

#include "test_harness.h"

static void set_perms(struct xs_handle *h, const char *path, const char *spec)
{
    struct xs_permissions p[8];
    unsigned n = 0;
    const char *s = spec;

    /* spec like "n0,r5": letter and domid per entry. */
    while (*s && n < 8) {
        char *end;

        p[n].perms = *s == 'r' ? XS_PERM_READ : *s == 'w' ? XS_PERM_WRITE
                   : *s == 'b' ? XS_PERM_READ | XS_PERM_WRITE : XS_PERM_NONE;
        p[n].id = (unsigned)strtoul(s + 1, &end, 10);
        n++;
        s = *end == ',' ? end + 1 : end;
    }
    if (!xs_set_permissions(h, XBT_NULL, path, p, n))
        th_fail(__FILE__, __LINE__, "set_permissions %s %s: %s", path, spec,
                strerror(errno));
}

/* GET_PERMS as "n0,r5". */
static const char *get_perms(struct xs_handle *h, const char *path)
{
    static char out[128];
    struct xs_permissions *p;
    unsigned n, i;
    size_t off = 0;

    p = xs_get_permissions(h, XBT_NULL, path, &n);
    if (!p)
        return NULL;
    out[0] = '\0';
    for (i = 0; i < n; i++) {
        char c = p[i].perms == XS_PERM_READ ? 'r' : p[i].perms == XS_PERM_WRITE ? 'w'
               : p[i].perms == (XS_PERM_READ | XS_PERM_WRITE) ? 'b' : 'n';

        off += (size_t)snprintf(out + off, sizeof(out) - off, "%s%c%u",
                                i ? "," : "", c, p[i].id);
    }
    free(p);
    return out;
}

static void test_denied(struct xs_handle *d5)
{
    unsigned len, num;

    /* The tree is dom0's (n0): nothing to read or write, and a missing
     * node reads as EACCES too, not ENOENT. */
    CHECK_ERR(xs_read(d5, XBT_NULL, "/tool", &len), EACCES);
    CHECK_ERR(xs_read(d5, XBT_NULL, "/nonexistent", &len), EACCES);
    CHECK_ERR(xs_directory(d5, XBT_NULL, "/", &num), EACCES);
    CHECK_ERR(xs_write(d5, XBT_NULL, "/x", "1", 1), EACCES);
    CHECK_ERR(xs_mkdir(d5, XBT_NULL, "/tool/x"), EACCES);
    CHECK_ERR(xs_rm(d5, XBT_NULL, "/tool"), EACCES);
    CHECK_ERR(xs_get_permissions(d5, XBT_NULL, "/tool", &num), EACCES);
    /* Privileged requests. */
    CHECK_ERR(xs_introduce_domain(d5, 6, 0, 1), EACCES);
    CHECK_ERR(xs_release_domain(d5, 5), EACCES);
    CHECK_ERR(xs_control_command(d5, "check", NULL, 0), EACCES);
    CHECK_ERR(xs_set_target(d5, 5, 5), EACCES);
}

static void test_home(struct xs_handle *h, struct xs_handle *d5)
{
    char *p;

    /* INTRODUCE made /local/domain/5, owned by 5. */
    CHECK_STR(get_perms(h, "/local/domain/5"), "n5");
    p = xs_get_domain_path(d5, 5);
    CHECK_STR(p, "/local/domain/5");
    free(p);
    /* Relative paths are relative to the home; new nodes are the domain's. */
    CHECK(th_write(d5, XBT_NULL, "data/foo", "1"));
    CHECK_STR(th_read(d5, XBT_NULL, "data/foo"), "1");
    CHECK_STR(th_read(h, XBT_NULL, "/local/domain/5/data/foo"), "1");
    CHECK_STR(get_perms(h, "/local/domain/5/data/foo"), "n5");
    CHECK_STR(get_perms(d5, "data"), "n5");
    /* What dom0 creates there keeps the inherited owner: 5. */
    CHECK(th_write(h, XBT_NULL, "/local/domain/5/fromdom0", "x"));
    CHECK_STR(get_perms(h, "/local/domain/5/fromdom0"), "n5");
    CHECK(xs_rm(d5, XBT_NULL, "fromdom0"));
}

static void test_shared(struct xs_handle *h, struct xs_handle *d5)
{
    unsigned len;

    CHECK(xs_mkdir(h, XBT_NULL, "/shared"));
    set_perms(h, "/shared", "n0,r5");
    CHECK_STR(th_read(d5, XBT_NULL, "/shared"), "");
    CHECK_ERR(xs_write(d5, XBT_NULL, "/shared", "x", 1), EACCES);
    /* Creating below needs write access to the nearest existing node. */
    CHECK_ERR(xs_write(d5, XBT_NULL, "/shared/x/y", "1", 1), EACCES);
    /* The parent is readable, so a missing child is plain ENOENT. */
    CHECK_ERR(xs_read(d5, XBT_NULL, "/shared/missing", &len), ENOENT);

    CHECK(xs_mkdir(h, XBT_NULL, "/shared/rw"));
    set_perms(h, "/shared/rw", "n0,b5");
    /* Inherited permissions with the creator as owner. */
    CHECK(th_write(d5, XBT_NULL, "/shared/rw/new/leaf", "v"));
    CHECK_STR(get_perms(h, "/shared/rw/new"), "n5,b5");
    CHECK_STR(get_perms(h, "/shared/rw/new/leaf"), "n5,b5");
    CHECK(th_write(h, XBT_NULL, "/shared/rw/bydom0", "v"));
    CHECK_STR(get_perms(h, "/shared/rw/bydom0"), "n0,b5");
    CHECK_STR(th_read(d5, XBT_NULL, "/shared/rw/bydom0"), "v");
    CHECK(th_write(d5, XBT_NULL, "/shared/rw/bydom0", "w"));

    /* SET_PERMS: the owner may, but not give the node away... */
    set_perms(d5, "/shared/rw/new", "n5,r0");
    CHECK_STR(get_perms(h, "/shared/rw/new"), "n5,r0");
    CHECK_ERR(xs_set_permissions(d5, XBT_NULL, "/shared/rw/new",
                                 (struct xs_permissions[]){ { 0, XS_PERM_NONE } }, 1),
              EPERM);
    /* ...and write access is not ownership. */
    CHECK_ERR(xs_set_permissions(d5, XBT_NULL, "/shared/rw/bydom0",
                                 (struct xs_permissions[]){ { 0, XS_PERM_NONE } }, 1),
              EACCES);
    /* dom0 may give anything to anyone. */
    set_perms(h, "/shared/rw/bydom0", "b5");
    CHECK_STR(get_perms(d5, "/shared/rw/bydom0"), "b5");

    /* Removing needs write access to the node only; its subtree goes too. */
    CHECK(xs_rm(d5, XBT_NULL, "/shared/rw/new"));
    CHECK_ERR(xs_read(h, XBT_NULL, "/shared/rw/new/leaf", &len), ENOENT);
}

static void test_defaults(struct xs_handle *h, struct xs_handle *d5)
{
    unsigned len;

    /* The first entry is also everyone else's access. */
    CHECK(th_write(h, XBT_NULL, "/pub", "p"));
    set_perms(h, "/pub", "r0");
    CHECK_STR(th_read(d5, XBT_NULL, "/pub"), "p");
    CHECK_ERR(xs_write(d5, XBT_NULL, "/pub", "x", 1), EACCES);
    /* A later entry for the domain overrides it. */
    set_perms(h, "/pub", "r0,n5");
    CHECK_ERR(xs_read(d5, XBT_NULL, "/pub", &len), EACCES);
    /* Write-only. */
    CHECK(xs_mkdir(h, XBT_NULL, "/wonly"));
    set_perms(h, "/wonly", "n0,w5");
    CHECK(th_write(d5, XBT_NULL, "/wonly", "secret"));
    CHECK_ERR(xs_read(d5, XBT_NULL, "/wonly", &len), EACCES);
    CHECK_STR(th_read(h, XBT_NULL, "/wonly"), "secret");
    /* Malformed permission strings. */
    CHECK_ERR(xs_set_permissions(h, XBT_NULL, "/pub",
                                 (struct xs_permissions[]){ { 70000, XS_PERM_NONE } }, 1),
              EINVAL);
}

static void test_target(struct xs_handle *h)
{
    struct xs_handle *d6;
    unsigned len;

    CHECK(xs_introduce_domain(h, 6, 0, 1));
    d6 = th_open_domain(6);
    CHECK_ERR(xs_read(d6, XBT_NULL, "/local/domain/5/data/foo", &len), EACCES);
    /* A device model domain acts for its target. */
    CHECK(xs_set_target(h, 6, 5));
    CHECK_STR(th_read(d6, XBT_NULL, "/local/domain/5/data/foo"), "1");
    CHECK(th_write(d6, XBT_NULL, "/local/domain/5/data/foo", "2"));
    xs_close(d6);
    CHECK(xs_release_domain(h, 6));
}

static void test_quota(struct xs_handle *h, struct xs_handle *d5)
{
    char big[3001];
    struct xs_permissions six[6];
    unsigned i;

    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    /* Unprivileged nodes are limited to 2 KiB; dom0's are not. */
    CHECK_ERR(xs_write(d5, XBT_NULL, "big", big, 3000), ENOSPC);
    CHECK(th_write(d5, XBT_NULL, "small", "s"));
    CHECK_ERR(xs_write(d5, XBT_NULL, "small", big, 3000), ENOSPC);
    CHECK_STR(th_read(d5, XBT_NULL, "small"), "s");
    CHECK(xs_write(h, XBT_NULL, "/local/domain/5/big", big, 3000));
    /* At most 5 permission entries for a domain. */
    for (i = 0; i < 6; i++) {
        six[i].id = i == 0 ? 5 : i;
        six[i].perms = XS_PERM_READ;
    }
    CHECK_ERR(xs_set_permissions(d5, XBT_NULL, "small", six, 6), ENOSPC);
    CHECK(xs_set_permissions(d5, XBT_NULL, "small", six, 5));
    /* The child list counts too: a directory fills up for the domain. */
    for (i = 0; i < 200; i++) {
        char path[64];

        snprintf(path, sizeof(path), "many/child-number-%03u", i);
        if (!xs_mkdir(d5, XBT_NULL, path))
            break;
    }
    CHECK(i > 50 && i < 200 && errno == ENOSPC);
    CHECK(xs_mkdir(h, XBT_NULL, "/local/domain/5/many/by-dom0"));
}

int main(void)
{
    struct xs_handle *h, *d5;

    th_start();
    h = th_open();
    CHECK(xs_introduce_domain(h, 5, 0x1000, 1));
    d5 = th_open_domain(5);
    test_denied(d5);
    test_home(h, d5);
    test_shared(h, d5);
    test_defaults(h, d5);
    test_target(h);
    test_quota(h, d5);
    xs_close(d5);
    xs_close(h);
    th_stop();
    puts("test_perms: ok");
    return 0;
}
