/* One SOCK_SEQPACKET message with file descriptors (SCM_RIGHTS), both ways. */
#ifndef XENSIM_HV_MSG_H
#define XENSIM_HV_MSG_H

#include <stddef.h>
#include <sys/types.h>

/* Sends `len` bytes and `nfds` (<= HV_PROTO_MAX_FDS) fds as one message,
 * without blocking if `nonblock`. 0, or -1 with errno. */
int hv_msg_send(int sock, const void *buf, size_t len, const int *fds, unsigned nfds, int nonblock);

/* Receives one message into `buf` and its fds (close-on-exec) into `fds`.
 * Returns the message length (0: peer gone), or -1 with errno; EMSGSIZE when
 * the message or its fds did not fit (any fds received are closed). */
ssize_t hv_msg_recv(int sock, void *buf, size_t len, int *fds, unsigned maxfds, unsigned *nfds, int nonblock);

/* Closes fds[0..n). */
void hv_msg_close_fds(int *fds, unsigned n);

#endif
