/*
 * Runs a fuzz target without libFuzzer (gcc, sanitizers, `make check`): every
 * file of the seed corpus, then a fixed number of deterministic mutations of
 * them (byte flips, random bytes, truncation, growth). A crash or an abort is
 * a finding; the exit status says so. Coverage-guided fuzzing is
 * `make -C native fuzz` with clang.
 *   replay [CORPUS_DIR [ITERATIONS]]   (defaults: the target's fuzz_replay)
 *   replay FILE                        (one input, e.g. a crash libFuzzer saved)
 */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/*
 * The figures of a default run, for docs/robustness.md: <program dir>/fuzz-stats/<target>.json,
 * written as failed before the run and rewritten at its end, so a crash leaves "ok": false.
 */
static void record(const char *argv0, long executions, bool ok)
{
	char prog[4096], dirbuf[4096], path[4096 + 64];
	snprintf(prog, sizeof(prog), "%s", argv0);
	snprintf(dirbuf, sizeof(dirbuf), "%s", argv0);
	char *name = basename(prog); /* fuzz_<target>_replay */
	size_t n = strlen(name);
	if (strncmp(name, "fuzz_", 5) == 0)
		name += 5, n -= 5;
	if (n > 7 && strcmp(name + n - 7, "_replay") == 0)
		name[n - 7] = '\0';
	snprintf(path, sizeof(path), "%s/fuzz-stats", dirname(dirbuf));
	mkdir(path, 0755);
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s.json", name);
	FILE *f = fopen(path, "w");
	if (!f)
		return;
	fprintf(f, "{\"target\":\"%s\",\"executions\":%ld,\"ok\":%s}\n", name, executions, ok ? "true" : "false");
	fclose(f);
}

int main(int argc, char **argv)
{
	if (argc == 1)
		record(argv[0], 0, false);
	const char *dir = argc > 1 ? argv[1] : fuzz_replay.corpus;
	long iterations = argc > 2 ? atol(argv[2]) : fuzz_replay.iterations;
	static uint8_t seeds[MAX_SEEDS][REPLAY_MAX_INPUT];
	static size_t lens[MAX_SEEDS];
	int nseeds = 0;
	DIR *d = opendir(dir);
	if (!d && errno == ENOTDIR) {
		/* One input (a crash libFuzzer saved): run it alone. */
		FILE *f = fopen(dir, "rb");
		if (!f)
			return perror(dir), 1;
		lens[0] = fread(seeds[0], 1, REPLAY_MAX_INPUT, f);
		fclose(f);
		LLVMFuzzerTestOneInput(seeds[0], lens[0]);
		printf("replay %s: %s\n", dir, fuzz_accepted ? "accepted, no finding" : "no finding");
		return 0;
	}
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
	if (argc == 1)
		record(argv[0], nseeds + iterations, true);
	return 0;
}
