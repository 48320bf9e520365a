/* Request handlers: each answers its request itself on success and returns
 * 0, or returns an errno for dispatch to send as XS_ERROR. */
#ifndef XSD_OPS_H
#define XSD_OPS_H

#include "req.h"

/* ops_node.c: the tree */
int op_read(struct req *r);
int op_write(struct req *r);
int op_mkdir(struct req *r);
int op_rm(struct req *r);
int op_directory(struct req *r);
int op_directory_part(struct req *r);
int op_get_perms(struct req *r);
int op_set_perms(struct req *r);

/* ops_session.c: watches and transactions */
int op_watch(struct req *r);
int op_unwatch(struct req *r);
int op_reset_watches(struct req *r);
int op_transaction_start(struct req *r);
int op_transaction_end(struct req *r);

/* ops_domain.c: domains and the control channel */
int op_introduce(struct req *r);
int op_release(struct req *r);
int op_resume(struct req *r);
int op_get_domain_path(struct req *r);
int op_is_domain_introduced(struct req *r);
int op_set_target(struct req *r);
int op_control(struct req *r);

#endif
