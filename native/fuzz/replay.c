/*
 * Runs a fuzz target without libFuzzer (gcc, sanitizers, `make check`): every
 * file of the seed corpus, then a fixed number of deterministic mutations of
 * them (byte flips, random bytes, truncation, growth). A crash or an abort is
 * a finding; the exit status says so. Coverage-guided fuzzing is
 * `make -C native fuzz` with clang.
 *   replay CORPUS_DIR [ITERATIONS]
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"

#define REPLAY_MAX_INPUT (64 * 1024)
#define MAX_SEEDS 256

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "fuzz/corpus/request";
	long iterations = argc > 2 ? atol(argv[2]) : 100000;
	static uint8_t seeds[MAX_SEEDS][REPLAY_MAX_INPUT];
	static size_t lens[MAX_SEEDS];
	int nseeds = 0;
	DIR *d = opendir(dir);
	if (!d) {
		perror(dir);
		return 1;
	}
	for (struct dirent *e; (e = readdir(d)) && nseeds < MAX_SEEDS;) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		if (!f)
			continue;
		lens[nseeds] = fread(seeds[nseeds], 1, REPLAY_MAX_INPUT, f);
		fclose(f);
		LLVMFuzzerTestOneInput(seeds[nseeds], lens[nseeds]);
		nseeds++;
	}
	closedir(d);
	unsigned long seeds_accepted = fuzz_accepted;
	if (nseeds == 0 || seeds_accepted == 0) {
		fprintf(stderr, "%s: %d seeds, %lu accepted: nothing reaches the checks\n", dir, nseeds, seeds_accepted);
		return 1;
	}
	static uint8_t buf[REPLAY_MAX_INPUT];
	for (long i = 0; i < iterations; i++) {
		int s = (int)(next() % (uint64_t)nseeds);
		size_t len = lens[s];
		memcpy(buf, seeds[s], len);
		switch (next() % 4) {
		case 0: /* flip a few bits */
			for (int k = 0, m = 1 + (int)(next() % 8); k < m && len; k++)
				buf[next() % len] ^= (uint8_t)(1u << (next() % 8));
			break;
		case 1: /* random bytes over a few positions */
			for (int k = 0, m = 1 + (int)(next() % 16); k < m && len; k++)
				buf[next() % len] = (uint8_t)next();
			break;
		case 2: /* truncate */
			len = len ? (size_t)(next() % len) : 0;
			break;
		default: /* grow with random bytes */
			for (size_t add = next() % 8192; add && len < REPLAY_MAX_INPUT; add--)
				buf[len++] = (uint8_t)next();
			break;
		}
		LLVMFuzzerTestOneInput(buf, len);
	}
	printf("replay %s: %d seeds (%lu accepted), %ld mutations (%lu accepted), no finding\n", dir, nseeds, seeds_accepted,
	       iterations, fuzz_accepted - seeds_accepted);
	return 0;
}
