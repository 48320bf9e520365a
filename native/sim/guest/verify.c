/* Checksummed sector patterns and the model of what the disk should hold. */
#include "sim/guest/verify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sector header layout. */
#define H_MAGIC 0
#define H_CRC 4
#define H_LBA 8
#define H_GEN 16
#define H_RUN 20
#define H_PAYLOAD 24

static const char *const names[V_NKINDS] = {
	[V_OK] = "ok", [V_ZERO_OK] = "zero_ok", [V_UNKNOWN] = "unknown", [V_CORRUPT] = "corrupt",
	[V_GARBAGE] = "garbage", [V_MISPLACED] = "misplaced", [V_STALE] = "stale", [V_NEWER] = "newer",
	[V_ZEROED] = "zeroed", [V_NOT_ZERO] = "not_zero",
};

const char *vkind_name(enum vkind k)
{
	return k < V_NKINDS ? names[k] : "?";
}

/* CRC32C (Castagnoli), reflected, table-driven. */
static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (!crc_table[1])
		crc_init();
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t sector_crc(const uint8_t *sec)
{
	/* Everything but the CRC field itself. */
	uint32_t c = crc32c(0, sec, H_CRC);
	return crc32c(c, sec + H_LBA, VERIFY_SECTOR - H_LBA);
}

void verify_fill_sector(uint8_t *sec, uint64_t lba, uint32_t gen, uint32_t run)
{
	uint32_t magic = VERIFY_MAGIC, crc;
	uint64_t seed = lba * 0x100000001b3ull ^ ((uint64_t)gen << 32 | run);

	memcpy(sec + H_MAGIC, &magic, 4);
	memcpy(sec + H_LBA, &lba, 8);
	memcpy(sec + H_GEN, &gen, 4);
	memcpy(sec + H_RUN, &run, 4);
	for (unsigned off = H_PAYLOAD; off < VERIFY_SECTOR; off += 8) {
		uint64_t v = splitmix(&seed);
		memcpy(sec + off, &v, VERIFY_SECTOR - off < 8 ? VERIFY_SECTOR - off : 8);
	}
	crc = sector_crc(sec);
	memcpy(sec + H_CRC, &crc, 4);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

enum vkind verify_check_sector(const uint8_t *sec, uint64_t lba, uint32_t expect, uint32_t run,
			       struct vfound *f)
{
	uint32_t crc;
	bool ours;

	memset(f, 0, sizeof(*f));
	memcpy(&f->magic, sec + H_MAGIC, 4);
	memcpy(&crc, sec + H_CRC, 4);
	memcpy(&f->lba, sec + H_LBA, 8);
	memcpy(&f->gen, sec + H_GEN, 4);
	memcpy(&f->run, sec + H_RUN, 4);
	ours = f->magic == VERIFY_MAGIC;
	f->crc_ok = ours && crc == sector_crc(sec);

	if (expect == VGEN_ZERO) {
		if (all_zero(sec, VERIFY_SECTOR))
			return V_ZERO_OK;
		return f->crc_ok && f->lba != lba ? V_MISPLACED : V_NOT_ZERO;
	}
	if (expect == VGEN_UNKNOWN) {
		/* Nothing expected, but a sector this run wrote for another LBA is misplaced data.
		 * (Another run's sectors prove nothing: its writes may have carried recycled buffers.) */
		if (f->crc_ok && f->lba != lba && f->run == run)
			return V_MISPLACED;
		return V_UNKNOWN;
	}
	if (ours && !f->crc_ok)
		return V_CORRUPT;
	if (!ours)
		return all_zero(sec, VERIFY_SECTOR) ? V_ZEROED : V_GARBAGE;
	if (f->lba != lba)
		return V_MISPLACED;
	if (f->run != run)
		return V_STALE;
	if (f->gen < expect)
		return V_STALE;
	if (f->gen > expect)
		return V_NEWER;
	return V_OK;
}

int vmodel_init(struct vmodel *m, uint64_t first_lba, uint64_t nsect, uint32_t run)
{
	memset(m, 0, sizeof(*m));
	m->first_lba = first_lba;
	m->nsect = nsect;
	m->run = run;
	m->next_gen = 1;
	m->gen = calloc(nsect ? nsect : 1, sizeof(uint32_t));
	return m->gen ? 0 : -1;
}

void vmodel_fini(struct vmodel *m)
{
	free(m->gen);
	m->gen = NULL;
}

uint32_t vmodel_new_gen(struct vmodel *m)
{
	uint32_t g = m->next_gen++;
	/* Wrapping into the markers would confuse the model: skip them. */
	if (m->next_gen == VGEN_ZERO)
		m->next_gen = 1;
	return g;
}

void vmodel_fill(const struct vmodel *m, uint8_t *buf, uint64_t lba, uint64_t n, uint32_t gen)
{
	for (uint64_t i = 0; i < n; i++)
		verify_fill_sector(buf + i * VERIFY_SECTOR, lba + i, gen, m->run);
}

void vmodel_set(struct vmodel *m, uint64_t lba, uint64_t n, uint32_t gen)
{
	for (uint64_t i = 0; i < n; i++) {
		uint64_t s = lba + i;
		if (s >= m->first_lba && s - m->first_lba < m->nsect)
			m->gen[s - m->first_lba] = gen;
	}
}

uint64_t vmodel_check(struct vmodel *m, const uint8_t *buf, uint64_t lba, uint64_t n)
{
	uint64_t fails = 0;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t s = lba + i;
		uint32_t expect = s >= m->first_lba && s - m->first_lba < m->nsect ? m->gen[s - m->first_lba]
										      : VGEN_UNKNOWN;
		struct vfound f;
		enum vkind k = verify_check_sector(buf + i * VERIFY_SECTOR, s, expect, m->run, &f);

		m->counts[k]++;
		if (!vkind_failed(k))
			continue;
		fails++;
		m->failures++;
		if (m->nreported < VERIFY_MAX_REPORTED)
			m->reported[m->nreported++] = (struct vfailure){ k, s, expect, f };
	}
	return fails;
}

uint64_t vmodel_known(const struct vmodel *m)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < m->nsect; i++)
		n += m->gen[i] != VGEN_UNKNOWN;
	return n;
}

struct vfile_hdr {
	char magic[8];
	uint64_t first_lba, nsect;
	uint32_t run, next_gen;
};

int vmodel_save(const struct vmodel *m, const char *path)
{
	struct vfile_hdr h = { "XVBFMOD1", m->first_lba, m->nsect, m->run, m->next_gen };
	char tmp[4096];
	FILE *f;
	int ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "wb");
	if (!f)
		return -1;
	ok = fwrite(&h, sizeof(h), 1, f) == 1 && fwrite(m->gen, sizeof(uint32_t), m->nsect, f) == m->nsect;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) < 0) {
		remove(tmp);
		return -1;
	}
	return 0;
}

int vmodel_load(struct vmodel *m, const char *path)
{
	struct vfile_hdr h;
	FILE *f = fopen(path, "rb");
	int ok;

	if (!f)
		return errno == ENOENT ? 0 : -1;
	ok = fread(&h, sizeof(h), 1, f) == 1 && memcmp(h.magic, "XVBFMOD1", 8) == 0 &&
	     h.first_lba == m->first_lba && h.nsect == m->nsect &&
	     fread(m->gen, sizeof(uint32_t), m->nsect, f) == m->nsect;
	fclose(f);
	if (!ok)
		return -1;
	m->run = h.run;
	m->next_gen = h.next_gen;
	return 1;
}
