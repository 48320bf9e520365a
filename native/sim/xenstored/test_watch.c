/* Watches through the real libxenstore: the initial event, events for the
 * node and its descendants, relative paths, removal events, unwatch, events
 * interleaved with replies on one handle, permission filtering for a
 * domain, and the special @introduceDomain/@releaseDomain watches.
 *
 * "No event" is checked with a barrier: a later change the watcher does see
 * must be its very next event, as events reach a connection in order. */
#include <stdio.h>
#include <stdlib.h>

#include "test_harness.h"

/* Owned by dom0, nobody else may read. */
static void dom0_only(struct xs_handle *h, const char *path)
{
    struct xs_permissions p = { 0, XS_PERM_NONE };

    CHECK(xs_set_permissions(h, XBT_NULL, path, &p, 1));
}

/* Owned by dom0, readable by domid. */
static void readable_by(struct xs_handle *h, const char *path, unsigned domid)
{
    struct xs_permissions p[2] = { { 0, XS_PERM_NONE }, { domid, XS_PERM_READ } };

    CHECK(xs_set_permissions(h, XBT_NULL, path, p, 2));
}

static void test_basic_events(struct xs_handle *h, struct xs_handle *w)
{
    /* Fired once on registration, whether or not the node exists. */
    CHECK(xs_watch(h, "/w", "tok"));
    CHECK_EVENT(h, "/w", "tok");
    CHECK(th_write(w, XBT_NULL, "/w/a", "1"));
    CHECK_EVENT(h, "/w/a", "tok");
    CHECK(th_write(w, XBT_NULL, "/w", "x"));
    CHECK_EVENT(h, "/w", "tok");
    /* Only the node written fires, not the parents it created. */
    CHECK(th_write(w, XBT_NULL, "/w/b/c/d", "1"));
    CHECK_EVENT(h, "/w/b/c/d", "tok");
    /* Unrelated and prefix-sharing paths do not. */
    CHECK(th_write(w, XBT_NULL, "/other", "1"));
    CHECK(th_write(w, XBT_NULL, "/wx", "1"));
    CHECK(th_write(w, XBT_NULL, "/w/barrier", "1"));
    CHECK_EVENT(h, "/w/barrier", "tok");
    /* MKDIR of an existing node changes nothing and fires nothing. */
    CHECK(xs_mkdir(w, XBT_NULL, "/w/a"));
    CHECK(xs_mkdir(w, XBT_NULL, "/w/new"));
    CHECK_EVENT(h, "/w/new", "tok");
    /* Permission changes fire. */
    dom0_only(w, "/w/new");
    CHECK_EVENT(h, "/w/new", "tok");

    /* Same path, two tokens: two watches; same path and token: EEXIST. */
    CHECK(xs_watch(h, "/w", "tok2"));
    CHECK_EVENT(h, "/w", "tok2");
    CHECK_ERR(xs_watch(h, "/w", "tok"), EEXIST);
    CHECK(th_write(w, XBT_NULL, "/w/a", "2"));
    CHECK_EVENT(h, "/w/a", "tok");
    CHECK_EVENT(h, "/w/a", "tok2");
    CHECK(xs_unwatch(h, "/w", "tok2"));
    CHECK_ERR(xs_unwatch(h, "/w", "tok2"), ENOENT);
    CHECK_ERR(xs_watch(h, "/bad//path", "t"), EINVAL);
}

static void test_relative(struct xs_handle *h, struct xs_handle *w)
{
    CHECK(xs_watch(h, "rel", "r"));
    CHECK_EVENT(h, "rel", "r");
    CHECK(th_write(w, XBT_NULL, "/local/domain/0/rel/x", "1"));
    CHECK_EVENT(h, "rel/x", "r");
    CHECK(th_write(w, XBT_NULL, "rel", "1"));
    CHECK_EVENT(h, "rel", "r");
    /* The same node watched absolutely reports absolute paths. */
    CHECK(xs_watch(h, "/local/domain/0/rel", "abs"));
    CHECK_EVENT(h, "/local/domain/0/rel", "abs");
    CHECK(th_write(w, XBT_NULL, "rel/y", "1"));
    CHECK_EVENT(h, "rel/y", "r");
    CHECK_EVENT(h, "/local/domain/0/rel/y", "abs");
    CHECK(xs_unwatch(h, "rel", "r"));
    CHECK(xs_unwatch(h, "/local/domain/0/rel", "abs"));
}

static void test_rm_events(struct xs_handle *h, struct xs_handle *w)
{
    CHECK(xs_mkdir(w, XBT_NULL, "/w/gone/deep/er"));
    CHECK_EVENT(h, "/w/gone/deep/er", "tok");
    CHECK(xs_watch(h, "/w/gone/deep", "exact"));
    CHECK_EVENT(h, "/w/gone/deep", "exact");
    /* Removing /w/gone: the removed root reaches watches above it, each
     * removed descendant only watches set exactly on it, deepest first. */
    CHECK(xs_rm(w, XBT_NULL, "/w/gone"));
    CHECK_EVENT(h, "/w/gone/deep", "exact");
    CHECK_EVENT(h, "/w/gone", "tok");
    CHECK(th_write(w, XBT_NULL, "/w/barrier", "2"));
    CHECK_EVENT(h, "/w/barrier", "tok");
    CHECK(xs_unwatch(h, "/w/gone/deep", "exact"));
    /* Removing a missing node fires nothing. */
    CHECK(xs_rm(w, XBT_NULL, "/w/gone"));
    CHECK(th_write(w, XBT_NULL, "/w/barrier", "3"));
    CHECK_EVENT(h, "/w/barrier", "tok");
}

static void test_unwatch(struct xs_handle *h, struct xs_handle *w)
{
    CHECK(xs_watch(h, "/u", "u"));
    CHECK_EVENT(h, "/u", "u");
    CHECK(xs_unwatch(h, "/u", "u"));
    CHECK(th_write(w, XBT_NULL, "/u/x", "1"));
    CHECK(th_write(w, XBT_NULL, "/w/barrier", "4"));
    CHECK_EVENT(h, "/w/barrier", "tok");
}

/* xenblkd's claim watch: set where nothing exists yet, then a device
 * written in one transaction (each node fires, below the watch), then its
 * domain's directory removed (the removed root fires, and watches set
 * exactly on removed descendants). */
static void test_absent_tree(struct xs_handle *h, struct xs_handle *w)
{
    xs_transaction_t t;

    CHECK(xs_watch(h, "/be/qdisk", "claims"));
    CHECK_EVENT(h, "/be/qdisk", "claims");
    CHECK(xs_watch(h, "/be/qdisk/5/768", "dev"));
    CHECK_EVENT(h, "/be/qdisk/5/768", "dev");
    t = xs_transaction_start(w);
    CHECK(t != XBT_NULL);
    CHECK(th_write(w, t, "/be/qdisk/5/768/frontend-id", "5"));
    CHECK(th_write(w, t, "/be/qdisk/5/768/sm-data/key", "v"));
    CHECK(xs_transaction_end(w, t, false));
    CHECK_EVENT(h, "/be/qdisk/5/768/frontend-id", "claims");
    CHECK_EVENT(h, "/be/qdisk/5/768/frontend-id", "dev");
    CHECK_EVENT(h, "/be/qdisk/5/768/sm-data/key", "claims");
    CHECK_EVENT(h, "/be/qdisk/5/768/sm-data/key", "dev");
    CHECK(xs_rm(w, XBT_NULL, "/be/qdisk/5"));
    CHECK_EVENT(h, "/be/qdisk/5/768", "dev");
    CHECK_EVENT(h, "/be/qdisk/5", "claims");
    CHECK_NO_EVENT(h, 100);
    CHECK(xs_unwatch(h, "/be/qdisk", "claims"));
    CHECK(xs_unwatch(h, "/be/qdisk/5/768", "dev"));
}

/* Events for a handle's own writes arrive while it waits for the replies:
 * libxenstore must sort them out, every reply matched, every event kept. */
static void test_interleaved(struct xs_handle *h)
{
    char path[32];
    unsigned i;

    CHECK(xs_watch(h, "/i", "i"));
    for (i = 0; i < 200; i++) {
        snprintf(path, sizeof(path), "/i/k%u", i);
        CHECK(th_write(h, XBT_NULL, path, "v"));
        CHECK_STR(th_read(h, XBT_NULL, path), "v");
    }
    CHECK_EVENT(h, "/i", "i");
    for (i = 0; i < 200; i++) {
        snprintf(path, sizeof(path), "/i/k%u", i);
        CHECK_EVENT(h, path, "i");
    }
    CHECK(xs_unwatch(h, "/i", "i"));
}

static void test_domain_filter(struct xs_handle *w)
{
    struct xs_handle *d5;

    CHECK(xs_introduce_domain(w, 5, 0, 1));
    d5 = th_open_domain(5);
    /* The barrier: a node of domain 5's own, watched relatively. */
    CHECK(xs_watch(d5, "bar", "b"));
    CHECK_EVENT(d5, "bar", "b");
    CHECK(xs_mkdir(w, XBT_NULL, "/secret"));
    CHECK(xs_watch(d5, "/secret", "s"));
    CHECK_EVENT(d5, "/secret", "s");   /* initial events are never filtered */

    /* Neither /secret/a nor its parent is readable by 5: no event. */
    CHECK(th_write(w, XBT_NULL, "/secret/a", "1"));
    CHECK(th_write(w, XBT_NULL, "/local/domain/5/bar", "1"));
    CHECK_EVENT(d5, "bar", "b");

    /* Made readable: the SET_PERMS event is delivered. */
    readable_by(w, "/secret/a", 5);
    CHECK_EVENT(d5, "/secret/a", "s");
    CHECK(th_write(w, XBT_NULL, "/secret/a", "2"));
    CHECK_EVENT(d5, "/secret/a", "s");
    /* Losing access is still heard of (the old permissions count)... */
    dom0_only(w, "/secret/a");
    CHECK_EVENT(d5, "/secret/a", "s");
    /* ...but not what happens afterwards. */
    CHECK(th_write(w, XBT_NULL, "/secret/a", "3"));
    CHECK(th_write(w, XBT_NULL, "/local/domain/5/bar", "2"));
    CHECK_EVENT(d5, "bar", "b");

    /* As in xenstored, a readable parent is enough. */
    CHECK(xs_mkdir(w, XBT_NULL, "/open/hidden"));
    readable_by(w, "/open", 5);
    dom0_only(w, "/open/hidden");
    CHECK(xs_watch(d5, "/open", "o"));
    CHECK_EVENT(d5, "/open", "o");
    CHECK(th_write(w, XBT_NULL, "/open/hidden", "x"));
    CHECK_EVENT(d5, "/open/hidden", "o");

    /* A readable node removed: heard of, though it is gone. */
    readable_by(w, "/secret/a", 5);
    CHECK_EVENT(d5, "/secret/a", "s");
    CHECK(xs_rm(w, XBT_NULL, "/secret/a"));
    CHECK_EVENT(d5, "/secret/a", "s");

    /* A domain's relative watch reports paths relative to its home. */
    CHECK(th_write(w, XBT_NULL, "/local/domain/5/bar/deep", "1"));
    CHECK_EVENT(d5, "bar/deep", "b");
    xs_close(d5);
    CHECK(xs_release_domain(w, 5));
}

static void test_special(struct xs_handle *h, struct xs_handle *w)
{
    struct xs_handle *d5;

    CHECK(xs_watch(h, "@introduceDomain", "intro"));
    CHECK_EVENT(h, "@introduceDomain", "intro");
    CHECK(xs_watch(h, "@releaseDomain", "rel"));
    CHECK_EVENT(h, "@releaseDomain", "rel");
    CHECK(xs_watch(h, "/", "root"));
    CHECK_EVENT(h, "/", "root");

    CHECK(xs_introduce_domain(w, 7, 0, 1));
    /* Creating the home fires like any write; "/" hears it, not the
     * special event itself. */
    CHECK_EVENT(h, "/local/domain/7", "root");
    CHECK_EVENT(h, "@introduceDomain", "intro");
    CHECK(xs_release_domain(w, 7));
    CHECK_EVENT(h, "@releaseDomain", "rel");
    /* Introducing an introduced domain again fires nothing. */
    CHECK(xs_introduce_domain(w, 8, 0, 1));
    CHECK_EVENT(h, "/local/domain/8", "root");
    CHECK_EVENT(h, "@introduceDomain", "intro");
    CHECK(xs_introduce_domain(w, 8, 0, 1));
    CHECK(th_write(w, XBT_NULL, "/barrier", "1"));
    CHECK_EVENT(h, "/barrier", "root");

    /* A domain hears special events only once SET_PERMS allows it. */
    d5 = th_open_domain(8);
    CHECK(xs_watch(d5, "@introduceDomain", "d-intro"));
    CHECK_EVENT(d5, "@introduceDomain", "d-intro");
    CHECK(xs_watch(d5, "bar", "b"));
    CHECK_EVENT(d5, "bar", "b");
    CHECK(xs_introduce_domain(w, 9, 0, 1));
    CHECK(th_write(w, XBT_NULL, "/local/domain/8/bar", "1"));
    CHECK_EVENT(d5, "bar", "b");
    CHECK_ERR(xs_set_permissions(d5, XBT_NULL, "@introduceDomain",
                                 (struct xs_permissions[]){ { 8, XS_PERM_READ } }, 1),
              EACCES);
    {
        struct xs_permissions p[2] = { { 0, XS_PERM_NONE }, { 8, XS_PERM_READ } };

        CHECK(xs_set_permissions(w, XBT_NULL, "@introduceDomain", p, 2));
    }
    CHECK(xs_introduce_domain(w, 10, 0, 1));
    CHECK_EVENT(d5, "@introduceDomain", "d-intro");
    CHECK_ERR(xs_set_permissions(w, XBT_NULL, "@bogus",
                                 (struct xs_permissions[]){ { 0, XS_PERM_NONE } }, 1),
              EINVAL);
    xs_close(d5);
}

int main(void)
{
    struct xs_handle *h, *w;

    th_start();
    h = th_open();
    w = th_open();
    test_basic_events(h, w);
    test_relative(h, w);
    test_rm_events(h, w);
    test_unwatch(h, w);
    test_absent_tree(h, w);
    test_interleaved(h);
    test_domain_filter(w);
    CHECK(xs_unwatch(h, "/w", "tok"));
    test_special(h, w);
    xs_close(w);
    xs_close(h);
    th_stop();
    puts("test_watch: ok");
    return 0;
}
