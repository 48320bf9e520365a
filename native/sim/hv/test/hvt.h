/*
 * Test harness for the hv tests: runs a private xensim-hv (the one built next
 * to the test binary, so sanitized tests run the sanitized server) and makes
 * sure no server, child or socket outlives the test, whatever fails.
 */
#ifndef XENSIM_HVT_H
#define XENSIM_HVT_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "sim/hv/hv.h"

struct hvt_server {
	pid_t pid;
	char path[108];
};

/* Arms a watchdog and remembers the main process (only it cleans up). */
void hvt_init(void);
/* Starts a server (with --xenstored `xenstored` if not NULL) and waits for "ready". */
void hvt_start(struct hvt_server *s, const char *xenstored);
/* Starts a server with extra arguments; returns its pid, or -1 if it did not
 * become ready (then *status holds its exit status). Never fails the test. */
pid_t hvt_spawn(struct hvt_server *s, const char *const *extra_args, int *status);
/* SIGTERM, then checks it exited 0 and removed its socket. */
void hvt_stop(struct hvt_server *s);
/* For a server the test stopped and reaped itself. */
void hvt_forget(struct hvt_server *s);
/* Stops every server still running; returns 0 for main(). */
int hvt_finish(void);

/* Path of the program `name` built next to the test binary. */
const char *hvt_sibling(const char *name, char *buf, size_t len);
/* Waits (bounded) for "ready\n" on fd: 0, or -1. */
int hvt_read_ready(int fd);
/* Runs `fn` if the test fails (in the main process), before the servers are stopped. */
void hvt_on_fail(void (*fn)(void));

/* fork() for test children: the child dies with us. */
pid_t hvt_fork(void);
/* Waits for a child (bounded) and returns its exit code, -1 if it did not exit normally. */
int hvt_wait(pid_t pid);
/* Connects to s (fails the test if it cannot). */
struct hv_conn *hvt_connect(const struct hvt_server *s);

_Noreturn void hvt_fail(const char *file, int line, const char *what);

#define CHECK(c)                                                \
	do {                                                    \
		if (!(c))                                       \
			hvt_fail(__FILE__, __LINE__, #c);       \
	} while (0)
/* `call` fails with -1 and errno `e`. */
#define CHECK_ERR(call, e)                                                             \
	do {                                                                           \
		errno = 0;                                                             \
		if (!((call) == -1 && errno == (e))) {                                 \
			fprintf(stderr, "  errno %d (%s)\n", errno, strerror(errno));  \
			hvt_fail(__FILE__, __LINE__, #call " fails with " #e);         \
		}                                                                      \
	} while (0)

#define RUN(fn)                                   \
	do {                                      \
		fprintf(stderr, "  %s\n", #fn);   \
		fn();                             \
	} while (0)

#endif
