/*
 * A disk's NBD export on a Unix socket, for dom0 tools (qemu-img, nbdcopy).
 * The server has its own threads (one accepting, one per connection), each
 * connection its own engine channel: it never touches the queues' channels.
 */
#ifndef NBD_SERVER_H
#define NBD_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/engine.h"

struct nbd_server_config {
	const char *name;        /* the export name */
	const char *socket_path; /* created here; must not exist */
	struct engine *engine;   /* outlives the server */
	bool readonly;
	bool can_trim;
	bool trim_zeroes;
	uint32_t block_size;     /* the engine's block: offsets and lengths must be whole ones (0: 512) */
};

struct nbd_server;

/* Listens and starts serving; NULL with a message in err on failure. */
struct nbd_server *nbd_server_start(const struct nbd_server_config *cfg, char *err, size_t errlen);
const char *nbd_server_path(const struct nbd_server *s);
/* Closes the listener, ends every connection, joins the threads, unlinks the socket. */
void nbd_server_stop(struct nbd_server *s);

#endif
