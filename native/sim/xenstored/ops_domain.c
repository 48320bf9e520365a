/* Handlers for domains and the control channel: INTRODUCE, RELEASE,
 * RESUME, GET_DOMAIN_PATH, IS_DOMAIN_INTRODUCED, SET_TARGET, CONTROL. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xen/xen.h>

#include "domain.h"
#include "ops.h"
#include "path.h"
#include "util.h"

/* Domain ids are parsed with atoi, as xenstored does. */
static bool real_domid(int domid)
{
    return domid > 0 && domid < (int)DOMID_FIRST_RESERVED;
}

/* "<domid>\0<gfn>\0<evtchn>\0": the simulator has no ring page, so the gfn
 * is ignored; the event channel must still be positive as in xenstored. */
int op_introduce(struct req *r)
{
    const char *vec[3];
    int domid, err;

    if (req_strings(r, vec, 3) < 3)
        return EINVAL;
    domid = atoi(vec[0]);
    if (atoi(vec[2]) <= 0 || !real_domid(domid))
        return EINVAL;
    err = domain_introduce(r->xsd, (unsigned)domid);
    if (!err)
        conn_ack(r->conn, r->hdr);
    return err;
}

/* The introduced domain named by a one-string request. */
static int onearg_domain(const struct req *r, unsigned *domid)
{
    const char *arg = req_onearg(r);
    int d;

    if (!arg)
        return EINVAL;
    d = atoi(arg);
    if (!real_domid(d))
        return EINVAL;
    if (!domain_find(r->xsd, (unsigned)d))
        return ENOENT;
    *domid = (unsigned)d;
    return 0;
}

int op_release(struct req *r)
{
    unsigned domid;
    int err = onearg_domain(r, &domid);

    if (!err)
        err = domain_release(r->xsd, domid);
    if (!err)
        conn_ack(r->conn, r->hdr);
    return err;
}

int op_resume(struct req *r)
{
    unsigned domid;
    int err = onearg_domain(r, &domid);

    /* Nothing to do: no domain here ever shuts down by itself. */
    if (!err)
        conn_ack(r->conn, r->hdr);
    return err;
}

int op_get_domain_path(struct req *r)
{
    const char *arg = req_onearg(r);
    char *path;

    if (!arg)
        return EINVAL;
    path = path_home((unsigned)atoi(arg));
    conn_reply(r->conn, r->hdr, XS_GET_DOMAIN_PATH, path, strlen(path) + 1);
    free(path);
    return 0;
}

int op_is_domain_introduced(struct req *r)
{
    const char *arg = req_onearg(r);
    unsigned domid;
    bool yes;

    if (!arg)
        return EINVAL;
    domid = (unsigned)atoi(arg);
    /* dom0 is always there, and DOMID_SELF is whoever asks. */
    yes = domid == 0 || domid == DOMID_SELF || domain_find(r->xsd, domid);
    conn_reply(r->conn, r->hdr, XS_IS_DOMAIN_INTRODUCED, yes ? "T" : "F", 2);
    return 0;
}

int op_set_target(struct req *r)
{
    const char *vec[2];
    int err;

    if (req_strings(r, vec, 2) < 2)
        return EINVAL;
    err = domain_set_target(r->xsd, (unsigned)atoi(vec[0]),
                            (unsigned)atoi(vec[1]));
    if (!err)
        conn_ack(r->conn, r->hdr);
    return err;
}

/* "<command>\0[<parameters>\0]": a few of xenstored's commands; the rest
 * (logging, quotas, live update) mean nothing here and get EINVAL. */
int op_control(struct req *r)
{
    static const char help[] = "check\t\nprint\t<string>\nhelp\t\n";
    const char *vec[2];
    unsigned n = req_strings(r, vec, 2);

    if (n < 1)
        return EINVAL;
    if (strcmp(vec[0], "check") == 0 && n == 1) {
        conn_ack(r->conn, r->hdr);
        return 0;
    }
    if (strcmp(vec[0], "print") == 0 && n == 2) {
        xsd_log("control: %s", vec[1]);
        conn_ack(r->conn, r->hdr);
        return 0;
    }
    if (strcmp(vec[0], "help") == 0 && n == 1) {
        conn_reply(r->conn, r->hdr, XS_CONTROL, help, sizeof(help));
        return 0;
    }
    return EINVAL;
}
