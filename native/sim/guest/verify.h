/*
 * Data verification. Every 512-byte sector we write carries a header (magic,
 * CRC32C of the rest, its LBA, a generation number, a run id) and a payload
 * derived from them; a model remembers, per sector of the region, which
 * generation was last written successfully, or that it was discarded (so it
 * must read back as zeroes), or that its content is unknown. A read is
 * checked sector by sector against the model, so a flipped bit, data of an
 * older write (stale), data of another LBA (misplaced) or a discard that did
 * not zero are each caught and reported with the LBA.
 */
#ifndef GUEST_VERIFY_H
#define GUEST_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VERIFY_SECTOR 512u
#define VERIFY_MAGIC 0x46425658u /* "XVBF" */
#define VGEN_UNKNOWN 0u
#define VGEN_ZERO 0xffffffffu

enum vkind {
	V_OK,        /* the expected generation */
	V_ZERO_OK,   /* zeroes where a discard was made */
	V_UNKNOWN,   /* nothing known about this sector and nothing wrong with it */
	V_CORRUPT,   /* our magic, but the checksum does not match: damaged data */
	V_GARBAGE,   /* not zeroes, not our format, where we wrote */
	V_MISPLACED, /* a valid sector of another LBA */
	V_STALE,     /* a valid sector of this LBA from an older write (or an earlier run) */
	V_NEWER,     /* a generation newer than the last one acknowledged */
	V_ZEROED,    /* zeroes where data was written */
	V_NOT_ZERO,  /* data where a discard should have left zeroes */
	V_NKINDS
};
const char *vkind_name(enum vkind k);
static inline bool vkind_failed(enum vkind k)
{
	return k >= V_CORRUPT;
}

struct vfound {
	uint32_t magic, gen, run;
	uint64_t lba;
	bool crc_ok;
};

uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
void verify_fill_sector(uint8_t *sec, uint64_t lba, uint32_t gen, uint32_t run);
/* Checks one sector read from `lba` against what the model expects (a generation, VGEN_ZERO or VGEN_UNKNOWN). */
enum vkind verify_check_sector(const uint8_t *sec, uint64_t lba, uint32_t expect, uint32_t run,
			       struct vfound *found);

#define VERIFY_MAX_REPORTED 16

struct vfailure {
	enum vkind kind;
	uint64_t lba;
	uint32_t expected_gen;
	struct vfound found;
};

struct vmodel {
	uint64_t first_lba, nsect; /* the region */
	uint32_t *gen;
	uint32_t next_gen;
	uint32_t run;
	uint64_t counts[V_NKINDS];
	uint64_t failures;
	struct vfailure reported[VERIFY_MAX_REPORTED];
	unsigned nreported;
};

int vmodel_init(struct vmodel *m, uint64_t first_lba, uint64_t nsect, uint32_t run);
void vmodel_fini(struct vmodel *m);
uint32_t vmodel_new_gen(struct vmodel *m);
/* Fills `buf` (n sectors) with generation `gen` of sectors lba..lba+n-1. */
void vmodel_fill(const struct vmodel *m, uint8_t *buf, uint64_t lba, uint64_t n, uint32_t gen);
/* What became of a write/discard: written with `gen`, zeroed, or unknown (failed). */
void vmodel_set(struct vmodel *m, uint64_t lba, uint64_t n, uint32_t gen);
/* Checks a read of n sectors at lba; returns the failures found (also counted and the first few kept). */
uint64_t vmodel_check(struct vmodel *m, const uint8_t *buf, uint64_t lba, uint64_t n);
/* Sectors of the region known to hold data or zeroes. */
uint64_t vmodel_known(const struct vmodel *m);
/* Keeps the model across runs: a file with the run id, the next generation and the map. */
int vmodel_save(const struct vmodel *m, const char *path);
/* 1 loaded, 0 no file, -1 error or a different region. */
int vmodel_load(struct vmodel *m, const char *path);

#endif
