/* A client's connection to xensim-hv and its one RPC primitive (private). */
#ifndef XENSIM_HV_CONN_H
#define XENSIM_HV_CONN_H

#include <pthread.h>

#include "sim/hv/hv_proto.h"

struct hv_conn {
	int sock;
	pthread_mutex_t lock; /* one request in flight: responses come back in order */
};

/* Sends `op` and waits for its response. On success returns 0, fills `resp`
 * and stores exactly `nfds` received fds in `fds`. Returns -1 with errno set
 * to the server's errno, or EPROTO if the response is malformed. */
int hv_call(struct hv_conn *hv, uint32_t op, uint32_t domid, uint32_t a0, uint32_t a1,
	    struct hv_resp *resp, int *fds, unsigned nfds);

#endif
