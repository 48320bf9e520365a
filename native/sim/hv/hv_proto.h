/*
 * Wire format between the hv client library and xensim-hv (private).
 *
 * One request per SOCK_SEQPACKET message, answered by exactly one response,
 * in order. Both are fixed-size; anything else (wrong size, wrong magic,
 * unknown op, file descriptors attached to a request) is a protocol error
 * and the server drops that client. A well-formed request the server cannot
 * honour gets `err` = an errno value and no fds.
 *
 *   op                  domid    arg[0]        arg[1]        -> val[0..1]            fds
 *   DOMAIN_CREATE       domid    nr_pages      nr_grants     -> -                    -
 *   DOMAIN_DESTROY      domid    -             -             -> -                    -
 *   DOMAIN_MAP          domid    -             -             -> nr_pages, nr_grants  memory, grants, status, active
 *   EVTCHN_ALLOC        domid    remote_domid  -             -> port                 in, out
 *   EVTCHN_BIND         domid    remote_domid  remote_port   -> port                 in, out
 *   EVTCHN_CLOSE        domid    port          -             -> -                    -
 */
#ifndef XENSIM_HV_PROTO_H
#define XENSIM_HV_PROTO_H

#include <stdint.h>

#define HV_PROTO_MAGIC 0x56485358u /* "XSHV" */
#define HV_PROTO_MAX_FDS 4

enum hv_op {
	HV_OP_DOMAIN_CREATE = 1,
	HV_OP_DOMAIN_DESTROY,
	HV_OP_DOMAIN_MAP,
	HV_OP_EVTCHN_ALLOC,
	HV_OP_EVTCHN_BIND,
	HV_OP_EVTCHN_CLOSE,
};

/* Order of the fds in a DOMAIN_MAP response. */
enum { HV_FD_MEMORY, HV_FD_GRANTS, HV_FD_STATUS, HV_FD_ACTIVE, HV_NR_DOMAIN_FDS };
/* Order of the fds in an EVTCHN_* response, as seen by the receiver. */
enum { HV_FD_EVT_IN, HV_FD_EVT_OUT, HV_NR_EVTCHN_FDS };

struct hv_req {
	uint32_t magic;
	uint32_t op;
	uint32_t domid;
	uint32_t arg[3];
};

struct hv_resp {
	uint32_t magic;
	uint32_t op;   /* echoes the request */
	int32_t err;   /* 0 or an errno value */
	uint32_t nfds; /* fds attached (SCM_RIGHTS) */
	uint32_t val[3];
};

#endif
