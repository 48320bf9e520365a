/*
 * A stand-in for xenstored, just enough to see what xensim-hv tells it: it
 * accepts libxenstore connections, answers every request "OK" (or EACCES for
 * one chosen domid) and reports each request as a line "<TYPE> <first arg>".
 */
#ifndef XENSIM_FAKE_XENSTORED_H
#define XENSIM_FAKE_XENSTORED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct fake_xs {
	pid_t pid;
	int report; /* read end of the report pipe */
	char path[108];
};

void fake_xs_start(struct fake_xs *f, uint32_t refuse_domid);
/* Reads the next report line (without newline); fails the test after a timeout. */
void fake_xs_next(struct fake_xs *f, char *line, size_t len);
/* True if nothing is reported within `ms`. */
bool fake_xs_quiet(struct fake_xs *f, int ms);
void fake_xs_stop(struct fake_xs *f);

#endif
