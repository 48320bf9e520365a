/*
 * The two-slot metadata record (daemon/meta_slots.c) on a real file through
 * the io_uring engine: a blank volume, generations alternating between the
 * slots, a torn write falling back to the record before it, hostile headers,
 * data too large, failing writes and flushes (engine/faults.c) leaving the
 * last record readable, and 4096-byte blocks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/meta_slots.h"
#include "engine/faults.h"
#include "testing/check.h"

#define VOLUME (1u << 20) /* slots of 512 KiB */
#define SLOT (VOLUME / 2)

static char path[] = "/tmp/test-meta-XXXXXX";

static struct engine *open_volume(uint32_t block)
{
	const char *why = NULL;
	struct engine *e = engine_open("uring", &(struct engine_options){ .path = path, .block_size = block }, &why);
	if (!e)
		fprintf(stderr, "engine_open: %s\n", why);
	return e;
}

/* The record read back: its generation, and whether its data is `want` (NULL: none). */
static uint64_t read_back(struct engine *e, const char *want)
{
	char err[256] = "", *data = NULL;
	size_t len = 0;
	uint64_t gen = 99;
	int rc = meta_read(e, NULL, &gen, &data, &len, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "meta_read: %s\n", err);
	CHECK(rc == 0);
	if (want)
		CHECK(data && len == strlen(want) && strcmp(data, want) == 0);
	else
		CHECK(data == NULL && len == 0);
	free(data);
	return gen;
}

static uint64_t write_ok(struct engine *e, const char *text)
{
	char err[256] = "";
	uint64_t gen = 0;
	int rc = meta_write(e, NULL, text, strlen(text), &gen, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "meta_write: %s\n", err);
	CHECK(rc == 0);
	return gen;
}

static void poke(off_t offset, const void *bytes, size_t len)
{
	int fd = open(path, O_WRONLY);
	CHECK(fd >= 0 && pwrite(fd, bytes, len, offset) == (ssize_t)len);
	if (fd >= 0)
		close(fd);
}

static struct meta_header header_at(off_t offset)
{
	struct meta_header h = { 0 };
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0 && pread(fd, &h, sizeof(h), offset) == (ssize_t)sizeof(h));
	if (fd >= 0)
		close(fd);
	return h;
}

static void test_generations(void)
{
	struct engine *e = open_volume(0);
	CHECK(e != NULL);
	if (!e)
		return;
	CHECK(read_back(e, NULL) == 0); /* blank */
	CHECK(write_ok(e, "{\"a\":1}") == 1);
	CHECK(read_back(e, "{\"a\":1}") == 1);
	CHECK(header_at(0).generation == 1);
	CHECK(write_ok(e, "second") == 2);
	CHECK(header_at(SLOT).generation == 2); /* the other slot: the first record stays whole */
	CHECK(read_back(e, "second") == 2);
	CHECK(write_ok(e, "third, in slot 0 again") == 3);
	CHECK(header_at(0).generation == 3 && header_at(SLOT).generation == 2);
	CHECK(read_back(e, "third, in slot 0 again") == 3);

	/* A torn write: slot 0's data half old, half new. Its CRC fails; the record before it is read. */
	poke(META_HEADER_BYTES + 3, "XX", 2);
	CHECK(read_back(e, "second") == 2);
	/* The next write goes to the torn slot, not over the last whole record. */
	CHECK(write_ok(e, "fourth") == 3);
	CHECK(header_at(0).generation == 3 && header_at(SLOT).generation == 2);
	CHECK(read_back(e, "fourth") == 3);

	/* An empty record is a record. */
	CHECK(write_ok(e, "") == 4);
	CHECK(read_back(e, "") == 4);
	e->ops->close(e);
}

/* Headers a damaged or hostile volume may hold are ignored, never followed. */
static void test_hostile_headers(void)
{
	struct engine *e = open_volume(0);
	CHECK(e != NULL);
	if (!e)
		return;
	CHECK(write_ok(e, "kept") >= 1);
	uint64_t gen = read_back(e, "kept");
	off_t other = header_at(0).generation == gen ? SLOT : 0;
	struct meta_header h = { .version = META_VERSION, .generation = UINT64_MAX, .length = UINT32_MAX };
	memcpy(h.magic, META_MAGIC, sizeof(h.magic));
	poke(other, &h, sizeof(h)); /* a length past the slot */
	CHECK(read_back(e, "kept") == gen);
	h.length = 10;
	poke(other, &h, sizeof(h)); /* fits, but its CRC is wrong */
	CHECK(read_back(e, "kept") == gen);
	h.version = 2;
	poke(other, &h, sizeof(h));
	CHECK(read_back(e, "kept") == gen);

	/* The same bytes in the pure checks. */
	CHECK(!meta_header_valid(&h, SLOT));
	h.version = META_VERSION;
	h.generation = 0;
	CHECK(!meta_header_valid(&h, SLOT));
	h.generation = 1;
	h.length = (uint32_t)meta_capacity(SLOT) + 1;
	CHECK(!meta_header_valid(&h, SLOT));
	h.length = (uint32_t)meta_capacity(SLOT);
	CHECK(meta_header_valid(&h, SLOT));

	/* Both slots garbage: no record, and a write makes one. */
	char junk[META_HEADER_BYTES];
	memset(junk, 0x5a, sizeof(junk));
	poke(0, junk, sizeof(junk));
	poke(SLOT, junk, sizeof(junk));
	CHECK(read_back(e, NULL) == 0);
	CHECK(write_ok(e, "again") == 1);
	CHECK(read_back(e, "again") == 1);
	e->ops->close(e);
}

static void test_too_large_and_too_small(void)
{
	struct engine *e = open_volume(0);
	CHECK(e != NULL);
	if (!e)
		return;
	CHECK(write_ok(e, "before") >= 1);
	uint64_t gen = read_back(e, "before");
	size_t big = (size_t)meta_capacity(SLOT) + 1;
	char *text = malloc(big);
	CHECK(text != NULL);
	if (text) {
		memset(text, 'x', big);
		char err[256] = "";
		uint64_t g = 0;
		CHECK(meta_write(e, NULL, text, big, &g, err, sizeof(err)) == -1 && strstr(err, "does not fit"));
		/* Exactly the capacity fits. */
		CHECK(meta_write(e, NULL, text, big - 1, &g, err, sizeof(err)) == 0 && g == gen + 1);
		free(text);
	}
	e->ops->close(e);

	CHECK(truncate(path, 8192) == 0);
	e = open_volume(0);
	CHECK(e != NULL);
	if (e) {
		char err[256] = "", *data = NULL;
		size_t len;
		uint64_t g;
		CHECK(meta_read(e, NULL, &g, &data, &len, err, sizeof(err)) == -1 && strstr(err, "too small"));
		e->ops->close(e);
	}
	CHECK(truncate(path, VOLUME) == 0);
}

/* A write or flush that fails is reported, and the last record written whole is still read. */
static void test_failures(void)
{
	CHECK(truncate(path, 0) == 0 && truncate(path, VOLUME) == 0);
	struct engine *inner = open_volume(0), *e = inner ? engine_faults_wrap(inner) : NULL;
	CHECK(e != NULL);
	if (!e)
		return;
	CHECK(write_ok(e, "good") == 1);
	char err[256] = "";
	uint64_t g = 0;
	CHECK(engine_faults_add(e, &(struct fault_rule_spec){ .ops = FAULT_WRITE, .sector_to = FAULT_NO_END, .count = 1, .err = ENOSPC }) == 0);
	CHECK(meta_write(e, NULL, "lost", 4, &g, err, sizeof(err)) == -1 && strstr(err, strerror(ENOSPC)));
	CHECK(read_back(e, "good") == 1);
	CHECK(engine_faults_add(e, &(struct fault_rule_spec){ .ops = FAULT_FLUSH, .sector_to = FAULT_NO_END, .count = 1, .err = EIO }) == 0);
	CHECK(meta_write(e, NULL, "unflushed", 9, &g, err, sizeof(err)) == -1 && strstr(err, strerror(EIO)));
	CHECK(engine_faults_add(e, &(struct fault_rule_spec){ .ops = FAULT_READ, .sector_to = FAULT_NO_END, .count = 1, .err = EIO }) == 0);
	char *data = NULL;
	size_t len;
	CHECK(meta_read(e, NULL, &g, &data, &len, err, sizeof(err)) == -1 && strstr(err, "reading"));
	CHECK(data == NULL);
	e->ops->close(e);
}

static void test_4k_blocks(void)
{
	CHECK(truncate(path, 0) == 0 && truncate(path, VOLUME) == 0);
	struct engine *e = open_volume(4096);
	CHECK(e != NULL);
	if (!e)
		return;
	CHECK(e->ops->block_size(e) == 4096);
	CHECK(write_ok(e, "on 4Kn") == 1 && write_ok(e, "and again") == 2);
	CHECK(read_back(e, "and again") == 2);
	e->ops->close(e);
	CHECK(meta_slot_bytes(VOLUME, 4096) == SLOT && meta_slot_bytes(VOLUME + 512, 512) == SLOT);
	CHECK(meta_slot_bytes(VOLUME, 8192) == 0 && meta_slot_bytes(VOLUME, 0) == 0);
}

int main(void)
{
	int fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, VOLUME) != 0) {
		perror("mkstemp");
		return 1;
	}
	close(fd);
	test_generations();
	test_hostile_headers();
	test_too_large_and_too_small();
	test_failures();
	test_4k_blocks();
	unlink(path);
	return check_report("test_meta_slots");
}
