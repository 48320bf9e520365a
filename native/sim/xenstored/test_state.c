/* A live update (SIGUSR1 with --state-file): values (binary ones too),
 * permissions, introduced domains with their sockets and targets, and the
 * special watch permissions survive; connections do not, and new ones work
 * as before (watches fire on registration, domains use relative paths). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "test_harness.h"

static const char binary[] = { 'x', '\0', 'y', '\n', (char)0xff };

static void setup(struct xs_handle *h)
{
    struct xs_permissions p[2] = { { 5, XS_PERM_NONE }, { 7, XS_PERM_READ } };
    struct xs_permissions rel[2] = { { 0, XS_PERM_NONE }, { 5, XS_PERM_READ } };

    CHECK(xs_write(h, XBT_NULL, "/a/b", binary, sizeof(binary)));
    CHECK(xs_set_permissions(h, XBT_NULL, "/a/b", p, 2));
    CHECK(xs_write(h, XBT_NULL, "/a/empty", "", 0));
    CHECK(xs_introduce_domain(h, 5, 0, 1));
    CHECK(xs_introduce_domain(h, 6, 0, 1));
    CHECK(xs_set_target(h, 6, 5));
    CHECK(xs_set_permissions(h, XBT_NULL, "@releaseDomain", rel, 2));
}

static void check_kept(struct xs_handle *h)
{
    struct xs_permissions *p;
    struct xs_handle *d5, *d6;
    unsigned len, num;
    char *v;
    struct stat st;

    v = xs_read(h, XBT_NULL, "/a/b", &len);
    CHECK(v && len == sizeof(binary) && memcmp(v, binary, len) == 0);
    free(v);
    v = xs_read(h, XBT_NULL, "/a/empty", &len);
    CHECK(v && len == 0);
    free(v);
    p = xs_get_permissions(h, XBT_NULL, "/a/b", &num);
    CHECK(p && num == 2 && p[0].id == 5 && p[0].perms == XS_PERM_NONE && p[1].id == 7 && p[1].perms == XS_PERM_READ);
    free(p);
    CHECK(xs_is_domain_introduced(h, 5) && xs_is_domain_introduced(h, 6) && !xs_is_domain_introduced(h, 8));
    CHECK(stat(th_socket(5), &st) == 0 && stat(th_socket(6), &st) == 0);

    /* Domain 5 owns its home and /a/b; domain 6 acts for 5 (its target). */
    d5 = th_open_domain(5);
    CHECK(th_write(d5, XBT_NULL, "data/x", "1"));
    CHECK_STR(th_read(d5, XBT_NULL, "/local/domain/5/data/x"), "1");
    d6 = th_open_domain(6);
    v = xs_read(d6, XBT_NULL, "/a/b", &len);
    CHECK(v && len == sizeof(binary));
    free(v);
    /* @releaseDomain: domain 5 may watch it (r5). */
    CHECK(xs_watch(d5, "@releaseDomain", "r"));
    CHECK_EVENT(d5, "@releaseDomain", "r");
    xs_close(d6);
    xs_close(d5);
}

int main(void)
{
    struct xs_handle *h, *old;
    unsigned len;

    th_start();
    h = th_open();
    setup(h);
    check_kept(h);
    CHECK(xs_watch(h, "/a", "w"));
    CHECK_EVENT(h, "/a", "w");
    old = h;

    th_live_update();
    /* The old connection is gone: libxenstore fails its calls at once. */
    CHECK(xs_read(old, XBT_NULL, "/a/b", &len) == NULL);
    xs_close(old);
    h = th_open();
    check_kept(h);
    /* Watches are the clients' to register again; they fire on registration as ever. */
    CHECK(xs_watch(h, "/a", "w2"));
    CHECK_EVENT(h, "/a", "w2");
    CHECK(th_write(h, XBT_NULL, "/a/c", "3"));
    CHECK_EVENT(h, "/a/c", "w2");

    /* Twice in a row: the second server's store is the first's. */
    xs_close(h);
    th_live_update();
    h = th_open();
    check_kept(h);
    CHECK_STR(th_read(h, XBT_NULL, "/a/c"), "3");
    CHECK(xs_release_domain(h, 6));
    xs_close(h);
    th_stop();
    puts("test_state: ok");
    return 0;
}
