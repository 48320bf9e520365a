/* Test support: runs xensim-xenstored as a child on a temporary directory
 * and makes sure it never outlives the test (every exit path, failed
 * checks, crashes and a watchdog included), opens real libxenstore handles
 * on it as dom0 or as a domain, and waits for watch events with a timeout. */
#ifndef XSD_TEST_HARNESS_H
#define XSD_TEST_HARNESS_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <xenstore.h>

/* Starts the server (the one built beside the test binary, or
 * $XENSIM_XENSTORED) and waits for its "ready". */
void th_start(void);
/* A live update: SIGUSR1 (the store goes to the state file, the server
 * exits 0), then a new server on the same directory loads it. Every open
 * handle is disconnected. */
void th_live_update(void);
/* Stops it with SIGTERM and fails the test unless it exited with 0 and
 * removed its sockets (a sanitized server reports leaks this way). */
void th_stop(void);
const char *th_dir(void);
/* The dom0 socket, or domain domid's. */
const char *th_socket(unsigned domid);

/* libxenstore handles through XENSTORED_PATH: dom0, or domain domid. */
struct xs_handle *th_open(void);
struct xs_handle *th_open_domain(unsigned domid);
struct xs_handle *th_open_flags(unsigned domid, unsigned long flags);

void th_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

#define CHECK(cond) \
    do { if (!(cond)) th_fail(__FILE__, __LINE__, "%s", #cond); } while (0)
/* expr must fail (false/NULL) with errno err. */
#define CHECK_ERR(expr, err) \
    do { errno = 0; if (expr) th_fail(__FILE__, __LINE__, "%s succeeded", #expr); \
         if (errno != (err)) th_fail(__FILE__, __LINE__, "%s: errno %d (%s), want %s", \
                                     #expr, errno, strerror(errno), #err); } while (0)
#define CHECK_STR(got, want) \
    do { const char *g_ = (got), *w_ = (want); \
         if (!g_ || strcmp(g_, w_) != 0) \
             th_fail(__FILE__, __LINE__, "%s: got \"%s\", want \"%s\"", #got, \
                     g_ ? g_ : "(null)", w_); } while (0)

/* xs_read as a string (freed at the next call), NULL with errno. */
const char *th_read(struct xs_handle *h, xs_transaction_t t, const char *path);
bool th_write(struct xs_handle *h, xs_transaction_t t, const char *path,
              const char *value);

/* The next watch event within timeout_ms (caller frees), or NULL. */
char **th_next_event(struct xs_handle *h, int timeout_ms);
/* The next event must be path/token. */
#define CHECK_EVENT(h, path, token) th_check_event(__FILE__, __LINE__, h, path, token)
void th_check_event(const char *file, int line, struct xs_handle *h,
                    const char *path, const char *token);
/* No event may be pending within timeout_ms. */
#define CHECK_NO_EVENT(h, ms) th_check_no_event(__FILE__, __LINE__, h, ms)
void th_check_no_event(const char *file, int line, struct xs_handle *h, int ms);

/* A raw socket connected to the server, for tests of the wire itself. */
int th_raw_connect(unsigned domid);
bool th_raw_send(int fd, uint32_t type, uint32_t req_id, uint32_t tx_id,
                 const void *payload, uint32_t len);
/* Reads one message (header into hdr, payload NUL-terminated into buf of
 * cap bytes); false on EOF, error or timeout. */
bool th_raw_recv(int fd, void *hdr, char *buf, size_t cap, int timeout_ms);

#endif
