/* The tree through the real libxenstore as dom0: read, write, mkdir, rm,
 * directory (also one big enough for libxenstore's DIRECTORY_PART paging),
 * relative paths, path validation, and the small domain and control
 * requests. */
#include <stdio.h>
#include <stdlib.h>

#include "test_harness.h"

static bool has(char **list, unsigned num, const char *name)
{
    unsigned i;

    for (i = 0; i < num; i++)
        if (strcmp(list[i], name) == 0)
            return true;
    return false;
}

static void test_initial_tree(struct xs_handle *h)
{
    unsigned num;
    char **d = xs_directory(h, XBT_NULL, "/", &num);

    CHECK(d && num == 1 && strcmp(d[0], "tool") == 0);
    free(d);
    d = xs_directory(h, XBT_NULL, "/tool", &num);
    CHECK(d && num == 1 && strcmp(d[0], "xenstored") == 0);
    free(d);
}

static void test_read_write(struct xs_handle *h)
{
    static const char bin[] = { 'a', 0, 'b', 0, 'c' };
    unsigned len;
    char *v;

    CHECK(th_write(h, XBT_NULL, "/a/b/c", "value"));
    CHECK_STR(th_read(h, XBT_NULL, "/a/b/c"), "value");
    /* Missing parents are created empty. */
    CHECK_STR(th_read(h, XBT_NULL, "/a"), "");
    CHECK_STR(th_read(h, XBT_NULL, "/a/b"), "");
    CHECK(th_write(h, XBT_NULL, "/a/b/c", "other"));
    CHECK_STR(th_read(h, XBT_NULL, "/a/b/c"), "other");
    CHECK(th_write(h, XBT_NULL, "/a/b/c", ""));
    CHECK_STR(th_read(h, XBT_NULL, "/a/b/c"), "");

    /* Values are bytes, NULs included. */
    CHECK(xs_write(h, XBT_NULL, "/bin", bin, sizeof(bin)));
    v = xs_read(h, XBT_NULL, "/bin", &len);
    CHECK(v && len == sizeof(bin) && memcmp(v, bin, len) == 0);
    free(v);

    CHECK_ERR(xs_read(h, XBT_NULL, "/nope", &len), ENOENT);
    CHECK_ERR(xs_read(h, XBT_NULL, "/a/nope/deeper", &len), ENOENT);
}

static void test_paths(struct xs_handle *h)
{
    char longpath[2200];
    unsigned len;

    CHECK_ERR(xs_read(h, XBT_NULL, "/a//b", &len), EINVAL);
    CHECK_ERR(xs_read(h, XBT_NULL, "/a/", &len), EINVAL);
    CHECK_ERR(xs_write(h, XBT_NULL, "/a b", "x", 1), EINVAL);
    CHECK_ERR(xs_write(h, XBT_NULL, "/a/b.c", "x", 1), EINVAL);
    CHECK_ERR(xs_read(h, XBT_NULL, "", &len), EINVAL);
    /* 2048 bytes is the limit past "/local/domain/<id>/" only. */
    memset(longpath, 'x', sizeof(longpath));
    longpath[0] = '/';
    longpath[2049] = '\0';
    CHECK_ERR(xs_write(h, XBT_NULL, longpath, "x", 1), EINVAL);
    longpath[2048] = '\0';
    CHECK(th_write(h, XBT_NULL, longpath, "ok"));
    CHECK(xs_rm(h, XBT_NULL, longpath));

    /* '@' and '-' and '_' are valid characters. */
    CHECK(th_write(h, XBT_NULL, "/odd/a-b_c@d", "1"));

    /* dom0's relative paths live in /local/domain/0. */
    CHECK(th_write(h, XBT_NULL, "rel/x", "r"));
    CHECK_STR(th_read(h, XBT_NULL, "/local/domain/0/rel/x"), "r");
    CHECK_STR(th_read(h, XBT_NULL, "rel/x"), "r");
}

static void test_mkdir(struct xs_handle *h)
{
    CHECK(xs_mkdir(h, XBT_NULL, "/m/n/o"));
    CHECK_STR(th_read(h, XBT_NULL, "/m/n/o"), "");
    CHECK(th_write(h, XBT_NULL, "/m/n", "kept"));
    CHECK(xs_mkdir(h, XBT_NULL, "/m/n"));
    CHECK_STR(th_read(h, XBT_NULL, "/m/n"), "kept");
    CHECK_ERR(xs_mkdir(h, XBT_NULL, "/m//n"), EINVAL);
}

static void test_rm(struct xs_handle *h)
{
    unsigned len;

    CHECK(th_write(h, XBT_NULL, "/r/a/b", "1"));
    CHECK(th_write(h, XBT_NULL, "/r/a/c", "2"));
    CHECK(th_write(h, XBT_NULL, "/r/keep", "3"));
    CHECK(xs_rm(h, XBT_NULL, "/r/a"));
    CHECK_ERR(xs_read(h, XBT_NULL, "/r/a/b", &len), ENOENT);
    CHECK_ERR(xs_read(h, XBT_NULL, "/r/a", &len), ENOENT);
    CHECK_STR(th_read(h, XBT_NULL, "/r/keep"), "3");
    /* Removing what is not there is fine if its parent is... */
    CHECK(xs_rm(h, XBT_NULL, "/r/a"));
    /* ...and ENOENT if the parent is missing too. */
    CHECK_ERR(xs_rm(h, XBT_NULL, "/r/a/b"), ENOENT);
    CHECK_ERR(xs_rm(h, XBT_NULL, "/"), EINVAL);
}

static void test_directory(struct xs_handle *h)
{
    char path[64], name[64];
    unsigned num, i;
    char **d;

    /* Children come in creation order. */
    CHECK(th_write(h, XBT_NULL, "/d/zeta", ""));
    CHECK(th_write(h, XBT_NULL, "/d/alpha", ""));
    CHECK(th_write(h, XBT_NULL, "/d/mid", ""));
    d = xs_directory(h, XBT_NULL, "/d", &num);
    CHECK(d && num == 3);
    CHECK_STR(d[0], "zeta");
    CHECK_STR(d[1], "alpha");
    CHECK_STR(d[2], "mid");
    free(d);
    CHECK(xs_rm(h, XBT_NULL, "/d/alpha"));
    d = xs_directory(h, XBT_NULL, "/d", &num);
    CHECK(d && num == 2 && strcmp(d[0], "zeta") == 0 && strcmp(d[1], "mid") == 0);
    free(d);

    d = xs_directory(h, XBT_NULL, "/d/zeta", &num);
    CHECK(d && num == 0);
    free(d);
    CHECK_ERR(xs_directory(h, XBT_NULL, "/d/none", &num), ENOENT);

    /* 700 names of ~22 bytes: three times what one reply can carry, so
     * XS_DIRECTORY answers E2BIG and libxenstore pages with
     * XS_DIRECTORY_PART. */
    for (i = 0; i < 700; i++) {
        snprintf(path, sizeof(path), "/big/child-with-long-name-%04u", i);
        CHECK(xs_mkdir(h, XBT_NULL, path));
    }
    d = xs_directory(h, XBT_NULL, "/big", &num);
    CHECK(d && num == 700);
    for (i = 0; i < 700; i++) {
        snprintf(name, sizeof(name), "child-with-long-name-%04u", i);
        CHECK_STR(d[i], name);
    }
    CHECK(!has(d, num, ""));
    free(d);
}

static void test_domain_requests(struct xs_handle *h)
{
    char *p = xs_get_domain_path(h, 7);
    char *r;

    CHECK_STR(p, "/local/domain/7");
    free(p);
    CHECK(xs_is_domain_introduced(h, 0));
    CHECK(!xs_is_domain_introduced(h, 9));
    CHECK(xs_set_target(h, 9, 10) == false && errno == ENOENT);
    CHECK(xs_resume_domain(h, 9) == false && errno == ENOENT);

    r = xs_control_command(h, "check", NULL, 0);
    CHECK_STR(r, "OK");
    free(r);
    r = xs_control_command(h, "help", NULL, 0);
    CHECK(r && strstr(r, "check"));
    free(r);
    r = xs_control_command(h, "print", "hello from test_basic", 22);
    CHECK_STR(r, "OK");
    free(r);
    CHECK_ERR(xs_control_command(h, "live-update", NULL, 0), EINVAL);
}

int main(void)
{
    struct xs_handle *h;

    th_start();
    h = th_open();
    test_initial_tree(h);
    test_read_write(h);
    test_paths(h);
    test_mkdir(h);
    test_rm(h);
    test_directory(h);
    test_domain_requests(h);
    xs_close(h);
    th_stop();
    puts("test_basic: ok");
    return 0;
}
