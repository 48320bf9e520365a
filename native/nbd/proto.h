/*
 * The NBD protocol (NetworkBlockDevice/nbd doc/proto.md): constants, the
 * big-endian encoding of its messages, whole-message socket I/O and the
 * validation of a transmission request. Pure functions but for the I/O.
 */
#ifndef NBD_PROTO_H
#define NBD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NBD_MAGIC 0x4e42444d41474943ull    /* "NBDMAGIC" */
#define NBD_IHAVEOPT 0x49484156454f5054ull /* "IHAVEOPT" */
#define NBD_REP_MAGIC 0x0003e889045565a9ull
#define NBD_REQUEST_MAGIC 0x25609513u
#define NBD_SIMPLE_REPLY_MAGIC 0x67446698u

/* Handshake flags (server) and client flags. */
#define NBD_FLAG_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_NO_ZEROES (1u << 1)
#define NBD_FLAG_C_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_C_NO_ZEROES (1u << 1)

/* Transmission flags. */
#define NBD_FLAG_HAS_FLAGS (1u << 0)
#define NBD_FLAG_READ_ONLY (1u << 1)
#define NBD_FLAG_SEND_FLUSH (1u << 2)
#define NBD_FLAG_SEND_FUA (1u << 3)
#define NBD_FLAG_SEND_TRIM (1u << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES (1u << 6)

/* Options. */
#define NBD_OPT_EXPORT_NAME 1u
#define NBD_OPT_ABORT 2u
#define NBD_OPT_LIST 3u
#define NBD_OPT_INFO 6u
#define NBD_OPT_GO 7u

/* Option replies. */
#define NBD_REP_ACK 1u
#define NBD_REP_SERVER 2u
#define NBD_REP_INFO 3u
#define NBD_REP_FLAG_ERROR (1u << 31)
#define NBD_REP_ERR_UNSUP (NBD_REP_FLAG_ERROR | 1u)
#define NBD_REP_ERR_INVALID (NBD_REP_FLAG_ERROR | 3u)
#define NBD_REP_ERR_UNKNOWN (NBD_REP_FLAG_ERROR | 6u)

#define NBD_INFO_EXPORT 0u
#define NBD_INFO_BLOCK_SIZE 3u

/* Commands and command flags. */
#define NBD_CMD_READ 0u
#define NBD_CMD_WRITE 1u
#define NBD_CMD_DISC 2u
#define NBD_CMD_FLUSH 3u
#define NBD_CMD_TRIM 4u
#define NBD_CMD_WRITE_ZEROES 6u
#define NBD_CMD_FLAG_FUA (1u << 0)
#define NBD_CMD_FLAG_NO_HOLE (1u << 1)

/* Errors on the wire. */
#define NBD_EPERM 1u
#define NBD_EIO 5u
#define NBD_ENOMEM 12u
#define NBD_EINVAL 22u
#define NBD_ENOSPC 28u
#define NBD_ENOTSUP 95u

/* What we advertise. */
#define NBD_MIN_BLOCK 512u
#define NBD_PREF_BLOCK 4096u
#define NBD_MAX_PAYLOAD (32u << 20)
#define NBD_MAX_OPTION 4096u /* option data we accept; more drops the client */

#define NBD_REQUEST_SIZE 28
#define NBD_OPT_HEADER_SIZE 16
#define NBD_REP_HEADER_SIZE 20
#define NBD_SIMPLE_REPLY_SIZE 16

void nbd_put16(uint8_t *p, uint16_t v);
void nbd_put32(uint8_t *p, uint32_t v);
void nbd_put64(uint8_t *p, uint64_t v);
uint16_t nbd_get16(const uint8_t *p);
uint32_t nbd_get32(const uint8_t *p);
uint64_t nbd_get64(const uint8_t *p);

struct nbd_request {
	uint32_t magic;
	uint16_t flags;
	uint16_t type;
	uint64_t cookie;
	uint64_t offset;
	uint32_t length;
};

void nbd_decode_request(const uint8_t buf[NBD_REQUEST_SIZE], struct nbd_request *r);
void nbd_encode_request(const struct nbd_request *r, uint8_t buf[NBD_REQUEST_SIZE]);
void nbd_encode_simple_reply(uint8_t buf[NBD_SIMPLE_REPLY_SIZE], uint32_t error, uint64_t cookie);
void nbd_encode_option_reply(uint8_t buf[NBD_REP_HEADER_SIZE], uint32_t option, uint32_t type, uint32_t length);

/* The transmission flags of an export. */
uint16_t nbd_transmission_flags(bool readonly, bool can_trim);

/*
 * Checks a request (its magic already checked) against an export of `size`
 * bytes: 0 if it may be served, else the NBD error to answer with. Does not
 * say whether a payload follows: that is the type and length alone.
 */
uint32_t nbd_check_request(const struct nbd_request *r, uint64_t size, bool readonly, uint32_t block);

/* Whole-buffer socket I/O: 0, or -1 on error or end of stream. */
int nbd_read_full(int fd, void *buf, size_t len);
int nbd_write_full(int fd, const void *buf, size_t len);
/* Reads and throws away len bytes. */
int nbd_skip(int fd, uint64_t len);

#endif
