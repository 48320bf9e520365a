/* Test support (see test_harness.h). */
#include "test_harness.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xen/io/xs_wire.h>

/* The watchdog: no test here needs anywhere near this long. */
#define TEST_TIMEOUT_S 120
/* Domain sockets the emergency cleanup removes should the server have to
 * be killed outright; tests use domain ids below this. */
#define MAX_TEST_DOMID 16

static pid_t server_pid = -1;
static char dir[64];
static char pidfile[96];
static char sockets[MAX_TEST_DOMID + 1][96];   /* [0] dom0, [n] domain n */
static char rbuf[XENSTORE_PAYLOAD_MAX + 1];

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* Async-signal-safe: used from signal handlers as well as on failure.
 * SIGTERM lets the server remove its own sockets; SIGKILL is the fallback
 * when it does not stop within 5 s. */
static int kill_server(void)
{
    int status = 0, i;

    if (server_pid <= 0)
        return 0;
    kill(server_pid, SIGTERM);
    for (i = 0; i < 500; i++) {
        if (waitpid(server_pid, &status, WNOHANG) == server_pid)
            break;
        sleep_ms(10);
    }
    if (i == 500) {
        kill(server_pid, SIGKILL);
        waitpid(server_pid, &status, 0);
        for (i = 0; i <= MAX_TEST_DOMID; i++)
            unlink(sockets[i]);
        unlink(pidfile);
        status = -1;
    }
    server_pid = -1;
    return status;
}

static void cleanup(void)
{
    kill_server();
    if (dir[0])
        rmdir(dir);
}

static void on_fatal_signal(int sig)
{
    static const char msg[] = "test: fatal signal, stopping the server\n";

    if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
        /* nothing more to do */
    }
    cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

void th_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    cleanup();
    exit(1);
}

static void install_guards(void)
{
    static bool done;
    static const int sigs[] = { SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL,
                                SIGALRM, SIGTERM, SIGINT, SIGHUP };
    size_t i;

    if (done)
        return;
    done = true;
    atexit(cleanup);
    for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        signal(sigs[i], on_fatal_signal);
    /* Our own writes to a closed server must fail, not kill the test. */
    signal(SIGPIPE, SIG_IGN);
    alarm(TEST_TIMEOUT_S);
}

/* The server built beside this test: build/ for build/, build/san/ for
 * build/san/, so sanitized tests drive the sanitized server. */
static void server_binary(char *out, size_t cap)
{
    const char *env = getenv("XENSIM_XENSTORED");
    char self[PATH_MAX];
    ssize_t n;
    char *slash;

    if (env) {
        snprintf(out, cap, "%s", env);
        return;
    }
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n < 0)
        th_fail(__FILE__, __LINE__, "readlink /proc/self/exe: %s", strerror(errno));
    self[n] = '\0';
    slash = strrchr(self, '/');
    *slash = '\0';
    snprintf(out, cap, "%s/xensim-xenstored", self);
}

/* Runs the server on `dir` (with its state file, for th_live_update) and waits for "ready". */
static void spawn_server(void)
{
    char bin[PATH_MAX + 32], line[64], state[sizeof(dir) + 16];
    char *argv[8];
    int out[2];
    size_t got = 0;

    server_binary(bin, sizeof(bin));
    snprintf(state, sizeof(state), "%s/state", dir);
    argv[0] = bin;
    argv[1] = "--dir";
    argv[2] = dir;
    argv[3] = "--pidfile";
    argv[4] = pidfile;
    argv[5] = "--state-file";
    argv[6] = state;
    argv[7] = NULL;
    if (pipe(out) < 0)
        th_fail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
    server_pid = fork();
    if (server_pid < 0)
        th_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
    if (server_pid == 0) {
        /* Should the test die by SIGKILL, the server still goes. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execv(bin, argv);
        _exit(127);
    }
    close(out[1]);
    /* Wait for "ready\n" (10 s at most). */
    while (got < sizeof(line) - 1) {
        struct pollfd p = { out[0], POLLIN, 0 };
        ssize_t n;

        if (poll(&p, 1, 10000) <= 0)
            th_fail(__FILE__, __LINE__, "server not ready");
        n = read(out[0], line + got, sizeof(line) - 1 - got);
        if (n <= 0)
            th_fail(__FILE__, __LINE__, "server exited before ready (%s)", bin);
        got += (size_t)n;
        line[got] = '\0';
        if (strchr(line, '\n'))
            break;
    }
    close(out[0]);
    if (strcmp(line, "ready\n") != 0)
        th_fail(__FILE__, __LINE__, "server said \"%s\"", line);
}

void th_start(void)
{
    int i;

    install_guards();
    snprintf(dir, sizeof(dir), "/tmp/xsd-test-XXXXXX");
    if (!mkdtemp(dir))
        th_fail(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
    snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
    snprintf(sockets[0], sizeof(sockets[0]), "%s/socket", dir);
    for (i = 1; i <= MAX_TEST_DOMID; i++)
        snprintf(sockets[i], sizeof(sockets[i]), "%s/socket.d%d", dir, i);
    spawn_server();
}

void th_live_update(void)
{
    int status = 0, i;

    kill(server_pid, SIGUSR1);
    for (i = 0; i < 500 && waitpid(server_pid, &status, WNOHANG) != server_pid; i++)
        sleep_ms(10);
    if (i == 500)
        th_fail(__FILE__, __LINE__, "server did not stop on SIGUSR1");
    server_pid = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        th_fail(__FILE__, __LINE__, "live update: server exited with status %#x", (unsigned)status);
    spawn_server();
}

void th_stop(void)
{
    struct stat st;
    int status = kill_server();

    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        th_fail(__FILE__, __LINE__, "server did not exit cleanly (status %#x)",
                (unsigned)status);
    if (stat(sockets[0], &st) == 0 || stat(pidfile, &st) == 0)
        th_fail(__FILE__, __LINE__, "server left files behind in %s", dir);
    if (rmdir(dir) < 0)
        th_fail(__FILE__, __LINE__, "rmdir %s: %s", dir, strerror(errno));
    dir[0] = '\0';
}

const char *th_dir(void)
{
    return dir;
}

const char *th_socket(unsigned domid)
{
    static char other[96];

    if (domid <= MAX_TEST_DOMID)
        return sockets[domid];
    snprintf(other, sizeof(other), "%s/socket.d%u", dir, domid);
    return other;
}

struct xs_handle *th_open_flags(unsigned domid, unsigned long flags)
{
    struct xs_handle *h;

    setenv("XENSTORED_PATH", th_socket(domid), 1);
    h = xs_open(flags);
    if (!h)
        th_fail(__FILE__, __LINE__, "xs_open(%s): %s", th_socket(domid),
                strerror(errno));
    return h;
}

struct xs_handle *th_open(void)
{
    return th_open_flags(0, 0);
}

struct xs_handle *th_open_domain(unsigned domid)
{
    return th_open_flags(domid, 0);
}

const char *th_read(struct xs_handle *h, xs_transaction_t t, const char *path)
{
    unsigned len;
    char *v = xs_read(h, t, path, &len);

    if (!v)
        return NULL;
    snprintf(rbuf, sizeof(rbuf), "%s", v);
    free(v);
    return rbuf;
}

bool th_write(struct xs_handle *h, xs_transaction_t t, const char *path,
              const char *value)
{
    return xs_write(h, t, path, value, (unsigned)strlen(value));
}

char **th_next_event(struct xs_handle *h, int timeout_ms)
{
    struct pollfd p = { xs_fileno(h), POLLIN, 0 };
    char **ev;

    for (;;) {
        ev = xs_check_watch(h);
        if (ev)
            return ev;
        if (poll(&p, 1, timeout_ms) <= 0)
            return NULL;
    }
}

void th_check_event(const char *file, int line, struct xs_handle *h,
                    const char *path, const char *token)
{
    char **ev = th_next_event(h, 5000);

    if (!ev)
        th_fail(file, line, "no event, want %s/%s", path, token);
    if (strcmp(ev[XS_WATCH_PATH], path) != 0 || strcmp(ev[XS_WATCH_TOKEN], token) != 0)
        th_fail(file, line, "event %s/%s, want %s/%s", ev[XS_WATCH_PATH],
                ev[XS_WATCH_TOKEN], path, token);
    free(ev);
}

void th_check_no_event(const char *file, int line, struct xs_handle *h, int ms)
{
    char **ev = th_next_event(h, ms);

    if (ev)
        th_fail(file, line, "unexpected event %s/%s", ev[XS_WATCH_PATH],
                ev[XS_WATCH_TOKEN]);
}

int th_raw_connect(unsigned domid)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", th_socket(domid));
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
        th_fail(__FILE__, __LINE__, "connect %s: %s", addr.sun_path, strerror(errno));
    return fd;
}

static bool write_all(int fd, const void *p, size_t len)
{
    const char *c = p;

    while (len) {
        ssize_t n = write(fd, c, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        c += n;
        len -= (size_t)n;
    }
    return true;
}

bool th_raw_send(int fd, uint32_t type, uint32_t req_id, uint32_t tx_id,
                 const void *payload, uint32_t len)
{
    struct xsd_sockmsg hdr = { type, req_id, tx_id, len };

    return write_all(fd, &hdr, sizeof(hdr)) && write_all(fd, payload, len);
}

static bool read_all(int fd, void *p, size_t len, int timeout_ms)
{
    char *c = p;

    while (len) {
        struct pollfd pf = { fd, POLLIN, 0 };
        ssize_t n;

        if (poll(&pf, 1, timeout_ms) <= 0)
            return false;
        n = read(fd, c, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        c += n;
        len -= (size_t)n;
    }
    return true;
}

bool th_raw_recv(int fd, void *hdrp, char *buf, size_t cap, int timeout_ms)
{
    struct xsd_sockmsg *hdr = hdrp;

    if (!read_all(fd, hdr, sizeof(*hdr), timeout_ms))
        return false;
    if (hdr->len > XENSTORE_PAYLOAD_MAX || hdr->len >= cap)
        return false;
    if (!read_all(fd, buf, hdr->len, timeout_ms))
        return false;
    buf[hdr->len] = '\0';
    return true;
}
