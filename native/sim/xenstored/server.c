/* The event loop (see server.h). Single-threaded, level-triggered epoll. */
#include "server.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "dispatch.h"
#include "domain.h"
#include "txn.h"
#include "util.h"
#include "watch.h"

static void add_initial_nodes(struct xsd *x)
{
    struct xs_permissions dom0_only = { 0, XS_PERM_NONE };
    struct perms p = { 1, &dom0_only };
    struct node *tool, *xsd_node;

    /* What xenstored creates at start: /, /tool, /tool/xenstored. */
    x->root = node_new("", 0, &p);
    tool = node_new("tool", 4, &p);
    node_attach(x->root, tool);
    xsd_node = node_new("xenstored", 9, &p);
    node_attach(tool, xsd_node);
}

static int ep_add(struct xsd *x, int fd, uint32_t events, void *ptr)
{
    struct epoll_event ev = { .events = events, .data.ptr = ptr };

    return epoll_ctl(x->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* Is something listening at path? A stale file is not. */
static bool socket_alive(const struct sockaddr_un *addr)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    bool alive;

    if (fd < 0)
        return false;
    alive = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0 ||
            errno == EAGAIN;
    close(fd);
    return alive;
}

struct listener *listener_open(struct xsd *x, const char *path, unsigned domid,
                               int *err)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    struct listener *l;
    int fd;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        xsd_log("socket path too long: %s", path);
        *err = EINVAL;
        return NULL;
    }
    strcpy(addr.sun_path, path);
    if (socket_alive(&addr)) {
        xsd_log("%s is in use by another server", path);
        *err = EEXIST;
        return NULL;
    }
    unlink(path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        listen(fd, 128) < 0) {
        xsd_log("cannot listen on %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        *err = EIO;
        return NULL;
    }
    l = xcalloc(1, sizeof(*l));
    l->tag.kind = EP_LISTENER;
    l->xsd = x;
    l->fd = fd;
    l->path = xstrdup(path);
    l->domid = domid;
    if (ep_add(x, fd, EPOLLIN, l) < 0) {
        xsd_log("epoll: %s", strerror(errno));
        close(fd);
        unlink(path);
        free(l->path);
        free(l);
        *err = EIO;
        return NULL;
    }
    l->next = x->listeners;
    x->listeners = l;
    return l;
}

void listener_close(struct listener *l)
{
    if (l->dead)
        return;
    /* Unlink first: a client connecting meanwhile finds no socket rather
     * than a refusing one. */
    unlink(l->path);
    close(l->fd);
    l->dead = true;
}

void conn_drop(struct conn *c)
{
    if (c->dead)
        return;
    close(c->fd);
    c->dead = true;
    /* Watches and transactions go now: nothing may fire to a dead client. */
    watch_free_all(c);
    txn_free_all(c);
}

bool server_init(struct xsd *x, const char *dir, bool trace)
{
    sigset_t sigs;
    char *path;
    bool ok;
    int err;

    memset(x, 0, sizeof(*x));
    x->sigfd = x->epfd = -1;
    x->trace = trace;
    x->dir = xstrdup(dir);
    add_initial_nodes(x);
    domain_init(x);

    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        xsd_log("cannot create %s: %s", dir, strerror(errno));
        return false;
    }
    x->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (x->epfd < 0) {
        xsd_log("epoll: %s", strerror(errno));
        return false;
    }
    /* Signals arrive as readable data, between requests, never inside one. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGUSR1);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    x->sigfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    x->sig_tag.kind = EP_SIGNAL;
    if (x->sigfd < 0 || ep_add(x, x->sigfd, EPOLLIN, &x->sig_tag) < 0) {
        xsd_log("signalfd: %s", strerror(errno));
        return false;
    }
    /* dom0's socket; domains get theirs when introduced. */
    path = xasprintf("%s/socket", dir);
    ok = listener_open(x, path, 0, &err) != NULL;
    free(path);
    return ok;
}

static void accept_clients(struct listener *l)
{
    for (;;) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct conn *c;

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                xsd_log("accept: %s", strerror(errno));
            return;
        }
        c = conn_new(l->xsd, fd, l->domid);
        c->epmask = EPOLLIN;
        if (ep_add(l->xsd, fd, EPOLLIN, c) < 0) {
            xsd_log("epoll: %s", strerror(errno));
            conn_drop(c);
        }
    }
}

/* Reads what fits; at EOF the requests already read are still answered
 * (the client may have only shut down its sending side). */
static void read_client(struct conn *c, bool *eof)
{
    while (c->in_used < CONN_IN_CAP) {
        ssize_t n = read(c->fd, c->in + c->in_used, CONN_IN_CAP - c->in_used);

        if (n > 0) {
            c->in_used += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        *eof = true;
        return;
    }
}

static bool conn_busy(const struct conn *c)
{
    return c->out_bytes > CONN_OUT_HIGH;
}

/* Answers the complete requests in c's buffer while its output is not
 * backed up. An oversized header means a client out of sync: drop it. */
static void serve_requests(struct conn *c)
{
    char payload[XENSTORE_PAYLOAD_MAX + 1];
    struct xsd_sockmsg hdr;
    int r;

    while (!c->dead && !c->overflow && !conn_busy(c)) {
        r = conn_request_ready(c);
        if (r > 0)
            return;
        memcpy(&hdr, c->in, sizeof(hdr));
        if (r < 0) {
            xsd_log("domain %u client sent a %u-byte payload: dropped",
                    c->domid, hdr.len);
            conn_drop(c);
            return;
        }
        memcpy(payload, c->in + sizeof(hdr), hdr.len);
        payload[hdr.len] = '\0';
        conn_consume_request(c);
        dispatch(c, &hdr, payload);
    }
}

static bool has_work(const struct xsd *x)
{
    const struct conn *c;

    for (c = x->conns; c; c = c->next)
        if (!c->dead && !c->overflow && !conn_busy(c) &&
            conn_request_ready(c) <= 0)
            return true;
    return false;
}

static void update_mask(struct conn *c)
{
    uint32_t want = (conn_busy(c) ? 0 : EPOLLIN) | (c->out_head ? EPOLLOUT : 0);
    struct epoll_event ev = { .events = want, .data.ptr = c };

    if (want == c->epmask)
        return;
    if (epoll_ctl(c->xsd->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
        xsd_log("epoll: %s", strerror(errno));
        conn_drop(c);
        return;
    }
    c->epmask = want;
}

static void reap(struct xsd *x)
{
    struct conn **pc = &x->conns;
    struct listener **pl = &x->listeners;

    while (*pc) {
        struct conn *c = *pc;

        if (c->dead) {
            *pc = c->next;
            conn_free(c);
        } else {
            pc = &c->next;
        }
    }
    while (*pl) {
        struct listener *l = *pl;

        if (l->dead) {
            *pl = l->next;
            free(l->path);
            free(l);
        } else {
            pl = &l->next;
        }
    }
}

static void handle_signal(struct xsd *x)
{
    struct signalfd_siginfo si;

    while (read(x->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        x->stop = true;
        if (si.ssi_signo == SIGUSR1)
            x->live_update = true;
    }
}

void server_run(struct xsd *x)
{
    struct epoll_event evs[64];
    struct conn *c;
    int n, i;

    while (!x->stop) {
        n = epoll_wait(x->epfd, evs, 64, has_work(x) ? 0 : -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            xsd_log("epoll_wait: %s", strerror(errno));
            return;
        }
        for (i = 0; i < n; i++) {
            struct ep_tag *tag = evs[i].data.ptr;

            if (tag->kind == EP_SIGNAL) {
                handle_signal(x);
            } else if (tag->kind == EP_LISTENER) {
                struct listener *l = (struct listener *)tag;

                if (!l->dead)
                    accept_clients(l);
            } else {
                bool eof = false;

                c = (struct conn *)tag;
                if (c->dead)
                    continue;
                if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    read_client(c, &eof);
                serve_requests(c);
                if (eof) {
                    conn_flush(c);
                    conn_drop(c);
                }
            }
        }
        for (c = x->conns; c; c = c->next)
            serve_requests(c);
        for (c = x->conns; c; c = c->next) {
            if (c->dead)
                continue;
            if (c->overflow) {
                xsd_log("domain %u client does not read its events: dropped",
                        c->domid);
                conn_drop(c);
            } else if (!conn_flush(c)) {
                conn_drop(c);
            } else {
                update_mask(c);
            }
        }
        reap(x);
    }
}

void server_fini(struct xsd *x)
{
    struct conn *c;
    struct listener *l;

    for (c = x->conns; c; c = c->next)
        conn_drop(c);
    for (l = x->listeners; l; l = l->next)
        listener_close(l);
    reap(x);
    domain_fini(x);
    node_free(x->root);
    if (x->epfd >= 0)
        close(x->epfd);
    if (x->sigfd >= 0)
        close(x->sigfd);
    free(x->dir);
}
