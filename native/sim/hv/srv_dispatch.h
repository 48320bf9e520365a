/* xensim-hv: carrying out one client request. */
#ifndef XENSIM_SRV_DISPATCH_H
#define XENSIM_SRV_DISPATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/hv/hv_proto.h"

/* Returns false if `req` is not a request at all (bad magic or op): the
 * caller drops the client. Otherwise fills `resp` and the fds to pass along
 * (still the server's: the caller must not close them). */
bool srv_dispatch(const struct hv_req *req, uint64_t client, struct hv_resp *resp, int *fds, unsigned *nfds);

#endif
