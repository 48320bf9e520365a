/*
 * JSON-RPC 2.0 over a Unix stream socket, as SPDK serves its RPC: requests are
 * JSON objects one after another on the stream, each answered with one JSON
 * object and a newline. Generic: the daemon supplies the method handler.
 */
#ifndef CONTROL_RPC_H
#define CONTROL_RPC_H

#include <jansson.h>
#include <stdbool.h>

/* JSON-RPC error codes used by handlers. */
#define RPC_INVALID_PARAMS (-32602)
#define RPC_METHOD_NOT_FOUND (-32601)
#define RPC_INTERNAL_ERROR (-32603)
#define RPC_SERVER_ERROR (-32000)

/*
 * Handles one call: returns the result (a new reference), or NULL with
 * *code and msg set for an error.
 */
typedef json_t *(*rpc_handler)(void *ctx, const char *method, json_t *params, int *code, char *msg, size_t msglen);

/*
 * What became of one request: its reply, or NULL for a notification (a
 * request without id gets no answer). req is NULL for a Parse error.
 */
typedef void (*rpc_emit)(void *ctx, json_t *req, json_t *reply);

/*
 * The server's framing and dispatch without the socket: answers every
 * complete request at the start of buf[0, len) in order, and returns how
 * many bytes it consumed (the rest is an incomplete request or white
 * space). *drop when the client must go: malformed JSON (after a Parse
 * error reply), or an incomplete request past 1 MiB.
 */
size_t rpc_process(const char *buf, size_t len, rpc_handler handler, void *hctx, rpc_emit emit, void *ectx, bool *drop);

struct rpc_server;

/* Listens on `path` (replacing a stale socket file); NULL + errno on failure. */
struct rpc_server *rpc_server_open(const char *path, rpc_handler handler, void *ctx);
int rpc_server_listen_fd(const struct rpc_server *s);
/* Accepts a client; returns its fd to watch, or -1. */
int rpc_server_accept(struct rpc_server *s);
/* The client fd is readable: reads, answers complete requests. Returns false when the client is gone. */
bool rpc_server_serve(struct rpc_server *s, int fd);
void rpc_server_close_client(struct rpc_server *s, int fd);
void rpc_server_close(struct rpc_server *s);

#endif
