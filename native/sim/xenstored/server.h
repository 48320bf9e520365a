/* The event loop: listening sockets, accepting clients, reading requests,
 * writing replies and events, and the lifetime of connections (a dropped
 * connection is closed at once and freed when the loop iteration ends, so
 * nothing still pointing at it in that iteration dangles). */
#ifndef XSD_SERVER_H
#define XSD_SERVER_H

#include <stdbool.h>

#include "conn.h"
#include "xsd.h"

struct listener {
    struct ep_tag tag;           /* first: epoll data */
    struct listener *next;
    struct xsd *xsd;
    int fd;
    char *path;
    unsigned domid;              /* clients accepted here are this domain */
    bool dead;
};

/* Sets up the tree and listens on <dir>/socket; false after logging why. */
bool server_init(struct xsd *x, const char *dir, bool trace);
/* Serves until SIGTERM or SIGINT. */
void server_run(struct xsd *x);
/* Closes everything and removes the sockets. */
void server_fini(struct xsd *x);

/* Listens on path for domid's clients: NULL with *err (an errno xenstore
 * can name) on failure. A stale socket file is replaced, a live one not. */
struct listener *listener_open(struct xsd *x, const char *path, unsigned domid,
                               int *err);
void listener_close(struct listener *l);

void conn_drop(struct conn *c);

#endif
