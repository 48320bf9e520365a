/* The NBD protocol's encoding, request validation and whole-message socket I/O. */
#include "nbd/proto.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

void nbd_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void nbd_put32(uint8_t *p, uint32_t v)
{
	nbd_put16(p, (uint16_t)(v >> 16));
	nbd_put16(p + 2, (uint16_t)v);
}

void nbd_put64(uint8_t *p, uint64_t v)
{
	nbd_put32(p, (uint32_t)(v >> 32));
	nbd_put32(p + 4, (uint32_t)v);
}

uint16_t nbd_get16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

uint32_t nbd_get32(const uint8_t *p)
{
	return (uint32_t)nbd_get16(p) << 16 | nbd_get16(p + 2);
}

uint64_t nbd_get64(const uint8_t *p)
{
	return (uint64_t)nbd_get32(p) << 32 | nbd_get32(p + 4);
}

void nbd_decode_request(const uint8_t buf[NBD_REQUEST_SIZE], struct nbd_request *r)
{
	r->magic = nbd_get32(buf);
	r->flags = nbd_get16(buf + 4);
	r->type = nbd_get16(buf + 6);
	r->cookie = nbd_get64(buf + 8);
	r->offset = nbd_get64(buf + 16);
	r->length = nbd_get32(buf + 24);
}

void nbd_encode_request(const struct nbd_request *r, uint8_t buf[NBD_REQUEST_SIZE])
{
	nbd_put32(buf, r->magic);
	nbd_put16(buf + 4, r->flags);
	nbd_put16(buf + 6, r->type);
	nbd_put64(buf + 8, r->cookie);
	nbd_put64(buf + 16, r->offset);
	nbd_put32(buf + 24, r->length);
}

void nbd_encode_simple_reply(uint8_t buf[NBD_SIMPLE_REPLY_SIZE], uint32_t error, uint64_t cookie)
{
	nbd_put32(buf, NBD_SIMPLE_REPLY_MAGIC);
	nbd_put32(buf + 4, error);
	nbd_put64(buf + 8, cookie);
}

void nbd_encode_option_reply(uint8_t buf[NBD_REP_HEADER_SIZE], uint32_t option, uint32_t type, uint32_t length)
{
	nbd_put64(buf, NBD_REP_MAGIC);
	nbd_put32(buf + 8, option);
	nbd_put32(buf + 12, type);
	nbd_put32(buf + 16, length);
}

uint16_t nbd_transmission_flags(bool readonly, bool can_trim)
{
	uint16_t f = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA;
	if (readonly)
		return f | NBD_FLAG_READ_ONLY;
	f |= NBD_FLAG_SEND_WRITE_ZEROES;
	if (can_trim)
		f |= NBD_FLAG_SEND_TRIM;
	return f;
}

uint32_t nbd_check_request(const struct nbd_request *r, uint64_t size, bool readonly, uint32_t block)
{
	uint16_t allowed;
	switch (r->type) {
	case NBD_CMD_READ:
		allowed = 0;
		break;
	case NBD_CMD_WRITE:
	case NBD_CMD_TRIM:
		allowed = NBD_CMD_FLAG_FUA;
		break;
	case NBD_CMD_WRITE_ZEROES:
		allowed = NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE;
		break;
	case NBD_CMD_FLUSH:
		return r->flags || r->offset || r->length ? NBD_EINVAL : 0;
	default:
		return NBD_EINVAL;
	}
	if (r->flags & ~allowed)
		return NBD_EINVAL;
	if ((r->type == NBD_CMD_READ || r->type == NBD_CMD_WRITE) && r->length > NBD_MAX_PAYLOAD)
		return NBD_EINVAL;
	if (r->offset > size || r->length > size - r->offset)
		return NBD_EINVAL;
	if (r->offset % block || r->length % block)
		return NBD_EINVAL;
	if (readonly && r->type != NBD_CMD_READ)
		return NBD_EPERM;
	return 0;
}

int nbd_read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = recv(fd, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int nbd_write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int nbd_skip(int fd, uint64_t len)
{
	uint8_t junk[4096];
	while (len) {
		size_t n = len < sizeof(junk) ? (size_t)len : sizeof(junk);
		if (nbd_read_full(fd, junk, n) != 0)
			return -1;
		len -= n;
	}
	return 0;
}
