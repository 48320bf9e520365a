/* One NBD client connection, shared by the handshake, the transmission phase and the server thread. */
#ifndef NBD_CONN_H
#define NBD_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/engine.h"

#define NBD_NAME_MAX 64

/* What is exported: one disk. */
struct nbd_export {
	char name[NBD_NAME_MAX];
	struct engine *engine;
	bool readonly;
	bool can_trim;    /* TRIM reaches the engine's DISCARD */
	bool trim_zeroes; /* a DISCARD reads back zeroes (a file, the null engine) */
	uint32_t block;   /* minimum block size advertised and enforced: the engine's, 512 or 4096 */
};

struct nbd_conn {
	const struct nbd_export *exp;
	int fd;
	struct engine_channel *chan; /* this connection's own channel, used on its thread only */
	uint64_t size;               /* read from the engine at the handshake */
	bool broken;                 /* the channel failed to submit: end the connection after replying */
};

/* The export's size now, in whole blocks of the export. */
uint64_t nbd_export_size(const struct nbd_export *e);

/* Option haggling (handshake.c): 0 to go on to transmission, -1 when the connection is over. */
int nbd_handshake(struct nbd_conn *c);

/* Serves requests until the client disconnects or breaks the protocol (transmission.c). */
void nbd_transmit(struct nbd_conn *c);

#endif
