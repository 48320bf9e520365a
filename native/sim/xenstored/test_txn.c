/* Transactions through the real libxenstore: a private view, commit,
 * abort, EAGAIN on a conflicting change and a successful retry, events only
 * at commit, and the other requests inside a transaction. */
#include <stdio.h>
#include <stdlib.h>

#include "test_harness.h"

static void test_commit_abort(struct xs_handle *h, struct xs_handle *o)
{
    xs_transaction_t t;
    unsigned len;

    t = xs_transaction_start(h);
    CHECK(t != XBT_NULL);
    CHECK(th_write(h, t, "/t/a", "1"));
    CHECK_STR(th_read(h, t, "/t/a"), "1");
    /* Nobody else sees it before the commit. */
    CHECK_ERR(xs_read(o, XBT_NULL, "/t/a", &len), ENOENT);
    CHECK_ERR(xs_read(h, XBT_NULL, "/t/a", &len), ENOENT);
    CHECK(xs_transaction_end(h, t, false));
    CHECK_STR(th_read(o, XBT_NULL, "/t/a"), "1");

    t = xs_transaction_start(h);
    CHECK(th_write(h, t, "/t/b", "1"));
    CHECK(xs_rm(h, t, "/t/a"));
    CHECK(xs_transaction_end(h, t, true));
    CHECK_ERR(xs_read(o, XBT_NULL, "/t/b", &len), ENOENT);
    CHECK_STR(th_read(o, XBT_NULL, "/t/a"), "1");
    /* The id is gone after the end. */
    CHECK_ERR(xs_transaction_end(h, t, false), ENOENT);
    CHECK_ERR(xs_read(h, t, "/t/a", &len), ENOENT);
}

static void test_private_view(struct xs_handle *h, struct xs_handle *o)
{
    xs_transaction_t t;
    unsigned len;

    CHECK(th_write(o, XBT_NULL, "/v/x", "old"));
    t = xs_transaction_start(h);
    /* Changes after the start are not seen inside. */
    CHECK(th_write(o, XBT_NULL, "/v/x", "new"));
    CHECK(th_write(o, XBT_NULL, "/v/y", "new"));
    CHECK_STR(th_read(h, t, "/v/x"), "old");
    CHECK_ERR(xs_read(h, t, "/v/y", &len), ENOENT);
    CHECK(xs_transaction_end(h, t, true));
}

static void test_conflict(struct xs_handle *h, struct xs_handle *o)
{
    xs_transaction_t t;
    unsigned len;
    int tries = 0;
    bool ok;

    CHECK(th_write(o, XBT_NULL, "/c/state", "1"));
    t = xs_transaction_start(h);
    CHECK_STR(th_read(h, t, "/c/state"), "1");
    CHECK(th_write(o, XBT_NULL, "/c/state", "2"));     /* someone else */
    CHECK(th_write(h, t, "/c/result", "from-1"));
    CHECK_ERR(xs_transaction_end(h, t, false), EAGAIN);
    CHECK_ERR(xs_read(o, XBT_NULL, "/c/result", &len), ENOENT);

    /* The usual retry loop then succeeds. */
    do {
        char value[32];

        t = xs_transaction_start(h);
        CHECK(t != XBT_NULL);
        snprintf(value, sizeof(value), "from-%s", th_read(h, t, "/c/state"));
        CHECK(th_write(h, t, "/c/result", value));
        ok = xs_transaction_end(h, t, false);
        CHECK(ok || errno == EAGAIN);
    } while (!ok && ++tries < 5);
    CHECK(ok);
    CHECK_STR(th_read(o, XBT_NULL, "/c/result"), "from-2");

    /* Writes conflict too, and so does a node created meanwhile. */
    t = xs_transaction_start(h);
    CHECK(th_write(h, t, "/c/state", "3"));
    CHECK(th_write(o, XBT_NULL, "/c/state", "4"));
    CHECK_ERR(xs_transaction_end(h, t, false), EAGAIN);
    CHECK_STR(th_read(o, XBT_NULL, "/c/state"), "4");
    t = xs_transaction_start(h);
    CHECK_ERR(xs_read(h, t, "/c/later", &len), ENOENT);
    CHECK(th_write(o, XBT_NULL, "/c/later", "x"));
    CHECK_ERR(xs_transaction_end(h, t, false), EAGAIN);

    /* Changes to nodes the transaction never touched do not conflict. */
    t = xs_transaction_start(h);
    CHECK_STR(th_read(h, t, "/c/state"), "4");
    CHECK(th_write(h, t, "/c/mine", "m"));
    CHECK(th_write(o, XBT_NULL, "/elsewhere", "e"));
    CHECK(xs_transaction_end(h, t, false));
    CHECK_STR(th_read(o, XBT_NULL, "/c/mine"), "m");

    /* Two transactions, the first to commit wins. */
    {
        xs_transaction_t t1 = xs_transaction_start(h), t2 = xs_transaction_start(o);

        CHECK(t1 != XBT_NULL && t2 != XBT_NULL);
        CHECK_STR(th_read(h, t1, "/c/state"), "4");
        CHECK_STR(th_read(o, t2, "/c/state"), "4");
        CHECK(th_write(h, t1, "/c/state", "5"));
        CHECK(th_write(o, t2, "/c/state", "6"));
        CHECK(xs_transaction_end(h, t1, false));
        CHECK_ERR(xs_transaction_end(o, t2, false), EAGAIN);
        CHECK_STR(th_read(o, XBT_NULL, "/c/state"), "5");
    }
}

static void test_events_at_commit(struct xs_handle *h, struct xs_handle *o,
                                  struct xs_handle *w)
{
    xs_transaction_t t;

    CHECK(xs_watch(w, "/tw", "tw"));
    CHECK_EVENT(w, "/tw", "tw");
    CHECK(xs_watch(w, "/bar", "bar"));
    CHECK_EVENT(w, "/bar", "bar");
    CHECK(th_write(o, XBT_NULL, "/tw/old/child", "1"));
    CHECK_EVENT(w, "/tw/old/child", "tw");

    t = xs_transaction_start(h);
    CHECK(th_write(h, t, "/tw/x", "1"));
    CHECK(th_write(h, t, "/tw/x", "2"));
    CHECK(xs_mkdir(h, t, "/tw/y"));
    CHECK(xs_rm(h, t, "/tw/old"));
    /* Nothing yet: the barrier comes first. */
    CHECK(th_write(o, XBT_NULL, "/bar/1", "1"));
    CHECK_EVENT(w, "/bar/1", "bar");
    CHECK(xs_transaction_end(h, t, false));
    /* One event per node changed, in the order they were first touched:
     * the second write to /tw/x adds none. */
    CHECK_EVENT(w, "/tw/x", "tw");
    CHECK_EVENT(w, "/tw/y", "tw");
    CHECK_EVENT(w, "/tw/old", "tw");
    CHECK(th_write(o, XBT_NULL, "/bar/2", "1"));
    CHECK_EVENT(w, "/bar/2", "bar");
    CHECK_STR(th_read(o, XBT_NULL, "/tw/x"), "2");

    /* An aborted or failed transaction fires nothing. */
    t = xs_transaction_start(h);
    CHECK(th_write(h, t, "/tw/z", "1"));
    CHECK(xs_transaction_end(h, t, true));
    t = xs_transaction_start(h);
    CHECK_STR(th_read(h, t, "/tw/x"), "2");
    CHECK(th_write(h, t, "/tw/z", "1"));
    CHECK(th_write(o, XBT_NULL, "/tw/x", "3"));
    CHECK_EVENT(w, "/tw/x", "tw");
    CHECK_ERR(xs_transaction_end(h, t, false), EAGAIN);
    CHECK(th_write(o, XBT_NULL, "/bar/3", "1"));
    CHECK_EVENT(w, "/bar/3", "bar");
}

static void test_requests_inside(struct xs_handle *h, struct xs_handle *o)
{
    struct xs_permissions p = { 0, XS_PERM_READ }, *got;
    xs_transaction_t t;
    char path[64];
    unsigned num, i, len;
    char **d;

    t = xs_transaction_start(h);
    for (i = 0; i < 300; i++) {
        snprintf(path, sizeof(path), "/in/a-rather-long-child-name-%03u", i);
        CHECK(xs_mkdir(h, t, path));
    }
    /* DIRECTORY_PART paging inside the transaction's view. */
    d = xs_directory(h, t, "/in", &num);
    CHECK(d && num == 300);
    CHECK_STR(d[299], "a-rather-long-child-name-299");
    free(d);
    CHECK_ERR(xs_directory(o, XBT_NULL, "/in", &num), ENOENT);
    CHECK(xs_set_permissions(h, t, "/in", &p, 1));
    got = xs_get_permissions(h, t, "/in", &num);
    CHECK(got && num == 1 && got[0].perms == XS_PERM_READ);
    free(got);
    CHECK(xs_rm(h, t, "/in/a-rather-long-child-name-000"));
    CHECK(xs_transaction_end(h, t, false));
    d = xs_directory(o, XBT_NULL, "/in", &num);
    CHECK(d && num == 299);
    CHECK_STR(d[0], "a-rather-long-child-name-001");
    free(d);
    got = xs_get_permissions(o, XBT_NULL, "/in", &num);
    CHECK(got && num == 1 && got[0].perms == XS_PERM_READ);
    free(got);

    /* Removing and recreating a subtree in one transaction. */
    CHECK(th_write(o, XBT_NULL, "/rr/old/x", "1"));
    t = xs_transaction_start(h);
    CHECK(xs_rm(h, t, "/rr"));
    CHECK(th_write(h, t, "/rr/new", "2"));
    CHECK(xs_transaction_end(h, t, false));
    CHECK_ERR(xs_read(o, XBT_NULL, "/rr/old/x", &len), ENOENT);
    CHECK_STR(th_read(o, XBT_NULL, "/rr/new"), "2");
    d = xs_directory(o, XBT_NULL, "/rr", &num);
    CHECK(d && num == 1);
    free(d);

    /* An unknown transaction id. */
    CHECK_ERR(xs_read(h, 4242, "/rr/new", &len), ENOENT);
    CHECK_ERR(xs_transaction_end(h, 4242, false), ENOENT);
}

static void test_domain_txn(struct xs_handle *h)
{
    struct xs_handle *d5;
    xs_transaction_t t;
    unsigned len;

    CHECK(xs_introduce_domain(h, 5, 0, 1));
    d5 = th_open_domain(5);
    t = xs_transaction_start(d5);
    CHECK(t != XBT_NULL);
    CHECK(th_write(d5, t, "device/vbd/51712/state", "4"));
    CHECK_ERR(xs_read(d5, t, "/tool", &len), EACCES);
    CHECK_ERR(xs_write(d5, t, "/x", "1", 1), EACCES);
    CHECK(xs_transaction_end(d5, t, false));
    CHECK_STR(th_read(h, XBT_NULL, "/local/domain/5/device/vbd/51712/state"), "4");
    xs_close(d5);
}

int main(void)
{
    struct xs_handle *h, *o, *w;

    th_start();
    h = th_open();
    o = th_open();
    w = th_open();
    test_commit_abort(h, o);
    test_private_view(h, o);
    test_conflict(h, o);
    test_events_at_commit(h, o, w);
    test_requests_inside(h, o);
    test_domain_txn(h);
    xs_close(w);
    xs_close(o);
    xs_close(h);
    th_stop();
    puts("test_txn: ok");
    return 0;
}
