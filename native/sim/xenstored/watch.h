/* Watches: registration per connection and the firing rules of xenstored
 * (match on the node and its descendants, or exactly; delivered only to
 * connections that may read the node or its parent; paths given back in the
 * watcher's relative form). */
#ifndef XSD_WATCH_H
#define XSD_WATCH_H

#include <stdbool.h>

#include "conn.h"
#include "store.h"

struct watch {
    struct watch *next;
    char *node;                  /* canonical path or "@special" */
    char *token;
    char *relative_to;           /* home it was relative to, or NULL */
};

/* Registers path/token on c (0 or an errno) and, like xenstored, queues the
 * initial event right after the caller's acknowledgement: the caller acks,
 * then calls watch_fire_initial. */
int watch_add(struct conn *c, const char *path, const char *token,
              struct watch **added);
void watch_fire_initial(struct conn *c, const struct watch *w);
int watch_remove(struct conn *c, const char *path, const char *token);
void watch_free_all(struct conn *c);

/* An event on name (a node path or "@introduceDomain"/"@releaseDomain").
 * node is the node when the caller has it, else looked up; oldperms are the
 * permissions before a change (a watcher losing access still hears of it).
 * exact: only watches on exactly name match (descendants removed by RM). */
void watch_fire(struct xsd *x, const char *name, const struct node *node,
                bool exact, const struct perms *oldperms);

#endif
