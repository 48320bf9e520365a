/* The wire itself, over raw sockets: header echo, error strings, event
 * ordering against replies, pipelined and fragmented requests,
 * DIRECTORY_PART framing, XS_RESET_WATCHES, and hostile input (random
 * bytes, a huge length, missing NULs, a vanishing client), after each of
 * which the server must still serve everyone else. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xen/io/xs_wire.h>

#include "test_harness.h"

static char buf[XENSTORE_PAYLOAD_MAX + 1];

/* Sends a request and reads one message back. */
static struct xsd_sockmsg call(int fd, uint32_t type, uint32_t req_id, uint32_t tx_id,
                               const void *payload, uint32_t len)
{
    struct xsd_sockmsg hdr;

    CHECK(th_raw_send(fd, type, req_id, tx_id, payload, len));
    if (!th_raw_recv(fd, &hdr, buf, sizeof(buf), 5000))
        th_fail(__FILE__, __LINE__, "no reply to type %u", type);
    return hdr;
}

#define S(lit) lit, (uint32_t)sizeof(lit)   /* a literal with its NUL */

static void expect(int fd, uint32_t type, const char *payload)
{
    struct xsd_sockmsg hdr;

    if (!th_raw_recv(fd, &hdr, buf, sizeof(buf), 5000))
        th_fail(__FILE__, __LINE__, "nothing received, want type %u", type);
    CHECK(hdr.type == type);
    CHECK_STR(buf, payload);
}

/* The server must still answer a libxenstore client. */
static void check_alive(void)
{
    struct xs_handle *h = th_open();

    CHECK(th_write(h, XBT_NULL, "/alive", "yes"));
    CHECK_STR(th_read(h, XBT_NULL, "/alive"), "yes");
    xs_close(h);
}

/* The peer closed: read gives EOF (after any queued replies). */
static bool closed_by_server(int fd)
{
    struct xsd_sockmsg hdr;
    int i;

    for (i = 0; i < 1000; i++)
        if (!th_raw_recv(fd, &hdr, buf, sizeof(buf), 5000))
            return read(fd, buf, 1) <= 0;
    return false;
}

static void test_headers(void)
{
    int fd = th_raw_connect(0);
    struct xsd_sockmsg r;

    r = call(fd, XS_WRITE, 0xdeadbeef, 0, "/h\0v", 4);
    CHECK(r.type == XS_WRITE && r.req_id == 0xdeadbeef && r.tx_id == 0);
    CHECK(r.len == 3 && strcmp(buf, "OK") == 0);
    r = call(fd, XS_READ, 7, 0, S("/h"));
    CHECK(r.type == XS_READ && r.req_id == 7 && r.len == 1 && buf[0] == 'v');
    /* Errors: type XS_ERROR, the errno name, ids echoed. */
    r = call(fd, XS_READ, 8, 0, S("/missing"));
    CHECK(r.type == XS_ERROR && r.req_id == 8 && r.len == 7);
    CHECK_STR(buf, "ENOENT");
    r = call(fd, XS_READ, 9, 77, S("/h"));
    CHECK(r.type == XS_ERROR && r.req_id == 9 && r.tx_id == 77);
    CHECK_STR(buf, "ENOENT");                  /* no transaction 77 */
    r = call(fd, 999, 10, 0, S("x"));
    CHECK(r.type == XS_ERROR && r.req_id == 10);
    CHECK_STR(buf, "ENOSYS");
    r = call(fd, XS_WATCH_EVENT, 11, 0, S("/h\0t"));
    CHECK_STR(buf, "ENOSYS");
    r = call(fd, XS_ERROR, 12, 0, S("EINVAL"));
    CHECK_STR(buf, "ENOSYS");
    /* Malformed payloads. */
    r = call(fd, XS_READ, 13, 0, "/h", 2);                  /* no NUL */
    CHECK(r.type == XS_ERROR);
    CHECK_STR(buf, "EINVAL");
    r = call(fd, XS_READ, 14, 0, "", 0);                    /* empty */
    CHECK_STR(buf, "EINVAL");
    r = call(fd, XS_READ, 15, 0, "/h\0/i", 6);              /* two strings */
    CHECK_STR(buf, "EINVAL");
    r = call(fd, XS_WRITE, 16, 0, "/nonul", 6);
    CHECK_STR(buf, "EINVAL");
    r = call(fd, XS_WATCH, 17, 0, S("/only-path"));
    CHECK_STR(buf, "EINVAL");
    r = call(fd, XS_WATCH, 18, 0, "/p\0t\0depth", 11);      /* 4.17: no depth */
    CHECK_STR(buf, "EINVAL");
    r = call(fd, XS_SET_PERMS, 19, 0, S("/h\0x0"));
    CHECK_STR(buf, "EINVAL");
    r = call(fd, XS_SET_PERMS, 20, 0, S("/h"));
    CHECK_STR(buf, "EINVAL");
    r = call(fd, XS_SET_PERMS, 21, 0, "/h\0r", 5);
    CHECK_STR(buf, "EINVAL");
    r = call(fd, XS_TRANSACTION_END, 22, 0, S("T"));
    CHECK_STR(buf, "ENOENT");
    r = call(fd, XS_INTRODUCE, 23, 0, S("5\0000"));
    CHECK_STR(buf, "EINVAL");
    r = call(fd, XS_DIRECTORY_PART, 24, 0, S("/h"));
    CHECK_STR(buf, "EINVAL");
    r = call(fd, XS_GET_DOMAIN_PATH, 25, 0, S("12"));
    CHECK(r.type == XS_GET_DOMAIN_PATH);
    CHECK_STR(buf, "/local/domain/12");
    r = call(fd, XS_IS_DOMAIN_INTRODUCED, 26, 0, S("12"));
    CHECK(r.type == XS_IS_DOMAIN_INTRODUCED && r.len == 2);
    CHECK_STR(buf, "F");
    close(fd);
}

static void test_event_order(void)
{
    int fd = th_raw_connect(0), other = th_raw_connect(0);
    struct xsd_sockmsg r;

    /* The acknowledgement, then the initial event. */
    CHECK(th_raw_send(fd, XS_WATCH, 1, 0, S("/e\0tok")));
    expect(fd, XS_WATCH, "OK");
    expect(fd, XS_WATCH_EVENT, "/e");
    CHECK(strcmp(buf + 3, "tok") == 0);
    /* A write to a node one watches: the event comes before the reply. */
    CHECK(th_raw_send(fd, XS_WRITE, 2, 0, "/e/x\0v", 6));
    expect(fd, XS_WATCH_EVENT, "/e/x");
    expect(fd, XS_WRITE, "OK");
    /* Another client's write: just the event, req_id and tx_id 0. */
    r = call(other, XS_WRITE, 3, 0, "/e/y\0v", 6);
    CHECK(r.type == XS_WRITE);
    CHECK(th_raw_recv(fd, &r, buf, sizeof(buf), 5000));
    CHECK(r.type == XS_WATCH_EVENT && r.req_id == 0 && r.tx_id == 0);
    CHECK_STR(buf, "/e/y");

    /* RESET_WATCHES drops the watches (and transactions). */
    r = call(fd, XS_TRANSACTION_START, 4, 0, "", 1);
    CHECK(r.type == XS_TRANSACTION_START);
    {
        uint32_t tx = (uint32_t)strtoul(buf, NULL, 10);

        CHECK(tx != 0);
        /* No nested transactions. */
        r = call(fd, XS_TRANSACTION_START, 5, tx, "", 1);
        CHECK_STR(buf, "EBUSY");
        r = call(fd, XS_TRANSACTION_END, 6, tx, S("X"));
        CHECK_STR(buf, "EINVAL");
        r = call(fd, XS_RESET_WATCHES, 7, 0, "", 1);
        CHECK(r.type == XS_RESET_WATCHES);
        CHECK_STR(buf, "OK");
        r = call(fd, XS_READ, 8, tx, S("/e/x"));
        CHECK_STR(buf, "ENOENT");              /* the transaction is gone */
    }
    r = call(other, XS_WRITE, 9, 0, "/e/z\0v", 6);
    r = call(fd, XS_READ, 10, 0, S("/e/z"));
    CHECK(r.type == XS_READ && r.req_id == 10);  /* no event came first */
    close(fd);
    close(other);
}

static void test_pipelined_and_fragmented(void)
{
    int fd = th_raw_connect(0);
    char msg[3 * (sizeof(struct xsd_sockmsg) + 8)];
    struct xsd_sockmsg hdr, r;
    size_t off = 0, i;
    uint32_t id;

    /* Three requests in one write: three replies, in order. */
    for (id = 1; id <= 3; id++) {
        hdr = (struct xsd_sockmsg){ XS_GET_DOMAIN_PATH, id, 0, 2 };
        memcpy(msg + off, &hdr, sizeof(hdr));
        off += sizeof(hdr);
        msg[off++] = (char)('0' + id);
        msg[off++] = '\0';
    }
    CHECK(write(fd, msg, off) == (ssize_t)off);
    for (id = 1; id <= 3; id++) {
        CHECK(th_raw_recv(fd, &r, buf, sizeof(buf), 5000));
        CHECK(r.req_id == id && r.type == XS_GET_DOMAIN_PATH);
    }
    /* One request a byte at a time. */
    hdr = (struct xsd_sockmsg){ XS_WRITE, 42, 0, 8 };
    memcpy(msg, &hdr, sizeof(hdr));
    memcpy(msg + sizeof(hdr), "/frag\0ok", 8);
    for (i = 0; i < sizeof(hdr) + 8; i++)
        CHECK(write(fd, msg + i, 1) == 1);
    CHECK(th_raw_recv(fd, &r, buf, sizeof(buf), 5000));
    CHECK(r.req_id == 42 && r.type == XS_WRITE);
    close(fd);
}

static void test_directory_part(void)
{
    int fd = th_raw_connect(0);
    struct xsd_sockmsg r;
    char req[64], gen[24];
    unsigned i, off = 0, total = 0, parts = 0;

    for (i = 0; i < 250; i++) {
        int n = snprintf(req, sizeof(req), "/dp/entry-number-%03u", i);

        r = call(fd, XS_MKDIR, i, 0, req, (uint32_t)n + 1);
        CHECK(r.type == XS_MKDIR);
        total += (unsigned)strlen("entry-number-000") + 1;
    }
    r = call(fd, XS_DIRECTORY, 1, 0, S("/dp"));
    CHECK(r.type == XS_ERROR);
    CHECK_STR(buf, "E2BIG");
    /* Pages: "<gen>\0" then whole names; the last ends with an extra NUL. */
    for (;;) {
        int n = snprintf(req, sizeof(req), "/dp%c%u", '\0', off);
        size_t genlen;

        r = call(fd, XS_DIRECTORY_PART, 2, 0, req, (uint32_t)n + 1);
        CHECK(r.type == XS_DIRECTORY_PART && r.len <= XENSTORE_PAYLOAD_MAX);
        genlen = strlen(buf) + 1;
        CHECK(genlen <= sizeof(gen));
        if (parts++ == 0)
            memcpy(gen, buf, genlen);
        CHECK_STR(buf, gen);
        if (r.len >= genlen + 2 && buf[r.len - 1] == '\0' && buf[r.len - 2] == '\0') {
            off += r.len - (unsigned)genlen - 1;
            break;
        }
        CHECK(r.len > genlen);
        off += r.len - (unsigned)genlen;
        CHECK(parts < 10);
    }
    CHECK(parts == 2);
    CHECK(off == total);
    /* Past the end: just the generation and an empty list. */
    {
        int n = snprintf(req, sizeof(req), "/dp%c%u", '\0', total + 10);

        r = call(fd, XS_DIRECTORY_PART, 3, 0, req, (uint32_t)n + 1);
        CHECK(r.len == strlen(gen) + 2);
    }
    /* A change moves the generation on. */
    r = call(fd, XS_MKDIR, 4, 0, S("/dp/more"));
    {
        int n = snprintf(req, sizeof(req), "/dp%c0", '\0');

        r = call(fd, XS_DIRECTORY_PART, 5, 0, req, (uint32_t)n + 1);
        CHECK(strcmp(buf, gen) != 0);
    }
    close(fd);
}

static void test_domain_socket(void)
{
    struct xs_handle *h = th_open();
    int fd;
    struct xsd_sockmsg r;

    CHECK(xs_introduce_domain(h, 5, 0, 1));
    fd = th_raw_connect(5);
    r = call(fd, XS_IS_DOMAIN_INTRODUCED, 1, 0, S("5"));
    CHECK_STR(buf, "EACCES");
    r = call(fd, XS_CONTROL, 2, 0, S("check"));
    CHECK_STR(buf, "EACCES");
    r = call(fd, XS_WRITE, 3, 0, "rel\0v", 5);
    CHECK(r.type == XS_WRITE);
    r = call(fd, XS_READ, 4, 0, S("/local/domain/5/rel"));
    CHECK(r.type == XS_READ && r.len == 1 && buf[0] == 'v');
    close(fd);
    xs_close(h);
}

static void test_garbage(void)
{
    struct xs_handle *bystander = th_open();
    struct xsd_sockmsg hdr;
    unsigned char junk[8192];
    unsigned seed = 12345, i, round;
    int fd;

    /* A watcher that must see the server through all of this. */
    CHECK(xs_watch(bystander, "/g", "g"));
    CHECK_EVENT(bystander, "/g", "g");

    /* A header announcing more than XENSTORE_PAYLOAD_MAX: dropped. */
    fd = th_raw_connect(0);
    hdr = (struct xsd_sockmsg){ XS_WRITE, 1, 0, XENSTORE_PAYLOAD_MAX + 1 };
    CHECK(write(fd, &hdr, sizeof(hdr)) == (ssize_t)sizeof(hdr));
    CHECK(closed_by_server(fd));
    close(fd);
    hdr.len = 0xffffffffu;
    fd = th_raw_connect(0);
    CHECK(write(fd, &hdr, sizeof(hdr)) == (ssize_t)sizeof(hdr));
    CHECK(closed_by_server(fd));
    close(fd);
    check_alive();

    /* Random bytes, several rounds, on dom0's and a domain's socket. */
    CHECK(xs_introduce_domain(bystander, 6, 0, 1));
    for (round = 0; round < 20; round++) {
        for (i = 0; i < sizeof(junk); i++) {
            seed = seed * 1103515245u + 12345u;
            junk[i] = (unsigned char)(seed >> 16);
        }
        /* Some rounds with plausible headers, so payload parsing is hit. */
        if (round % 2) {
            for (i = 0; i + 16 + 64 <= sizeof(junk); i += 16 + 64) {
                hdr = (struct xsd_sockmsg){ junk[i] % XS_TYPE_COUNT, round, 0, 64 };
                memcpy(junk + i, &hdr, sizeof(hdr));
            }
        }
        fd = th_raw_connect(round % 4 == 3 ? 6 : 0);
        /* The server may drop us before we are done: that is fine. */
        if (write(fd, junk, sizeof(junk)) < 0)
            CHECK(errno == EPIPE || errno == ECONNRESET);
        shutdown(fd, SHUT_WR);
        CHECK(closed_by_server(fd));
        close(fd);
    }
    /* Midway through a message, then gone. */
    fd = th_raw_connect(0);
    hdr = (struct xsd_sockmsg){ XS_WRITE, 1, 0, 100 };
    CHECK(write(fd, &hdr, sizeof(hdr)) == (ssize_t)sizeof(hdr));
    CHECK(write(fd, "/g/half", 7) == 7);
    close(fd);
    /* A client that never reads while events pile up for it. */
    fd = th_raw_connect(0);
    CHECK(th_raw_send(fd, XS_WATCH, 1, 0, S("/g\0flood")));

    check_alive();
    CHECK(th_write(bystander, XBT_NULL, "/g/after", "1"));
    /* The random rounds may have written below /g; skip to our event. */
    for (i = 0; i < 1000; i++) {
        char **ev = th_next_event(bystander, 5000);

        CHECK(ev != NULL);
        if (strcmp(ev[XS_WATCH_PATH], "/g/after") == 0) {
            free(ev);
            break;
        }
        free(ev);
    }
    CHECK(i < 1000);
    close(fd);
    xs_close(bystander);
}

/* A client that sends and sends but does not read its replies is paused
 * (its replies pile up to a bound), and everyone else is still served. */
static void test_backpressure(void)
{
    struct xs_handle *h = th_open();
    static char value[4000];
    int fd = th_raw_connect(0), flags;
    struct xsd_sockmsg hdr = { XS_READ, 0, 0, sizeof("/bp") };
    char req[sizeof(hdr) + sizeof("/bp")];
    unsigned sent = 0, got = 0, i;
    struct xsd_sockmsg r;

    memset(value, 'b', sizeof(value));
    CHECK(xs_write(h, XBT_NULL, "/bp", value, sizeof(value)));
    memcpy(req, &hdr, sizeof(hdr));
    memcpy(req + sizeof(hdr), "/bp", sizeof("/bp"));
    flags = fcntl(fd, F_GETFL);
    CHECK(fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0);
    /* 3000 reads of 4 KB: 12 MB of replies nobody reads for now. */
    while (sent < 3000) {
        ssize_t n = write(fd, req, sizeof(req));

        if (n < 0) {
            CHECK(errno == EAGAIN);
            break;
        }
        CHECK(n == (ssize_t)sizeof(req));   /* small writes are atomic */
        sent++;
    }
    CHECK(sent > 0);
    for (i = 0; i < 20; i++)
        check_alive();
    CHECK(fcntl(fd, F_SETFL, flags) == 0);
    /* Drain: every request sent is answered, in order. */
    while (got < sent) {
        CHECK(th_raw_recv(fd, &r, buf, sizeof(buf), 5000));
        CHECK(r.type == XS_READ && r.len == sizeof(value));
        got++;
    }
    close(fd);
    xs_close(h);
}

/* A watcher that never reads while its events pile up is dropped (at
 * 16 MiB queued); the writer and everyone else carry on. Long tokens make
 * each event ~3 KB, so a few thousand writes get there. */
static void test_flood(void)
{
    static char req[4000];
    struct xs_handle *h = th_open();
    struct xsd_sockmsg r;
    char path[32];
    int fd = th_raw_connect(0), n;
    unsigned i;

    n = snprintf(req, sizeof(req), "/flood%c", '\0');
    memset(req + n, 't', 3000);
    req[n + 3000] = '\0';
    CHECK(th_raw_send(fd, XS_WATCH, 1, 0, req, (uint32_t)n + 3001));
    for (i = 0; i < 7000; i++) {
        snprintf(path, sizeof(path), "/flood/%05u", i);
        CHECK(th_write(h, XBT_NULL, path, "x"));
    }
    check_alive();
    /* What the socket held arrives, then the end. */
    for (i = 0; i < 7000 && th_raw_recv(fd, &r, buf, sizeof(buf), 5000); i++)
        ;
    CHECK(i < 7000);
    CHECK(read(fd, buf, 1) == 0);
    close(fd);
    xs_close(h);
}

/* Many clients at once, their requests interleaved. */
static void test_concurrent(void)
{
    enum { N = 64 };
    int fds[N], i;
    struct xsd_sockmsg r;
    char req[32], want[16];

    for (i = 0; i < N; i++)
        fds[i] = th_raw_connect(0);
    for (i = 0; i < N; i++) {
        int n = snprintf(req, sizeof(req), "/cc/%d%c%d", i, '\0', i);

        CHECK(th_raw_send(fds[i], XS_WRITE, (uint32_t)i, 0, req, (uint32_t)n));
    }
    for (i = N - 1; i >= 0; i--) {
        CHECK(th_raw_recv(fds[i], &r, buf, sizeof(buf), 5000));
        CHECK(r.type == XS_WRITE && r.req_id == (uint32_t)i);
    }
    for (i = 0; i < N; i++) {
        int n = snprintf(req, sizeof(req), "/cc/%d", i);

        r = call(fds[i], XS_READ, 0, 0, req, (uint32_t)n + 1);
        snprintf(want, sizeof(want), "%d", i);
        CHECK(r.type == XS_READ);
        CHECK_STR(buf, want);
        close(fds[i]);
    }
}

int main(void)
{
    th_start();
    test_headers();
    test_event_order();
    test_pipelined_and_fragmented();
    test_directory_part();
    test_domain_socket();
    test_garbage();
    test_backpressure();
    test_flood();
    test_concurrent();
    check_alive();
    th_stop();
    puts("test_wire: ok");
    return 0;
}
