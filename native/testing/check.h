/*
 * The C tests' one assertion: CHECK counts passes and failures (and says
 * where it failed) without stopping, and check_report prints the closing
 * "N passed, N failed" line CI reads and gives the exit status.
 */
#ifndef TESTING_CHECK_H
#define TESTING_CHECK_H

#include <stdio.h>

static int check_passed, check_failed;

#define CHECK(cond)                                                                         \
	do {                                                                                \
		if (cond) {                                                                 \
			check_passed++;                                                     \
		} else {                                                                    \
			check_failed++;                                                     \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                           \
	} while (0)

static inline int check_report(const char *suite)
{
	printf("%s: %d passed, %d failed\n", suite, check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif
