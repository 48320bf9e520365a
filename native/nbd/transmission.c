/*
 * The transmission phase with simple replies, one request at a time: read
 * and validate a request, run it through the engine on this connection's
 * own channel (queue, submit, sleep on the completion fd, reap), answer.
 * A request that breaks the framing (bad magic, a write payload over the
 * maximum) ends the connection; any other bad request gets an error reply.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nbd/conn.h"
#include "nbd/proto.h"

#define ZERO_CHUNK (1u << 20)

static uint32_t wire_error(int err)
{
	switch (err) {
	case -EPERM:
	case -EACCES:
	case -EROFS:
		return NBD_EPERM;
	case -ENOSPC:
		return NBD_ENOSPC;
	case -EINVAL:
		return NBD_EINVAL;
	case -ENOMEM:
		return NBD_ENOMEM;
	case -EOPNOTSUPP:
		return NBD_ENOTSUP;
	default:
		return NBD_EIO;
	}
}

/* One I/O through the engine, waited for: 0 or -errno. */
static int run_io(struct nbd_conn *c, enum eng_op op, uint64_t offset, uint64_t len, void *buf)
{
	const struct engine_ops *ops = c->chan->engine->ops;
	struct iovec iov = { .iov_base = buf, .iov_len = (size_t)len };
	struct eng_io io = { .op = op, .offset = offset, .len = len, .iov = &iov, .iovcnt = 1, .cookie = c };
	int r = ops->queue(c->chan, &io);
	if (r != 0)
		return r;
	r = ops->submit(c->chan);
	if (r != 0) {
		/* The I/O may still sit unsubmitted in the channel: never submit on it again (it is closed unsubmitted). */
		c->broken = true;
		return r;
	}
	int cfd = ops->completion_fd(c->chan);
	for (;;) {
		struct eng_completion done;
		if (ops->reap(c->chan, &done, 1) == 1)
			return done.result;
		struct pollfd p = { .fd = cfd, .events = POLLIN };
		if (poll(&p, 1, 1000) > 0) {
			uint64_t n;
			ssize_t rd = read(cfd, &n, sizeof(n));
			(void)rd;
		}
	}
}

static int write_zeroes(struct nbd_conn *c, const struct nbd_request *r)
{
	if (!(r->flags & NBD_CMD_FLAG_NO_HOLE) && c->exp->trim_zeroes)
		return run_io(c, ENG_DISCARD, r->offset, r->length, NULL);
	size_t chunk = r->length < ZERO_CHUNK ? r->length : ZERO_CHUNK;
	void *zero = NULL;
	if (posix_memalign(&zero, 4096, (chunk + 4095) & ~(size_t)4095) != 0)
		return -ENOMEM;
	memset(zero, 0, chunk);
	int err = 0;
	for (uint64_t done = 0; done < r->length && !err; done += chunk) {
		uint64_t n = r->length - done < chunk ? r->length - done : chunk;
		err = run_io(c, ENG_WRITE, r->offset + done, n, zero);
	}
	free(zero);
	return err;
}

/* Runs a checked request: 0 or -errno. */
static int execute(struct nbd_conn *c, const struct nbd_request *r, void *buf)
{
	int err = 0;
	switch (r->type) {
	case NBD_CMD_READ:
		return r->length ? run_io(c, ENG_READ, r->offset, r->length, buf) : 0;
	case NBD_CMD_WRITE:
		err = r->length ? run_io(c, ENG_WRITE, r->offset, r->length, buf) : 0;
		break;
	case NBD_CMD_FLUSH:
		return run_io(c, ENG_FLUSH, 0, 0, NULL);
	case NBD_CMD_TRIM:
		/* Advisory: without discard in the engine it does nothing. */
		err = r->length && c->exp->can_trim ? run_io(c, ENG_DISCARD, r->offset, r->length, NULL) : 0;
		break;
	case NBD_CMD_WRITE_ZEROES:
		err = r->length ? write_zeroes(c, r) : 0;
		break;
	default:
		return -EINVAL;
	}
	if (!err && (r->flags & NBD_CMD_FLAG_FUA))
		err = run_io(c, ENG_FLUSH, 0, 0, NULL);
	return err;
}

void nbd_transmit(struct nbd_conn *c)
{
	for (;;) {
		uint8_t raw[NBD_REQUEST_SIZE];
		struct nbd_request r;
		if (nbd_read_full(c->fd, raw, sizeof(raw)) != 0)
			return;
		nbd_decode_request(raw, &r);
		if (r.magic != NBD_REQUEST_MAGIC || r.type == NBD_CMD_DISC)
			return;
		bool has_payload = r.type == NBD_CMD_WRITE;
		if (has_payload && r.length > NBD_MAX_PAYLOAD)
			return; /* we cannot tell where the next request starts */
		uint32_t error = nbd_check_request(&r, c->size, c->exp->readonly, c->exp->block);
		void *buf = NULL;
		bool data_io = r.type == NBD_CMD_READ || r.type == NBD_CMD_WRITE;
		if (!error && data_io && r.length &&
		    posix_memalign(&buf, 4096, ((size_t)r.length + 4095) & ~(size_t)4095) != 0) {
			buf = NULL;
			error = NBD_ENOMEM;
		}
		if (has_payload && (buf ? nbd_read_full(c->fd, buf, r.length) : nbd_skip(c->fd, r.length)) != 0) {
			free(buf);
			return;
		}
		if (!error) {
			int err = execute(c, &r, buf);
			error = err ? wire_error(err) : 0;
		}
		uint8_t rep[NBD_SIMPLE_REPLY_SIZE];
		nbd_encode_simple_reply(rep, error, r.cookie);
		bool ok = nbd_write_full(c->fd, rep, sizeof(rep)) == 0;
		if (ok && !error && r.type == NBD_CMD_READ && r.length)
			ok = nbd_write_full(c->fd, buf, r.length) == 0;
		free(buf);
		if (!ok || c->broken)
			return;
	}
}
