/* The xenstore-* command line tools (which use libxenstore) against the
 * server: write, read, list, ls, exists, chmod, rm -t, watch, and a domain's
 * view through its socket. Skipped when xenstore-utils is not installed. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_harness.h"

/* Runs cmd through the shell; its stdout must be want (if not NULL) and
 * its exit status rc. */
static void run(const char *file, int line, const char *cmd, const char *want, int rc)
{
    char out[16384];
    size_t len = 0;
    FILE *p = popen(cmd, "r");
    int status;

    if (!p)
        th_fail(file, line, "popen %s: %s", cmd, strerror(errno));
    while (len < sizeof(out) - 1) {
        size_t n = fread(out + len, 1, sizeof(out) - 1 - len, p);

        if (!n)
            break;
        len += n;
    }
    out[len] = '\0';
    status = pclose(p);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != rc)
        th_fail(file, line, "%s: status %#x, want exit %d", cmd, (unsigned)status, rc);
    if (want && strcmp(out, want) != 0)
        th_fail(file, line, "%s printed \"%s\", want \"%s\"", cmd, out, want);
}
#define RUN(cmd, want, rc) run(__FILE__, __LINE__, cmd, want, rc)

static void test_dom0_tools(void)
{
    char line[256];
    struct xs_handle *h;
    FILE *w;

    RUN("xenstore-write /tools/a 1 /tools/b 'two words'", "", 0);
    RUN("xenstore-read /tools/a /tools/b", "1\ntwo words\n", 0);
    RUN("xenstore-read -p /tools/a", "/tools/a: 1\n", 0);
    RUN("xenstore-list /tools", "a\nb\n", 0);
    RUN("xenstore-ls /tools", "a = \"1\"\nb = \"two words\"\n", 0);
    RUN("xenstore-exists /tools/a", "", 0);
    RUN("xenstore-exists /tools/zz 2>/dev/null", "", 1);
    RUN("xenstore-read /tools/zz 2>/dev/null", "", 1);
    RUN("xenstore-chmod /tools/a n0 r5", "", 0);
    RUN("xenstore-ls -p /tools | grep -c '(n0,r5)'", "1\n", 0);
    RUN("xenstore-chmod -r /tools b0", "", 0);
    RUN("xenstore-ls -p /tools | grep -c '(b0)'", "2\n", 0);
    RUN("xenstore-rm /tools/a && xenstore-list /tools", "b\n", 0);
    /* rm -t also removes the parents left empty. */
    RUN("xenstore-write /tools/deep/x/y 1 && xenstore-rm -t /tools/deep/x/y "
        "&& xenstore-exists /tools/deep 2>/dev/null", "", 1);
    RUN("for i in $(seq 1 500); do echo /tools/big/node-number-$i v; done "
        "| xargs xenstore-write && xenstore-list /tools/big | wc -l", "500\n", 0);
    RUN("xenstore-write rel 1 && xenstore-read /local/domain/0/rel", "1\n", 0);

    /* xenstore-watch prints the initial event, then each change. */
    w = popen("xenstore-watch -n 2 /tools/w", "r");
    CHECK(w != NULL);
    CHECK(fgets(line, sizeof(line), w) != NULL);
    CHECK_STR(line, "/tools/w\n");
    h = th_open();
    CHECK(th_write(h, XBT_NULL, "/tools/w/x", "1"));
    xs_close(h);
    CHECK(fgets(line, sizeof(line), w) != NULL);
    CHECK_STR(line, "/tools/w/x\n");
    CHECK(pclose(w) == 0);
}

static void test_domain_tools(void)
{
    struct xs_handle *h = th_open();
    char cmd[256];

    CHECK(xs_introduce_domain(h, 5, 0, 1));
    xs_close(h);
    snprintf(cmd, sizeof(cmd), "XENSTORED_PATH=%s xenstore-read /tool 2>/dev/null",
             th_socket(5));
    RUN(cmd, "", 1);
    snprintf(cmd, sizeof(cmd), "XENSTORED_PATH=%s xenstore-write name guest "
             "&& XENSTORED_PATH=%s xenstore-read name", th_socket(5), th_socket(5));
    RUN(cmd, "guest\n", 0);
    RUN("xenstore-ls -p /local/domain/5 | grep -c 'name = \"guest\".*(n5)$'", "1\n", 0);
}

int main(void)
{
    if (access("/usr/bin/xenstore-write", X_OK) != 0) {
        puts("test_tools: skipped (no xenstore-utils)");
        return 0;
    }
    th_start();
    setenv("XENSTORED_PATH", th_socket(0), 1);
    test_dom0_tools();
    test_domain_tools();
    th_stop();
    puts("test_tools: ok");
    return 0;
}
