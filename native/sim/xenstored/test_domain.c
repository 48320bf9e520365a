/* Domains: XS_INTRODUCE opens socket.d<N> and makes /local/domain/<N>,
 * XS_RELEASE closes the socket and the domain's connections and leaves its
 * nodes alone; @introduceDomain and @releaseDomain fire; argument checks. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "test_harness.h"

static bool exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

static void test_introduce_release(struct xs_handle *h)
{
    struct xs_permissions *p;
    struct xs_handle *d3, *d3b;
    unsigned num, len;
    char *path;

    CHECK(xs_watch(h, "@introduceDomain", "i"));
    CHECK_EVENT(h, "@introduceDomain", "i");
    CHECK(xs_watch(h, "@releaseDomain", "r"));
    CHECK_EVENT(h, "@releaseDomain", "r");

    CHECK(!exists(th_socket(3)));
    CHECK(!xs_is_domain_introduced(h, 3));
    CHECK(xs_introduce_domain(h, 3, 0x1234, 7));
    CHECK_EVENT(h, "@introduceDomain", "i");
    CHECK(exists(th_socket(3)));
    CHECK(xs_is_domain_introduced(h, 3));
    p = xs_get_permissions(h, XBT_NULL, "/local/domain/3", &num);
    CHECK(p && num == 1 && p[0].id == 3 && p[0].perms == XS_PERM_NONE);
    free(p);
    path = xs_get_domain_path(h, 3);
    CHECK_STR(path, "/local/domain/3");
    free(path);

    /* Several clients may connect as the domain. */
    d3 = th_open_domain(3);
    d3b = th_open_domain(3);
    CHECK(th_write(d3, XBT_NULL, "x", "1"));
    CHECK_STR(th_read(d3b, XBT_NULL, "x"), "1");
    CHECK(xs_watch(d3, "x", "dx"));
    CHECK_EVENT(d3, "x", "dx");

    /* Introduced again: no event, the domain's watches are reset. */
    CHECK(xs_introduce_domain(h, 3, 0x1234, 7));
    CHECK(xs_watch(d3, "bar", "b"));
    CHECK_EVENT(d3, "bar", "b");
    CHECK(th_write(h, XBT_NULL, "/local/domain/3/x", "2"));
    CHECK(th_write(h, XBT_NULL, "/local/domain/3/bar", "2"));
    CHECK_EVENT(d3, "bar", "b");
    CHECK(xs_release_domain(h, 3));
    CHECK_EVENT(h, "@releaseDomain", "r");

    /* Its connections are closed, its socket gone, its nodes kept. */
    CHECK(!exists(th_socket(3)));
    CHECK(!xs_is_domain_introduced(h, 3));
    errno = 0;
    CHECK(xs_read(d3, XBT_NULL, "x", &len) == NULL);
    CHECK(xs_read(d3b, XBT_NULL, "x", &len) == NULL);
    CHECK_STR(th_read(h, XBT_NULL, "/local/domain/3/x"), "2");
    xs_close(d3);
    xs_close(d3b);
    setenv("XENSTORED_PATH", th_socket(3), 1);
    CHECK(xs_open(0) == NULL);
    CHECK_ERR(xs_release_domain(h, 3), ENOENT);

    /* And back again; the existing home keeps its permissions. */
    CHECK(xs_set_permissions(h, XBT_NULL, "/local/domain/3",
                             (struct xs_permissions[]){ { 0, XS_PERM_NONE },
                                                        { 3, XS_PERM_READ } }, 2));
    CHECK(xs_introduce_domain(h, 3, 0x1234, 7));
    CHECK_EVENT(h, "@introduceDomain", "i");
    d3 = th_open_domain(3);
    CHECK_STR(th_read(d3, XBT_NULL, "x"), "2");
    CHECK_ERR(xs_write(d3, XBT_NULL, "y", "1", 1), EACCES);
    xs_close(d3);
    CHECK(xs_release_domain(h, 3));
    CHECK_EVENT(h, "@releaseDomain", "r");
}

static void test_bad_arguments(struct xs_handle *h)
{
    CHECK_ERR(xs_introduce_domain(h, 0, 0, 1), EINVAL);
    CHECK_ERR(xs_introduce_domain(h, 4, 0, 0), EINVAL);
    CHECK_ERR(xs_introduce_domain(h, 0x7ff0, 0, 1), EINVAL);
    CHECK_ERR(xs_release_domain(h, 0), EINVAL);
    CHECK_ERR(xs_release_domain(h, 12), ENOENT);
    CHECK_ERR(xs_resume_domain(h, 12), ENOENT);
}

/* Domains and dom0 clients coming and going while others keep working. */
static void test_many(struct xs_handle *h)
{
    struct xs_handle *d[6];
    char path[64];
    unsigned i;

    for (i = 0; i < 6; i++) {
        CHECK(xs_introduce_domain(h, 10 + i, 0, 1));
        d[i] = th_open_domain(10 + i);
        CHECK(th_write(d[i], XBT_NULL, "name", "guest"));
    }
    for (i = 0; i < 6; i += 2) {
        CHECK(xs_release_domain(h, 10 + i));
        CHECK(xs_read(d[i], XBT_NULL, "name", NULL) == NULL);
    }
    for (i = 1; i < 6; i += 2) {
        snprintf(path, sizeof(path), "/local/domain/%u/name", 10 + i);
        CHECK_STR(th_read(d[i], XBT_NULL, "name"), "guest");
        CHECK_STR(th_read(h, XBT_NULL, path), "guest");
    }
    for (i = 0; i < 6; i++)
        xs_close(d[i]);
    /* The remaining domains' sockets go when the server stops. */
}

int main(void)
{
    struct xs_handle *h;

    th_start();
    h = th_open();
    test_introduce_release(h);
    test_bad_arguments(h);
    test_many(h);
    xs_close(h);
    th_stop();
    puts("test_domain: ok");
    return 0;
}
