/* The NBD protocol's encoding and the validation of hostile requests (nbd/proto.c). */
#include <string.h>

#include "nbd/proto.h"
#include "testing/check.h"

static void test_encoding(void)
{
	uint8_t b[8];
	nbd_put64(b, NBD_MAGIC);
	CHECK(memcmp(b, "NBDMAGIC", 8) == 0);
	nbd_put64(b, NBD_IHAVEOPT);
	CHECK(memcmp(b, "IHAVEOPT", 8) == 0);
	CHECK(nbd_get64(b) == NBD_IHAVEOPT);
	nbd_put32(b, 0x01020304u);
	CHECK(b[0] == 1 && b[3] == 4 && nbd_get32(b) == 0x01020304u);
	nbd_put16(b, 0xabcd);
	CHECK(b[0] == 0xab && b[1] == 0xcd && nbd_get16(b) == 0xabcd);

	struct nbd_request r = { NBD_REQUEST_MAGIC, NBD_CMD_FLAG_FUA, NBD_CMD_WRITE, 0x1122334455667788ull, 1ull << 40, 4096 }, back;
	uint8_t raw[NBD_REQUEST_SIZE];
	nbd_encode_request(&r, raw);
	CHECK(nbd_get32(raw) == NBD_REQUEST_MAGIC && nbd_get16(raw + 6) == NBD_CMD_WRITE);
	nbd_decode_request(raw, &back);
	CHECK(memcmp(&r, &back, sizeof(r)) == 0);

	uint8_t rep[NBD_SIMPLE_REPLY_SIZE];
	nbd_encode_simple_reply(rep, NBD_EINVAL, 42);
	CHECK(nbd_get32(rep) == NBD_SIMPLE_REPLY_MAGIC && nbd_get32(rep + 4) == 22 && nbd_get64(rep + 8) == 42);
	uint8_t orep[NBD_REP_HEADER_SIZE];
	nbd_encode_option_reply(orep, NBD_OPT_GO, NBD_REP_ERR_UNKNOWN, 7);
	CHECK(nbd_get64(orep) == NBD_REP_MAGIC && nbd_get32(orep + 8) == 7 && nbd_get32(orep + 12) == 0x80000006u &&
	      nbd_get32(orep + 16) == 7);

	CHECK(nbd_transmission_flags(false, true) == (NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA |
						       NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES));
	CHECK(nbd_transmission_flags(true, true) & NBD_FLAG_READ_ONLY);
	CHECK(!(nbd_transmission_flags(true, true) & (NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES)));
	CHECK(!(nbd_transmission_flags(false, false) & NBD_FLAG_SEND_TRIM));
}

static uint32_t check_block(uint16_t type, uint16_t flags, uint64_t offset, uint32_t length, uint64_t size, bool ro, uint32_t block)
{
	struct nbd_request r = { NBD_REQUEST_MAGIC, flags, type, 1, offset, length };
	return nbd_check_request(&r, size, ro, block);
}

static uint32_t check(uint16_t type, uint16_t flags, uint64_t offset, uint32_t length, uint64_t size, bool ro)
{
	return check_block(type, flags, offset, length, size, ro, NBD_MIN_BLOCK);
}

static void test_validation(void)
{
	const uint64_t size = 64ull << 20;
	CHECK(check(NBD_CMD_READ, 0, 0, 4096, size, false) == 0);
	CHECK(check(NBD_CMD_READ, 0, size - 512, 512, size, false) == 0);
	CHECK(check(NBD_CMD_READ, 0, size, 0, size, false) == 0);
	CHECK(check(NBD_CMD_READ, 0, size - 512, 1024, size, false) == NBD_EINVAL);
	CHECK(check(NBD_CMD_READ, 0, size + 512, 0, size, false) == NBD_EINVAL);
	/* offset + length wraps around 2^64 */
	CHECK(check(NBD_CMD_READ, 0, UINT64_MAX - 511, 1024, size, false) == NBD_EINVAL);
	CHECK(check(NBD_CMD_WRITE, 0, UINT64_MAX - 511, 1024, UINT64_MAX, false) == NBD_EINVAL);
	/* payload cap, alignment */
	CHECK(check(NBD_CMD_READ, 0, 0, NBD_MAX_PAYLOAD, size, false) == 0);
	CHECK(check(NBD_CMD_READ, 0, 0, NBD_MAX_PAYLOAD + 512, size, false) == NBD_EINVAL);
	CHECK(check(NBD_CMD_WRITE, 0, 1, 512, size, false) == NBD_EINVAL);
	CHECK(check(NBD_CMD_WRITE, 0, 0, 100, size, false) == NBD_EINVAL);
	/* TRIM and WRITE_ZEROES carry no payload: no cap but the size */
	CHECK(check(NBD_CMD_TRIM, 0, 0, (uint32_t)size, size, false) == 0);
	CHECK(check(NBD_CMD_WRITE_ZEROES, NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FUA, 0, 1u << 30, 2ull << 30, false) == 0);
	/* flags */
	CHECK(check(NBD_CMD_WRITE, NBD_CMD_FLAG_FUA, 0, 512, size, false) == 0);
	CHECK(check(NBD_CMD_WRITE, NBD_CMD_FLAG_NO_HOLE, 0, 512, size, false) == NBD_EINVAL);
	CHECK(check(NBD_CMD_READ, NBD_CMD_FLAG_FUA, 0, 512, size, false) == NBD_EINVAL);
	CHECK(check(NBD_CMD_READ, 0x8000, 0, 512, size, false) == NBD_EINVAL);
	/* flush carries nothing */
	CHECK(check(NBD_CMD_FLUSH, 0, 0, 0, size, false) == 0);
	/* A 4096-byte store: whole 4 KiB blocks only. */
	CHECK(check_block(NBD_CMD_READ, 0, 4096, 8192, size, false, 4096) == 0);
	CHECK(check_block(NBD_CMD_READ, 0, 512, 4096, size, false, 4096) == NBD_EINVAL);
	CHECK(check_block(NBD_CMD_WRITE, 0, 4096, 512, size, false, 4096) == NBD_EINVAL);
	CHECK(check_block(NBD_CMD_TRIM, 0, 8192, 4096, size, false, 4096) == 0);
	CHECK(check_block(NBD_CMD_TRIM, 0, 8192, 1024, size, false, 4096) == NBD_EINVAL);
	CHECK(check_block(NBD_CMD_FLUSH, 0, 0, 0, size, false, 4096) == 0);
	CHECK(check(NBD_CMD_FLUSH, 0, 0, 512, size, false) == NBD_EINVAL);
	CHECK(check(NBD_CMD_FLUSH, 0, 0, 0, size, true) == 0);
	/* read-only */
	CHECK(check(NBD_CMD_READ, 0, 0, 512, size, true) == 0);
	CHECK(check(NBD_CMD_WRITE, 0, 0, 512, size, true) == NBD_EPERM);
	CHECK(check(NBD_CMD_TRIM, 0, 0, 512, size, true) == NBD_EPERM);
	CHECK(check(NBD_CMD_WRITE_ZEROES, 0, 0, 512, size, true) == NBD_EPERM);
	/* unknown commands, including ones we do not offer */
	CHECK(check(5, 0, 0, 512, size, false) == NBD_EINVAL);   /* CACHE */
	CHECK(check(7, 0, 0, 512, size, false) == NBD_EINVAL);   /* BLOCK_STATUS */
	CHECK(check(0xffff, 0, 0, 0, size, false) == NBD_EINVAL);
}

int main(void)
{
	test_encoding();
	test_validation();
	return check_report("test_nbd_proto");
}
