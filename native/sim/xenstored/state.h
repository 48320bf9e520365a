/* Keeping the store across a restart, as oxenstored's live update does: on
 * SIGUSR1 the server writes the tree (values and permissions), the introduced
 * domains and the special watch permissions to --state-file and exits; the
 * next server started with the same --state-file loads it (and removes the
 * file) before it listens, reopening every introduced domain's socket.
 * Connections, and so watches and transactions, are not kept: clients
 * reconnect and register their watches again. */
#ifndef XSD_STATE_H
#define XSD_STATE_H

#include <stdbool.h>

#include "xsd.h"

/* false after logging why. */
bool state_save(struct xsd *x, const char *path);
/* 1 loaded, 0 no such file, -1 unreadable (logged). */
int state_load(struct xsd *x, const char *path);

#endif
