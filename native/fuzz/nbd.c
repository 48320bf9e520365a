/*
 * Fuzz target: what an NBD client sends (nbd/handshake.c, nbd/transmission.c,
 * nbd/proto.c), driven through the real code over a socketpair. The input is
 * a byte choosing the export (read-only, TRIM, TRIM reads back zeroes, an
 * unreliable engine: errors of every kind, a full channel, a failed submit
 * that ends the connection, completions that need the poll), the engine's size (8 bytes, little-endian), then the
 * client's byte stream: client flags, options, requests and their payloads.
 * Two oracles:
 *  - the engine behind the export: every I/O that reaches it comes after the
 *    handshake, lies within the export, is aligned and bounded, and is no
 *    write or discard the export forbids;
 *  - the client, a model of the protocol written here from the spec
 *    (NetworkBlockDevice/nbd doc/proto.md): it walks the same stream and
 *    reads the server's answers in step, checking that each option gets
 *    exactly its replies, each request one reply echoing its cookie, an
 *    error from the known set, success only for a request the export
 *    allows, and read data only after success; and that the server closes
 *    exactly where the stream leaves the protocol.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "nbd/conn.h"
#include "nbd/proto.h"

unsigned long fuzz_accepted;
const struct fuzz_replay fuzz_replay = { "fuzz/corpus/nbd", 20000 };

#define EXPORT_NAME "fz"
#define MAX_STREAM (32 * 1024) /* fits the socket buffer: the client writes it whole before reading */

static void finding(const char *what)
{
	fprintf(stderr, "fuzz_nbd: %s\n", what);
	abort();
}

/* The engine: completes at once, and checks every I/O it is given. */
struct fake_engine {
	struct engine base;
	uint64_t size;
	bool readonly, can_trim, trim_zeroes, fail;
	_Atomic bool transmitting; /* the handshake is over */
	_Atomic bool broken;       /* a submit failed: the server must close after its reply */
	unsigned ios;
	int result; /* of the I/O queued last */
};

struct fake_channel {
	struct engine_channel base;
	bool queued, late; /* late: the completion shows only after the poll */
	int efd;
};

/* What the unreliable engine answers, in turn (the server maps each to an NBD error). */
static const int fail_results[] = { 0, -EIO, 0, -ENOSPC, -EPERM, -EINVAL, -ENOMEM, -EOPNOTSUPP, -EROFS, 0 };

static struct fake_engine *engine_of(struct engine_channel *c)
{
	return (struct fake_engine *)c->engine;
}

static uint64_t fake_size(struct engine *e)
{
	return ((struct fake_engine *)e)->size;
}

static bool fake_can_discard(struct engine *e)
{
	return ((struct fake_engine *)e)->can_trim;
}

static int fake_queue(struct engine_channel *base, const struct eng_io *io)
{
	struct fake_channel *c = (struct fake_channel *)base;
	struct fake_engine *e = engine_of(base);
	if (!e->transmitting)
		finding("I/O before the handshake chose the export");
	if (c->queued)
		finding("a second I/O queued before the first was reaped");
	uint64_t exported = e->size - e->size % NBD_MIN_BLOCK;
	if (io->op != ENG_FLUSH) {
		if (io->len == 0 || io->offset > exported || io->len > exported - io->offset)
			finding("I/O outside the export");
		if (io->offset % NBD_MIN_BLOCK || io->len % NBD_MIN_BLOCK)
			finding("I/O not aligned to the minimum block");
	}
	if (e->readonly && (io->op == ENG_WRITE || io->op == ENG_DISCARD))
		finding("a write or discard on a read-only export");
	if (io->op == ENG_DISCARD && !e->can_trim && !e->trim_zeroes)
		finding("a discard the export does not allow");
	if (io->op == ENG_READ || io->op == ENG_WRITE) {
		if (io->len > NBD_MAX_PAYLOAD || io->iovcnt != 1 || io->iov[0].iov_len != io->len)
			finding("a data I/O beyond the maximum payload or its buffer");
		/* The buffer must hold the whole range: ASan tells if it does not. */
		volatile uint8_t *b = io->iov[0].iov_base;
		b[0] = b[0];
		b[io->len - 1] = b[io->len - 1];
	}
	e->ios++;
	if (e->fail && e->ios % 11 == 5)
		return -EAGAIN; /* the channel is full */
	e->result = e->fail ? fail_results[e->ios % (sizeof(fail_results) / sizeof(fail_results[0]))] : 0;
	c->late = e->fail && e->ios % 3 == 1;
	c->queued = true;
	return 0;
}

static int fake_submit(struct engine_channel *base)
{
	struct fake_channel *c = (struct fake_channel *)base;
	struct fake_engine *e = engine_of(base);
	if (!c->queued)
		finding("submitted with nothing queued");
	if (e->fail && e->ios % 13 == 7) {
		e->broken = true;
		return -EIO;
	}
	if (c->late && eventfd_write(c->efd, 1) != 0)
		abort();
	return 0;
}

static int fake_reap(struct engine_channel *base, struct eng_completion *out, int max)
{
	struct fake_channel *c = (struct fake_channel *)base;
	if (!c->queued || max < 1)
		finding("reaped with nothing queued");
	if (c->late) {
		c->late = false;
		return 0; /* not yet: the server sleeps on the completion fd */
	}
	c->queued = false;
	out->cookie = NULL;
	out->result = engine_of(base)->result;
	return 1;
}

static int fake_completion_fd(struct engine_channel *c)
{
	return ((struct fake_channel *)c)->efd;
}

static const struct engine_ops fake_ops = {
	.name = "fuzz",
	.size = fake_size,
	.can_discard = fake_can_discard,
	.queue = fake_queue,
	.submit = fake_submit,
	.reap = fake_reap,
	.completion_fd = fake_completion_fd,
};

/* The client: the stream it sends, and the model reading the server's answers. */
struct client {
	int fd;
	const uint8_t *in;
	size_t len, pos; /* the model's place in the stream it sent */
	const struct fake_engine *e;
	unsigned long served; /* requests answered with success */
	uint32_t last_error;  /* of the last reply */
};

/* The next n bytes the client sent, or NULL if the stream ends first (the server then closes). */
static const uint8_t *take(struct client *c, size_t n)
{
	if (c->len - c->pos < n)
		return NULL;
	const uint8_t *p = c->in + c->pos;
	c->pos += n;
	return p;
}

/* Exactly n bytes from the server, or a finding. */
static void expect(struct client *c, void *buf, size_t n, const char *what)
{
	if (nbd_read_full(c->fd, buf, n) != 0) {
		fprintf(stderr, "fuzz_nbd: the server closed where the model waits for %s\n", what);
		abort();
	}
}

/* The model left the protocol here: the server must close without another byte. */
static void expect_close(struct client *c)
{
	uint8_t b;
	ssize_t n;
	while ((n = recv(c->fd, &b, 1, 0)) < 0 && errno == EINTR)
		;
	/* A close with our bytes still unread is a reset. */
	if (n != 0 && !(n < 0 && errno == ECONNRESET))
		finding("the server goes on where the model says it closes");
}

static void expect_reply(struct client *c, uint32_t opt, uint32_t type, uint8_t *data, uint32_t len)
{
	uint8_t hdr[NBD_REP_HEADER_SIZE];
	expect(c, hdr, sizeof(hdr), "an option reply");
	if (nbd_get64(hdr) != NBD_REP_MAGIC || nbd_get32(hdr + 8) != opt)
		finding("an option reply without its magic or option");
	if (nbd_get32(hdr + 12) != type || nbd_get32(hdr + 16) != len) {
		fprintf(stderr, "fuzz_nbd: option %u: reply %#x length %u, the model expects %#x length %u\n", opt,
			nbd_get32(hdr + 12), nbd_get32(hdr + 16), type, len);
		abort();
	}
	if (len)
		expect(c, data, len, "option reply data");
}

static bool is_ours(const uint8_t *name, uint32_t len)
{
	return len == 0 || (len == strlen(EXPORT_NAME) && memcmp(name, EXPORT_NAME, len) == 0);
}

static uint16_t model_flags(const struct fake_engine *e)
{
	uint16_t f = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA;
	if (e->readonly)
		return f | NBD_FLAG_READ_ONLY;
	return f | NBD_FLAG_SEND_WRITE_ZEROES | (e->can_trim ? NBD_FLAG_SEND_TRIM : 0);
}

/* INFO and GO: the data is a name and a list of 16-bit info requests, lengths consistent. */
static bool info_or_go(struct client *c, uint32_t opt, const uint8_t *data, uint32_t len)
{
	uint8_t buf[16];
	uint64_t name_len = len >= 4 ? nbd_get32(data) : 0;
	if (len < 6 || name_len > len - 6 || 4 + name_len + 2 + 2ull * nbd_get16(data + 4 + name_len) != len) {
		expect_reply(c, opt, NBD_REP_ERR_INVALID, NULL, 0);
		return false;
	}
	if (!is_ours(data + 4, (uint32_t)name_len)) {
		expect_reply(c, opt, NBD_REP_ERR_UNKNOWN, NULL, 0);
		return false;
	}
	expect_reply(c, opt, NBD_REP_INFO, buf, 12);
	uint64_t exported = c->e->size - c->e->size % NBD_MIN_BLOCK;
	if (nbd_get16(buf) != NBD_INFO_EXPORT || nbd_get64(buf + 2) != exported || nbd_get16(buf + 10) != model_flags(c->e))
		finding("NBD_INFO_EXPORT with another size or flags");
	expect_reply(c, opt, NBD_REP_INFO, buf, 14);
	if (nbd_get16(buf) != NBD_INFO_BLOCK_SIZE || nbd_get32(buf + 2) != NBD_MIN_BLOCK ||
	    nbd_get32(buf + 6) != NBD_PREF_BLOCK || nbd_get32(buf + 10) != NBD_MAX_PAYLOAD)
		finding("NBD_INFO_BLOCK_SIZE with other sizes");
	expect_reply(c, opt, NBD_REP_ACK, NULL, 0);
	return opt == NBD_OPT_GO;
}

/* The handshake; true when the model goes on to transmission. */
static bool handshake(struct client *c)
{
	uint8_t greet[18];
	expect(c, greet, sizeof(greet), "the greeting");
	if (nbd_get64(greet) != NBD_MAGIC || nbd_get64(greet + 8) != NBD_IHAVEOPT ||
	    nbd_get16(greet + 16) != (NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES))
		finding("a greeting other than fixed newstyle");
	const uint8_t *p = take(c, 4);
	if (!p || nbd_get32(p) & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES))
		return false;
	bool no_zeroes = nbd_get32(p) & NBD_FLAG_C_NO_ZEROES;
	for (;;) {
		const uint8_t *hdr = take(c, NBD_OPT_HEADER_SIZE);
		if (!hdr || nbd_get64(hdr) != NBD_IHAVEOPT)
			return false;
		uint32_t opt = nbd_get32(hdr + 8), len = nbd_get32(hdr + 12);
		const uint8_t *data = len <= NBD_MAX_OPTION ? take(c, len) : NULL;
		if (!data)
			return false;
		uint8_t buf[8 + 2 + 124 + 1];
		switch (opt) {
		case NBD_OPT_EXPORT_NAME:
			if (!is_ours(data, len))
				return false;
			expect(c, buf, no_zeroes ? 10 : 134, "the export's size and flags");
			if (nbd_get64(buf) != c->e->size - c->e->size % NBD_MIN_BLOCK || nbd_get16(buf + 8) != model_flags(c->e))
				finding("EXPORT_NAME answered with another size or flags");
			return true;
		case NBD_OPT_ABORT:
			expect_reply(c, opt, NBD_REP_ACK, NULL, 0);
			return false;
		case NBD_OPT_LIST:
			if (len) {
				expect_reply(c, opt, NBD_REP_ERR_INVALID, NULL, 0);
				break;
			}
			expect_reply(c, opt, NBD_REP_SERVER, buf, 4 + (uint32_t)strlen(EXPORT_NAME));
			if (nbd_get32(buf) != strlen(EXPORT_NAME) || memcmp(buf + 4, EXPORT_NAME, strlen(EXPORT_NAME)) != 0)
				finding("LIST names another export");
			expect_reply(c, opt, NBD_REP_ACK, NULL, 0);
			break;
		case NBD_OPT_INFO:
		case NBD_OPT_GO:
			if (info_or_go(c, opt, data, len))
				return true;
			break;
		default:
			expect_reply(c, opt, NBD_REP_ERR_UNSUP, NULL, 0);
			break;
		}
	}
}

/* Whether the export may serve this request at all (its answer may still be an I/O error). */
static bool allowed(const struct fake_engine *e, const struct nbd_request *r)
{
	uint64_t exported = e->size - e->size % NBD_MIN_BLOCK;
	uint16_t flags;
	switch (r->type) {
	case NBD_CMD_READ:
		flags = 0;
		break;
	case NBD_CMD_WRITE:
	case NBD_CMD_TRIM:
		flags = NBD_CMD_FLAG_FUA;
		break;
	case NBD_CMD_WRITE_ZEROES:
		flags = NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE;
		break;
	case NBD_CMD_FLUSH:
		return !r->flags && !r->offset && !r->length;
	default:
		return false;
	}
	if (e->readonly && r->type != NBD_CMD_READ)
		return false;
	return !(r->flags & ~flags) && r->offset <= exported && r->length <= exported - r->offset &&
	       r->offset % NBD_MIN_BLOCK == 0 && r->length % NBD_MIN_BLOCK == 0 &&
	       (r->type != NBD_CMD_READ || r->length <= NBD_MAX_PAYLOAD);
}

static void transmission(struct client *c)
{
	static uint8_t junk[1 << 16];
	for (;;) {
		const uint8_t *raw = take(c, NBD_REQUEST_SIZE);
		if (!raw)
			return;
		struct nbd_request r;
		nbd_decode_request(raw, &r);
		if (r.magic != NBD_REQUEST_MAGIC || r.type == NBD_CMD_DISC)
			return;
		if (r.type == NBD_CMD_WRITE && (r.length > NBD_MAX_PAYLOAD || !take(c, r.length)))
			return; /* framing lost, or the payload cut short: no reply */
		uint8_t rep[NBD_SIMPLE_REPLY_SIZE];
		if (nbd_read_full(c->fd, rep, sizeof(rep)) != 0) {
			/* After a failed submit the channel may hold an unsubmitted I/O: the server ends the
			 * connection after its (error) reply. The server runs ahead of us, so which request
			 * that was shows only here. */
			if (c->e->broken && c->last_error)
				return;
			finding("the server closed where the model waits for a simple reply");
		}
		uint32_t error = nbd_get32(rep + 4);
		if (nbd_get32(rep) != NBD_SIMPLE_REPLY_MAGIC || nbd_get64(rep + 8) != r.cookie)
			finding("a reply without its magic or the request's cookie");
		if (error != 0 && error != NBD_EPERM && error != NBD_EIO && error != NBD_ENOMEM && error != NBD_EINVAL &&
		    error != NBD_ENOSPC && error != NBD_ENOTSUP)
			finding("an error outside the protocol's set");
		bool ok = allowed(c->e, &r);
		if (!error && !ok)
			finding("success for a request the export does not allow");
		if (error && ok && !c->e->fail)
			finding("an error for a request the export allows");
		if (error == NBD_EPERM && !c->e->readonly && !c->e->fail)
			finding("EPERM on a writable export");
		c->last_error = error;
		if (error)
			continue;
		c->served++;
		for (uint32_t left = r.type == NBD_CMD_READ ? r.length : 0; left;) {
			uint32_t n = left < sizeof(junk) ? left : (uint32_t)sizeof(junk);
			expect(c, junk, n, "read data");
			left -= n;
		}
	}
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	for (size_t off = 0; off < c->len;) {
		ssize_t n = send(c->fd, c->in + off, c->len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break; /* the server closed early: the model says where */
		off += (size_t)n;
	}
	shutdown(c->fd, SHUT_WR);
	if (handshake(c))
		transmission(c);
	expect_close(c);
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 9 || size - 9 > MAX_STREAM)
		return 0;
	struct fake_engine e = {
		.base.ops = &fake_ops,
		.readonly = data[0] & 1,
		.can_trim = data[0] & 2,
		.trim_zeroes = data[0] & 4,
		.fail = data[0] & 8,
	};
	memcpy(&e.size, data + 1, sizeof(e.size));
	struct nbd_export exp = { .name = EXPORT_NAME, .engine = &e.base, .readonly = e.readonly,
				  .can_trim = e.can_trim, .trim_zeroes = e.trim_zeroes, .block = NBD_MIN_BLOCK };
	struct fake_channel chan = { .base.engine = &e.base, .efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
	if (chan.efd < 0)
		abort();
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		abort();
	struct client cl = { .fd = sv[1], .in = data + 9, .len = size - 9, .e = &e };
	pthread_t t;
	if (pthread_create(&t, NULL, client_main, &cl) != 0)
		abort();
	struct nbd_conn conn = { .exp = &exp, .fd = sv[0], .chan = &chan.base };
	if (nbd_handshake(&conn) == 0) {
		e.transmitting = true;
		nbd_transmit(&conn);
	}
	close(sv[0]);
	pthread_join(t, NULL);
	close(sv[1]);
	close(chan.efd);
	fuzz_accepted += cl.served;
	return 0;
}
