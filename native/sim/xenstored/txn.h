/* Transactions. A transaction works on a copy of the tree taken at
 * XS_TRANSACTION_START and records every node it reads or changes with the
 * generation that node had then. XS_TRANSACTION_END "T" fails with EAGAIN
 * if any of those nodes changed in the live tree since (the generation
 * differs, or it appeared or vanished); else the changed nodes are copied
 * into the live tree and the queued watch events fire. */
#ifndef XSD_TXN_H
#define XSD_TXN_H

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"
#include "store.h"

struct txn;

/* A new transaction on c (its id via txn_id), or NULL with *err. */
struct txn *txn_start(struct conn *c, int *err);
struct txn *txn_find(const struct conn *c, uint32_t id);
uint32_t txn_id(const struct txn *t);
struct node *txn_root(struct txn *t);

/* The transaction looked at the node at path (n: as it is in the copy,
 * NULL if missing); only the first look at a path is remembered. */
void txn_note(struct txn *t, const char *path, const struct node *n);
/* Same, for a node about to be changed, created (n NULL) or removed. */
void txn_note_modified(struct txn *t, const char *path, const struct node *n);
/* An event to fire on commit (a non-exact one wins over an exact one). */
void txn_queue_watch(struct txn *t, const char *path, bool exact);

/* Ends and frees t: commit (0 or EAGAIN) or abort (0). */
int txn_end(struct conn *c, struct txn *t, bool commit);
void txn_free_all(struct conn *c);

#endif
