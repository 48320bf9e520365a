/*
 * Test environment for the guest's integration tests: a private
 * xensim-xenstored and xensim-hv (the binaries next to the test, so the
 * sanitized test runs the sanitized servers), checks, a watchdog, and a
 * helper thread that plays the backend's side of closing and reconnecting.
 */
#ifndef GUEST_TEST_ENV_H
#define GUEST_TEST_ENV_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <xenstore.h>

extern int te_passed, te_failed;
#define CHECK(cond)                                                                        \
	do {                                                                               \
		if (cond) {                                                                \
			te_passed++;                                                       \
		} else {                                                                   \
			te_failed++;                                                       \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                          \
	} while (0)
/* A failure the test cannot go on after. */
#define REQUIRE(cond)                                                                      \
	do {                                                                               \
		if (!(cond))                                                               \
			te_fatal(__FILE__, __LINE__, #cond);                               \
	} while (0)
_Noreturn void te_fatal(const char *file, int line, const char *what);

/* Starts both servers in a fresh directory; sets XENSTORED_PATH (dom0) and XENSIM_HV_PATH. */
void te_start(void);
/* Stops them (checking they exit cleanly) and removes the directory. */
void te_stop(void);
const char *te_dir(void);
/* Points XENSTORED_PATH at dom0's socket or at domain N's. */
void te_use_xs_of(uint32_t domid);

/* xenstore helpers for dom0 handles. */
char *te_read(struct xs_handle *h, const char *dir, const char *key); /* malloc'd or NULL */
bool te_is(struct xs_handle *h, const char *dir, const char *key, const char *want);
void te_write(struct xs_handle *h, const char *dir, const char *key, const char *value);

/*
 * A thread playing the backend's reactions to the frontend state:
 * frontend Closing -> backend Closing, Closed -> Closed, Initialising while
 * Closed -> InitWait (prepare for reconnect).
 */
struct te_mirror;
struct te_mirror *te_mirror_start(const char *fe, const char *be);
void te_mirror_stop(struct te_mirror *m);

#endif
