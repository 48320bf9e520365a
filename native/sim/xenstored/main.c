/* xensim-xenstored: a xenstored for the Xen simulator, speaking the real
 * wire protocol on Unix sockets so the real libxenstore works against it.
 *
 *   xensim-xenstored --dir DIR [--pidfile FILE] [--state-file FILE] [--trace]
 *
 * dom0 clients connect to DIR/socket (XENSTORED_PATH for libxenstore);
 * domain N's clients to DIR/socket.dN once N is introduced. Prints "ready"
 * when listening; SIGTERM or SIGINT stop it and remove its sockets; SIGUSR1
 * too, after saving the store to --state-file for the next server (state.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "server.h"
#include "state.h"
#include "util.h"

static void usage(FILE *f)
{
    fputs("usage: xensim-xenstored --dir DIR [--pidfile FILE] [--state-file FILE] [--trace]\n", f);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "pidfile", required_argument, NULL, 'p' },
        { "trace", no_argument, NULL, 't' },
        { "state-file", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = NULL, *pidfile = NULL, *state_file = NULL;
    bool trace = false;
    struct xsd x;
    int c, rc = 0;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'p': pidfile = optarg; break;
        case 't': trace = true; break;
        case 's': state_file = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!dir || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (!server_init(&x, dir, trace)) {
        server_fini(&x);
        return 1;
    }
    if (state_file && state_load(&x, state_file) < 0) {
        server_fini(&x);
        return 1;
    }
    if (pidfile) {
        FILE *f = fopen(pidfile, "w");

        if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0) {
            xsd_log("cannot write %s", pidfile);
            server_fini(&x);
            return 1;
        }
    }
    printf("ready\n");
    fflush(stdout);
    server_run(&x);
    if (x.live_update && !state_file)
        xsd_log("SIGUSR1 without --state-file: stopping without saving the store");
    if (x.live_update && state_file && !state_save(&x, state_file))
        rc = 1;
    server_fini(&x);
    if (pidfile && unlink(pidfile) < 0)
        rc = 1;
    return rc;
}
