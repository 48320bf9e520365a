/*
 * The NBD server of one disk: a listening Unix socket, an accepting thread
 * and one thread per connection (handshake, then transmission on the
 * connection's own engine channel). Stopping wakes the acceptor through an
 * eventfd and each connection by shutting its socket down, then joins them.
 */
#include "nbd/server.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "nbd/conn.h"

#define MAX_CONNECTIONS 16
#define CHANNEL_DEPTH 8

struct connection {
	struct nbd_server *server;
	pthread_t thread;
	int fd;
	_Atomic bool done;
	struct connection *next;
};

struct nbd_server {
	struct nbd_export exp;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd;
	int wake_fd;
	pthread_t acceptor;
	pthread_mutex_t lock; /* the connection list */
	struct connection *conns;
	unsigned nconns;
};

static void *serve_connection(void *arg)
{
	struct connection *k = arg;
	struct nbd_conn c = { .exp = &k->server->exp, .fd = k->fd };
	c.chan = c.exp->engine->ops->channel_open(c.exp->engine, CHANNEL_DEPTH);
	if (c.chan) {
		if (nbd_handshake(&c) == 0)
			nbd_transmit(&c);
		c.chan->engine->ops->channel_close(c.chan);
	}
	shutdown(k->fd, SHUT_RDWR);
	atomic_store(&k->done, true);
	return NULL;
}

static void reap(struct nbd_server *s, bool all)
{
	for (struct connection **p = &s->conns; *p;) {
		struct connection *k = *p;
		if (!all && !atomic_load(&k->done)) {
			p = &k->next;
			continue;
		}
		if (all)
			shutdown(k->fd, SHUT_RDWR);
		pthread_join(k->thread, NULL);
		close(k->fd);
		*p = k->next;
		s->nconns--;
		free(k);
	}
}

static void *accept_loop(void *arg)
{
	struct nbd_server *s = arg;
	for (;;) {
		struct pollfd p[2] = { { .fd = s->listen_fd, .events = POLLIN }, { .fd = s->wake_fd, .events = POLLIN } };
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		pthread_mutex_lock(&s->lock);
		reap(s, false);
		struct connection *k = s->nconns < MAX_CONNECTIONS ? calloc(1, sizeof(*k)) : NULL;
		if (k) {
			k->server = s;
			k->fd = fd;
			if (pthread_create(&k->thread, NULL, serve_connection, k) == 0) {
				k->next = s->conns;
				s->conns = k;
				s->nconns++;
			} else {
				free(k);
				k = NULL;
			}
		}
		pthread_mutex_unlock(&s->lock);
		if (!k)
			close(fd); /* too many connections or no memory: refused */
	}
	return NULL;
}

struct nbd_server *nbd_server_start(const struct nbd_server_config *cfg, char *err, size_t errlen)
{
	struct nbd_server *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->listen_fd = -1;
	s->wake_fd = -1;
	snprintf(s->exp.name, sizeof(s->exp.name), "%s", cfg->name);
	s->exp.engine = cfg->engine;
	s->exp.readonly = cfg->readonly;
	s->exp.can_trim = cfg->can_trim && !cfg->readonly;
	s->exp.trim_zeroes = cfg->trim_zeroes;
	s->exp.block = cfg->block_size > 512 ? cfg->block_size : 512;
	pthread_mutex_init(&s->lock, NULL);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (!cfg->socket_path || cfg->socket_path[0] != '/' || strlen(cfg->socket_path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "nbd_socket must be an absolute path of at most %zu characters", sizeof(sa.sun_path) - 1);
		goto fail;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cfg->socket_path);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(err, errlen, "cannot bind the NBD socket %s: %s", cfg->socket_path, strerror(errno));
		goto fail;
	}
	snprintf(s->path, sizeof(s->path), "%s", cfg->socket_path); /* ours now: unlinked at stop */
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (listen(s->listen_fd, 16) != 0 || s->wake_fd < 0) {
		snprintf(err, errlen, "cannot listen on the NBD socket %s: %s", cfg->socket_path, strerror(errno));
		goto fail;
	}
	int r = pthread_create(&s->acceptor, NULL, accept_loop, s);
	if (r != 0) {
		snprintf(err, errlen, "cannot start the NBD server: %s", strerror(r));
		goto fail;
	}
	return s;
fail:
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	if (s->path[0])
		unlink(s->path);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return NULL;
}

const char *nbd_server_path(const struct nbd_server *s)
{
	return s->path;
}

void nbd_server_stop(struct nbd_server *s)
{
	if (!s)
		return;
	uint64_t one = 1;
	ssize_t w = write(s->wake_fd, &one, sizeof(one));
	(void)w;
	pthread_join(s->acceptor, NULL);
	close(s->listen_fd);
	unlink(s->path);
	pthread_mutex_lock(&s->lock);
	reap(s, true);
	pthread_mutex_unlock(&s->lock);
	close(s->wake_fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
