/* The two-slot metadata record (meta_slots.h). */
#include "daemon/meta_slots.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* I/O is in whole 4096-byte units: a multiple of every block size an engine has (512, 4096). */
#define UNIT 4096u

static uint64_t round_up(uint64_t n)
{
	return (n + UNIT - 1) / UNIT * UNIT;
}

uint64_t meta_slot_bytes(uint64_t volume_bytes, uint32_t block)
{
	if (block == 0 || UNIT % block)
		return 0;
	uint64_t slot = volume_bytes / 2 / UNIT * UNIT;
	return slot > META_HEADER_BYTES ? slot : 0;
}

uint64_t meta_capacity(uint64_t slot_bytes)
{
	uint64_t cap = slot_bytes > META_HEADER_BYTES ? slot_bytes - META_HEADER_BYTES : 0;
	return cap < UINT32_MAX ? cap : UINT32_MAX;
}

static uint32_t crc_of(const struct meta_header *h, const void *data, uint32_t len)
{
	struct meta_header copy = *h;
	copy.crc = 0;
	uLong crc = crc32(0L, (const Bytef *)&copy, sizeof(copy));
	return (uint32_t)crc32(crc, (const Bytef *)data, len);
}

void meta_encode(void *buf, uint64_t generation, const void *data, uint32_t len)
{
	struct meta_header h = { .version = META_VERSION, .length = len, .generation = generation };
	memcpy(h.magic, META_MAGIC, sizeof(h.magic));
	memset(buf, 0, META_HEADER_BYTES);
	memcpy((char *)buf + META_HEADER_BYTES, data, len);
	h.crc = crc_of(&h, data, len);
	memcpy(buf, &h, sizeof(h));
}

bool meta_header_valid(const struct meta_header *h, uint64_t slot_bytes)
{
	return memcmp(h->magic, META_MAGIC, sizeof(h->magic)) == 0 && h->version == META_VERSION &&
	       h->generation != 0 && h->length <= meta_capacity(slot_bytes);
}

bool meta_crc_valid(const void *slot, uint32_t length)
{
	struct meta_header h;
	memcpy(&h, slot, sizeof(h));
	return h.length == length && crc_of(&h, (const char *)slot + META_HEADER_BYTES, length) == h.crc;
}

/* One I/O, waited for: the control path has nothing else to do meanwhile. */
static int run_io(struct engine_channel *c, void (*idle)(void), struct eng_io io)
{
	struct engine *e = c->engine;
	int rc = e->ops->queue(c, &io);
	if (rc == 0)
		rc = e->ops->submit(c);
	if (rc != 0)
		return rc;
	for (;;) {
		struct eng_completion done;
		if (e->ops->reap(c, &done, 1) == 1)
			return done.result;
		if (idle)
			idle();
		struct pollfd p = { .fd = e->ops->completion_fd(c), .events = POLLIN };
		if (poll(&p, 1, 1) > 0) {
			uint64_t drained;
			if (read(p.fd, &drained, sizeof(drained)) < 0) {
				/* EAGAIN: another wake-up took it; reap again either way */
			}
		}
	}
}

static int rw(struct engine_channel *c, void (*idle)(void), enum eng_op op, uint64_t offset, void *buf, uint64_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	return run_io(c, idle, (struct eng_io){ .op = op, .offset = offset, .iov = &iov, .iovcnt = 1 });
}

struct slots {
	struct engine_channel *chan;
	uint64_t slot_bytes;
	void *buf; /* a whole slot */
};

static int open_slots(struct engine *e, struct slots *s, char *err, size_t errlen)
{
	s->slot_bytes = meta_slot_bytes(e->ops->size(e), e->ops->block_size(e));
	if (!s->slot_bytes) {
		snprintf(err, errlen, "the metadata volume is too small");
		return -1;
	}
	s->chan = e->ops->channel_open(e, 4);
	s->buf = s->chan ? engine_buf_alloc(e, s->slot_bytes) : NULL;
	if (!s->buf) {
		if (s->chan)
			e->ops->channel_close(s->chan);
		snprintf(err, errlen, "out of memory for the metadata volume's I/O");
		return -1;
	}
	return 0;
}

static void close_slots(struct engine *e, struct slots *s)
{
	engine_buf_free(e, s->buf, s->slot_bytes);
	e->ops->channel_close(s->chan);
}

/* The generations of both slots' valid records (0: none there). Reads whole slots, so buf ends up holding slot `*newest`'s. */
static int scan(struct slots *s, void (*idle)(void), uint64_t gen[2], int *newest, char *err, size_t errlen)
{
	*newest = -1;
	for (int i = 0; i < 2; i++) {
		gen[i] = 0;
		int rc = rw(s->chan, idle, ENG_READ, (uint64_t)i * s->slot_bytes, s->buf, META_HEADER_BYTES);
		if (rc != 0) {
			snprintf(err, errlen, "reading the metadata volume: %s", strerror(-rc));
			return -1;
		}
		struct meta_header h;
		memcpy(&h, s->buf, sizeof(h));
		if (!meta_header_valid(&h, s->slot_bytes))
			continue;
		rc = rw(s->chan, idle, ENG_READ, (uint64_t)i * s->slot_bytes, s->buf, round_up(META_HEADER_BYTES + h.length));
		if (rc != 0) {
			snprintf(err, errlen, "reading the metadata volume: %s", strerror(-rc));
			return -1;
		}
		if (meta_crc_valid(s->buf, h.length))
			gen[i] = h.generation;
	}
	if (gen[0] || gen[1])
		*newest = gen[1] > gen[0] ? 1 : 0;
	return 0;
}

int meta_read(struct engine *e, void (*idle)(void), uint64_t *generation, char **data, size_t *len, char *err,
	      size_t errlen)
{
	struct slots s;
	*generation = 0;
	*data = NULL;
	*len = 0;
	if (open_slots(e, &s, err, errlen) != 0)
		return -1;
	uint64_t gen[2];
	int newest, rc = scan(&s, idle, gen, &newest, err, errlen);
	if (rc == 0 && newest >= 0) {
		/* The slot read last is slot 1: read the newest again when it is slot 0. */
		struct meta_header h;
		if (newest == 0) {
			rc = rw(s.chan, idle, ENG_READ, 0, s.buf, META_HEADER_BYTES);
			memcpy(&h, s.buf, sizeof(h));
			if (rc == 0 && meta_header_valid(&h, s.slot_bytes))
				rc = rw(s.chan, idle, ENG_READ, 0, s.buf, round_up(META_HEADER_BYTES + h.length));
			if (rc != 0)
				snprintf(err, errlen, "reading the metadata volume: %s", strerror(-rc));
		}
		memcpy(&h, s.buf, sizeof(h));
		/* Checked again: what was read the second time is what is returned. */
		if (rc == 0 && (!meta_header_valid(&h, s.slot_bytes) || h.generation != gen[newest] ||
				!meta_crc_valid(s.buf, h.length))) {
			snprintf(err, errlen, "the metadata volume changed while being read");
			rc = -1;
		}
		if (rc == 0 && !(*data = malloc((size_t)h.length + 1))) {
			snprintf(err, errlen, "out of memory");
			rc = -1;
		}
		if (rc == 0) {
			memcpy(*data, (char *)s.buf + META_HEADER_BYTES, h.length);
			(*data)[h.length] = '\0';
			*len = h.length;
			*generation = h.generation;
		}
	}
	close_slots(e, &s);
	return rc == 0 ? 0 : -1;
}

int meta_write(struct engine *e, void (*idle)(void), const char *data, size_t len, uint64_t *generation, char *err,
	       size_t errlen)
{
	struct slots s;
	if (open_slots(e, &s, err, errlen) != 0)
		return -1;
	uint64_t gen[2];
	int newest, rc = -1;
	if (len > meta_capacity(s.slot_bytes)) {
		snprintf(err, errlen, "the metadata (%zu bytes) does not fit its volume (%llu bytes a slot)", len,
			 (unsigned long long)meta_capacity(s.slot_bytes));
	} else if (scan(&s, idle, gen, &newest, err, errlen) == 0) {
		/* The other slot than the newest record's: that one stays whole whatever happens to this write. */
		int target = newest == 0 ? 1 : 0;
		uint64_t next = (newest >= 0 ? gen[newest] : 0) + 1;
		uint64_t bytes = round_up(META_HEADER_BYTES + len);
		memset(s.buf, 0, bytes);
		meta_encode(s.buf, next, data, (uint32_t)len);
		rc = rw(s.chan, idle, ENG_WRITE, (uint64_t)target * s.slot_bytes, s.buf, bytes);
		if (rc == 0)
			rc = run_io(s.chan, idle, (struct eng_io){ .op = ENG_FLUSH });
		if (rc != 0)
			snprintf(err, errlen, "writing the metadata volume: %s", strerror(-rc));
		else
			*generation = next;
	}
	close_slots(e, &s);
	return rc == 0 ? 0 : -1;
}
