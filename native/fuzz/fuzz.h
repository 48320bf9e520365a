/* The libFuzzer entry point every target defines; replay.c drives it without libFuzzer. */
#ifndef FUZZ_FUZZ_H
#define FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs the target accepted and checked further: replay fails when none were (the seeds have rotted). */
extern unsigned long fuzz_accepted;

/* Where replay finds the target's committed seeds, and how many mutations `make check` runs. */
struct fuzz_replay {
	const char *corpus;
	long iterations;
};
extern const struct fuzz_replay fuzz_replay;

#endif
