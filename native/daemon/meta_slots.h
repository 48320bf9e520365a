/*
 * A small record (an SR's metadata: names SPDK cannot hold) kept on a volume
 * of its own, crash-safe: the volume is two slots, each a header block then
 * the data; a write goes to the slot not holding the newest valid record,
 * with the next generation, and is flushed. A torn write fails its CRC, and
 * the other slot still holds the last record written whole. The volume's
 * contents are not trusted: every length is bounded, every byte checked.
 */
#ifndef DAEMON_META_SLOTS_H
#define DAEMON_META_SLOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"

#define META_MAGIC "XAPIMETA"
#define META_VERSION 1u
#define META_HEADER_BYTES 4096u /* the header's block: the data starts after it */

struct meta_header {
	char magic[8];
	uint32_t version;
	uint32_t length; /* bytes of data after the header block */
	uint64_t generation;
	uint32_t crc; /* CRC-32 of this header (crc zero) and then the data */
	uint32_t reserved;
};

/* Slot size on a volume of `volume_bytes` with blocks of `block`: half of it, whole blocks; 0 if too small. */
uint64_t meta_slot_bytes(uint64_t volume_bytes, uint32_t block);

/* The most data a slot of slot_bytes holds. */
uint64_t meta_capacity(uint64_t slot_bytes);

/* Fills buf (META_HEADER_BYTES + len, rounded up by the caller) with a slot's header and data. */
void meta_encode(void *buf, uint64_t generation, const void *data, uint32_t len);

/* Whether a header read from a slot of slot_bytes is ours and its length fits (not yet its CRC). */
bool meta_header_valid(const struct meta_header *h, uint64_t slot_bytes);

/* Whether a slot read whole (header block and h->length bytes of data) matches its CRC. */
bool meta_crc_valid(const void *slot, uint32_t length);

/*
 * Reads the newest valid record: *data (malloc'ed, NUL-terminated, *len bytes)
 * and its *generation; *generation 0 and *data NULL when no slot holds one.
 * idle, when not NULL, runs while waiting (polls what the engine needs).
 */
int meta_read(struct engine *e, void (*idle)(void), uint64_t *generation, char **data, size_t *len, char *err,
	      size_t errlen);

/* Writes data as the next generation (returned in *generation) into the other slot, then flushes. */
int meta_write(struct engine *e, void (*idle)(void), const char *data, size_t len, uint64_t *generation, char *err,
	       size_t errlen);

#endif
