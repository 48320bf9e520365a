/*
 * The fixed newstyle handshake: greeting, client flags, then options until
 * NBD_OPT_GO or NBD_OPT_EXPORT_NAME picks the export (or the client aborts
 * or breaks the protocol). Supported: EXPORT_NAME, ABORT, LIST, INFO, GO;
 * anything else is NBD_REP_ERR_UNSUP.
 */
#include <string.h>

#include "nbd/conn.h"
#include "nbd/proto.h"

uint64_t nbd_export_size(const struct nbd_export *e)
{
	uint64_t size = e->engine->ops->size(e->engine);
	return size - size % e->block;
}

static int reply(struct nbd_conn *c, uint32_t option, uint32_t type, const void *data, uint32_t len)
{
	uint8_t hdr[NBD_REP_HEADER_SIZE];
	nbd_encode_option_reply(hdr, option, type, len);
	if (nbd_write_full(c->fd, hdr, sizeof(hdr)) != 0)
		return -1;
	return len ? nbd_write_full(c->fd, data, len) : 0;
}

/* The empty name is the default export: ours, as there is only one. */
static bool is_ours(const struct nbd_conn *c, const uint8_t *name, uint32_t len)
{
	return len == 0 || (len == strlen(c->exp->name) && memcmp(name, c->exp->name, len) == 0);
}

static uint16_t flags_of(const struct nbd_conn *c)
{
	return nbd_transmission_flags(c->exp->readonly, c->exp->can_trim);
}

static int export_name(struct nbd_conn *c, const uint8_t *data, uint32_t len, bool no_zeroes)
{
	if (!is_ours(c, data, len))
		return -1; /* the protocol has no error reply here: close */
	c->size = nbd_export_size(c->exp);
	uint8_t buf[8 + 2 + 124] = { 0 };
	nbd_put64(buf, c->size);
	nbd_put16(buf + 8, flags_of(c));
	return nbd_write_full(c->fd, buf, no_zeroes ? 10 : sizeof(buf)) == 0 ? 0 : -1;
}

/* INFO and GO: 0 to go on (for GO: to transmission), 1 when refused, -1 on a broken connection. */
static int info_or_go(struct nbd_conn *c, uint32_t opt, const uint8_t *data, uint32_t len)
{
	if (len < 6)
		return reply(c, opt, NBD_REP_ERR_INVALID, NULL, 0) == 0 ? 1 : -1;
	uint32_t name_len = nbd_get32(data);
	if (name_len > len - 6)
		return reply(c, opt, NBD_REP_ERR_INVALID, NULL, 0) == 0 ? 1 : -1;
	uint32_t nreq = nbd_get16(data + 4 + name_len);
	if ((uint64_t)4 + name_len + 2 + 2ull * nreq != len)
		return reply(c, opt, NBD_REP_ERR_INVALID, NULL, 0) == 0 ? 1 : -1;
	if (!is_ours(c, data + 4, name_len))
		return reply(c, opt, NBD_REP_ERR_UNKNOWN, NULL, 0) == 0 ? 1 : -1;
	/* Whatever was asked, we tell the size, flags and block sizes. */
	c->size = nbd_export_size(c->exp);
	uint8_t exp[12], bs[14];
	nbd_put16(exp, NBD_INFO_EXPORT);
	nbd_put64(exp + 2, c->size);
	nbd_put16(exp + 10, flags_of(c));
	nbd_put16(bs, NBD_INFO_BLOCK_SIZE);
	/* A 4096-byte store (an lvol, a 4Kn drive) takes nothing smaller: the client must not send it. */
	nbd_put32(bs + 2, c->exp->block);
	nbd_put32(bs + 6, c->exp->block > NBD_PREF_BLOCK ? c->exp->block : NBD_PREF_BLOCK);
	nbd_put32(bs + 10, NBD_MAX_PAYLOAD);
	if (reply(c, opt, NBD_REP_INFO, exp, sizeof(exp)) != 0 || reply(c, opt, NBD_REP_INFO, bs, sizeof(bs)) != 0 ||
	    reply(c, opt, NBD_REP_ACK, NULL, 0) != 0)
		return -1;
	return 0;
}

int nbd_handshake(struct nbd_conn *c)
{
	uint8_t greet[18];
	nbd_put64(greet, NBD_MAGIC);
	nbd_put64(greet + 8, NBD_IHAVEOPT);
	nbd_put16(greet + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	if (nbd_write_full(c->fd, greet, sizeof(greet)) != 0)
		return -1;
	uint8_t cf[4];
	if (nbd_read_full(c->fd, cf, sizeof(cf)) != 0)
		return -1;
	uint32_t client_flags = nbd_get32(cf);
	if (client_flags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES))
		return -1; /* flags we do not know: the protocol says to close */
	bool no_zeroes = client_flags & NBD_FLAG_C_NO_ZEROES;

	uint8_t data[NBD_MAX_OPTION];
	for (;;) {
		uint8_t hdr[NBD_OPT_HEADER_SIZE];
		if (nbd_read_full(c->fd, hdr, sizeof(hdr)) != 0 || nbd_get64(hdr) != NBD_IHAVEOPT)
			return -1;
		uint32_t opt = nbd_get32(hdr + 8), len = nbd_get32(hdr + 12);
		if (len > sizeof(data) || (len && nbd_read_full(c->fd, data, len) != 0))
			return -1;
		int r;
		switch (opt) {
		case NBD_OPT_EXPORT_NAME:
			return export_name(c, data, len, no_zeroes);
		case NBD_OPT_ABORT:
			reply(c, opt, NBD_REP_ACK, NULL, 0);
			return -1;
		case NBD_OPT_LIST: {
			if (len) {
				r = reply(c, opt, NBD_REP_ERR_INVALID, NULL, 0);
				break;
			}
			uint8_t srv[4 + NBD_NAME_MAX];
			uint32_t n = (uint32_t)strlen(c->exp->name);
			nbd_put32(srv, n);
			memcpy(srv + 4, c->exp->name, n);
			r = reply(c, opt, NBD_REP_SERVER, srv, 4 + n);
			if (r == 0)
				r = reply(c, opt, NBD_REP_ACK, NULL, 0);
			break;
		}
		case NBD_OPT_INFO:
		case NBD_OPT_GO:
			r = info_or_go(c, opt, data, len);
			if (r == 0 && opt == NBD_OPT_GO)
				return 0;
			r = r < 0 ? -1 : 0;
			break;
		default:
			r = reply(c, opt, NBD_REP_ERR_UNSUP, NULL, 0);
			break;
		}
		if (r != 0)
			return -1;
	}
}
