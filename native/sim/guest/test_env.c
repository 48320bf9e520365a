/* The guest tests' private servers and helpers. */
#include "sim/guest/test_env.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WATCHDOG_S 300

int te_passed, te_failed;
static char dir[64];
static pid_t xsd_pid = -1, hv_pid = -1;

static void kill_servers(void)
{
	if (hv_pid > 0) {
		kill(hv_pid, SIGKILL);
		waitpid(hv_pid, NULL, 0);
	}
	if (xsd_pid > 0) {
		kill(xsd_pid, SIGKILL);
		waitpid(xsd_pid, NULL, 0);
	}
	hv_pid = xsd_pid = -1;
}

_Noreturn void te_fatal(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: FATAL: %s\n", file, line, what);
	kill_servers();
	exit(1);
}

static void on_watchdog(int sig)
{
	static const char msg[] = "guest test: watchdog expired\n";
	(void)!write(2, msg, sizeof(msg) - 1);
	signal(sig, SIG_DFL);
	raise(sig); /* our servers die with us (PR_SET_PDEATHSIG) */
}

static void sibling(const char *name, char *out, size_t cap)
{
	char self[PATH_MAX - 64];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n < 0)
		te_fatal(__FILE__, __LINE__, "readlink /proc/self/exe");
	self[n] = '\0';
	slash = strrchr(self, '/');
	*slash = '\0';
	snprintf(out, cap, "%s/%s", self, name);
}

/* Starts `argv` and waits for it to print "ready". */
static pid_t spawn_ready(char *const argv[])
{
	char line[64];
	size_t got = 0;
	int out[2];
	pid_t pid;

	if (access(argv[0], X_OK) < 0) {
		fprintf(stderr, "missing %s (built by the other parts of the simulator)\n", argv[0]);
		te_fatal(__FILE__, __LINE__, "server binary missing");
	}
	if (pipe(out) < 0)
		te_fatal(__FILE__, __LINE__, "pipe");
	pid = fork();
	if (pid < 0)
		te_fatal(__FILE__, __LINE__, "fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(out[1], STDOUT_FILENO);
		close(out[0]);
		close(out[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	while (got < sizeof(line) - 1) {
		struct pollfd p = { out[0], POLLIN, 0 };
		ssize_t n;
		if (poll(&p, 1, 10000) <= 0)
			te_fatal(__FILE__, __LINE__, "server not ready");
		n = read(out[0], line + got, sizeof(line) - 1 - got);
		if (n <= 0)
			te_fatal(__FILE__, __LINE__, "server exited before ready");
		got += (size_t)n;
		line[got] = '\0';
		if (strchr(line, '\n'))
			break;
	}
	close(out[0]);
	if (strncmp(line, "ready", 5) != 0)
		te_fatal(__FILE__, __LINE__, "server did not say ready");
	return pid;
}

void te_start(void)
{
	char xsd[PATH_MAX], hv[PATH_MAX], hvsock[128], xssock[128];

	signal(SIGALRM, on_watchdog);
	alarm(WATCHDOG_S);
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/guest-test-XXXXXX");
	if (!mkdtemp(dir))
		te_fatal(__FILE__, __LINE__, "mkdtemp");
	sibling("xensim-xenstored", xsd, sizeof(xsd));
	sibling("xensim-hv", hv, sizeof(hv));
	snprintf(xssock, sizeof(xssock), "%s/socket", dir);
	snprintf(hvsock, sizeof(hvsock), "%s/hv", dir);
	{
		char *argv[] = { xsd, "--dir", dir, NULL };
		xsd_pid = spawn_ready(argv);
	}
	{
		char *argv[] = { hv, "--socket", hvsock, "--xenstored", xssock, NULL };
		hv_pid = spawn_ready(argv);
	}
	setenv("XENSTORED_PATH", xssock, 1);
	setenv("XENSIM_HV_PATH", hvsock, 1);
}

static int stop_one(pid_t pid)
{
	int status = 0;
	for (int i = 0; i < 500; i++) {
		if (i == 0)
			kill(pid, SIGTERM);
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

void te_stop(void)
{
	char cmd[128];

	CHECK(stop_one(hv_pid) == 0);
	CHECK(stop_one(xsd_pid) == 0);
	hv_pid = xsd_pid = -1;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

const char *te_dir(void)
{
	return dir;
}

void te_use_xs_of(uint32_t domid)
{
	char p[128];
	if (domid == 0)
		snprintf(p, sizeof(p), "%s/socket", dir);
	else
		snprintf(p, sizeof(p), "%s/socket.d%u", dir, domid);
	setenv("XENSTORED_PATH", p, 1);
}

char *te_read(struct xs_handle *h, const char *d, const char *key)
{
	char path[512];
	unsigned int len;
	snprintf(path, sizeof(path), "%s/%s", d, key);
	return xs_read(h, XBT_NULL, path, &len);
}

bool te_is(struct xs_handle *h, const char *d, const char *key, const char *want)
{
	char *v = te_read(h, d, key);
	bool ok = want ? v && strcmp(v, want) == 0 : v == NULL;
	if (!ok)
		fprintf(stderr, "  %s/%s = %s, wanted %s\n", d, key, v ? v : "(absent)", want ? want : "(absent)");
	free(v);
	return ok;
}

void te_write(struct xs_handle *h, const char *d, const char *key, const char *value)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", d, key);
	if (!xs_write(h, XBT_NULL, path, value, (unsigned)strlen(value)))
		te_fatal(__FILE__, __LINE__, "xs_write");
}

struct te_mirror {
	pthread_t thread;
	struct xs_handle *xs;
	char fe[128], be[192];
	volatile int stop;
};

static long num_at(struct xs_handle *h, const char *d)
{
	char *v = te_read(h, d, "state");
	long n = v ? strtol(v, NULL, 10) : -1;
	free(v);
	return n;
}

static void *mirror_main(void *arg)
{
	struct te_mirror *m = arg;

	while (!m->stop) {
		long fe = num_at(m->xs, m->fe), be = num_at(m->xs, m->be);
		if (fe == 5 && be != 5 && be != 6)
			te_write(m->xs, m->be, "state", "5");
		else if (fe == 6 && be != 6)
			te_write(m->xs, m->be, "state", "6");
		else if (fe == 1 && be == 6)
			te_write(m->xs, m->be, "state", "2");
		usleep(5000);
	}
	return NULL;
}

struct te_mirror *te_mirror_start(const char *fe, const char *be)
{
	struct te_mirror *m = calloc(1, sizeof(*m));

	REQUIRE(m);
	te_use_xs_of(0);
	m->xs = xs_open(XS_OPEN_SOCKETONLY);
	REQUIRE(m->xs);
	snprintf(m->fe, sizeof(m->fe), "%s", fe);
	snprintf(m->be, sizeof(m->be), "%s", be);
	REQUIRE(pthread_create(&m->thread, NULL, mirror_main, m) == 0);
	return m;
}

void te_mirror_stop(struct te_mirror *m)
{
	m->stop = 1;
	pthread_join(m->thread, NULL);
	xs_close(m->xs);
	free(m);
}
