/* The state of one simulated xenstored: the tree, the connections, the
 * introduced domains and the event loop's descriptors. */
#ifndef XSD_XSD_H
#define XSD_XSD_H

#include <stdbool.h>

#include "store.h"

struct conn;
struct domain;
struct listener;

/* Every epoll registration points at one of these, first member of the
 * registered object, so the loop knows what became ready. */
enum ep_kind { EP_SIGNAL, EP_LISTENER, EP_CONN };
struct ep_tag {
    enum ep_kind kind;
};

struct xsd {
    struct node *root;
    struct conn *conns;          /* dead ones stay listed until reaped */
    struct domain *domains;      /* introduced domains */
    struct listener *listeners;  /* closed ones stay listed until reaped */
    /* Who may watch @introduceDomain and @releaseDomain (SET_PERMS). */
    struct perms introduce_perms, release_perms;
    struct ep_tag sig_tag;
    int sigfd;
    int epfd;
    char *dir;
    bool trace;                  /* log every request on stderr */
    bool stop;
    bool live_update;            /* stopped by SIGUSR1: save the state (state.h) */
};

#endif
