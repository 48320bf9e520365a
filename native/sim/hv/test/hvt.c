/* Test harness: private servers, children that die with the test, checks. */
#include "sim/hv/test/hvt.h"

#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SERVERS 8
#define WATCHDOG_S 120
#define WAIT_MS 20000

static pid_t main_pid;
static struct hvt_server *running[MAX_SERVERS];
static unsigned nr_started;
#define MAX_HOOKS 4
static void (*fail_hooks[MAX_HOOKS])(void);

static void on_watchdog(int sig)
{
	static const char msg[] = "hv test: watchdog expired\n";
	(void)!write(2, msg, sizeof(msg) - 1);
	/* Dying is enough: our server and children get SIGTERM/SIGKILL from PR_SET_PDEATHSIG. */
	signal(sig, SIG_DFL);
	raise(sig);
}

void hvt_init(void)
{
	main_pid = getpid();
	signal(SIGALRM, on_watchdog);
	alarm(WATCHDOG_S);
}

const char *hvt_sibling(const char *name, char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0)
		hvt_fail(__FILE__, __LINE__, "readlink /proc/self/exe");
	self[n] = 0;
	snprintf(buf, len, "%s/%s", dirname(self), name);
	return buf;
}

static const char *server_bin(void)
{
	static char bin[PATH_MAX];
	return hvt_sibling("xensim-hv", bin, sizeof(bin));
}

void hvt_on_fail(void (*fn)(void))
{
	for (int i = 0; i < MAX_HOOKS; i++) {
		if (!fail_hooks[i]) {
			fail_hooks[i] = fn;
			return;
		}
	}
	hvt_fail(__FILE__, __LINE__, "too many failure hooks");
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Waits up to `ms` for pid; returns its wait status or -1 if still running. */
static int wait_ms(pid_t pid, long ms)
{
	long end = now_ms() + ms;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 || now_ms() > end)
			return -1;
		usleep(2000);
	}
}

void hvt_forget(struct hvt_server *s)
{
	for (int i = 0; i < MAX_SERVERS; i++)
		if (running[i] == s)
			running[i] = NULL;
}

/* Kills without checking: the failure path. */
static void kill_all(void)
{
	for (int i = 0; i < MAX_SERVERS; i++) {
		struct hvt_server *s = running[i];
		if (!s)
			continue;
		kill(s->pid, SIGTERM);
		if (wait_ms(s->pid, 5000) == -1) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
		}
		unlink(s->path);
		running[i] = NULL;
	}
}

_Noreturn void hvt_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "FAIL %s:%d: %s\n", file, line, what);
	if (getpid() != main_pid)
		_exit(1);
	for (int i = 0; i < MAX_HOOKS; i++) {
		void (*fn)(void) = fail_hooks[i];
		fail_hooks[i] = NULL; /* a hook that fails must not run again */
		if (fn)
			fn();
	}
	kill_all();
	exit(1);
}

int hvt_read_ready(int fd)
{
	char buf[16];
	size_t have = 0;
	long end = now_ms() + WAIT_MS;

	while (have < 6) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long left = end - now_ms();
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			return -1;
		have += (size_t)n;
	}
	return memcmp(buf, "ready\n", 6) == 0 ? 0 : -1;
}

pid_t hvt_spawn(struct hvt_server *s, const char *const *extra_args, int *status)
{
	const char *tmp = getenv("TMPDIR");
	const char *argv[16];
	const char *bin = server_bin();
	int pipefd[2], n = 0;
	pid_t parent = getpid(), pid;

	if (!s->path[0])
		snprintf(s->path, sizeof(s->path), "%s/xensim-hv-test.%d.%u.sock", tmp && *tmp ? tmp : "/tmp",
			 (int)parent, nr_started++);
	argv[n++] = bin;
	argv[n++] = "--socket";
	argv[n++] = s->path;
	for (int i = 0; extra_args && extra_args[i] && n < 15; i++)
		argv[n++] = extra_args[i];
	argv[n] = NULL;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		hvt_fail(__FILE__, __LINE__, "pipe2");
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		hvt_fail(__FILE__, __LINE__, "fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		dup2(pipefd[1], 1);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	s->pid = pid;
	for (int i = 0; i < MAX_SERVERS; i++) {
		if (!running[i]) {
			running[i] = s;
			break;
		}
	}
	if (hvt_read_ready(pipefd[0]) < 0) {
		close(pipefd[0]);
		*status = wait_ms(pid, 5000);
		if (*status == -1) {
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
		}
		hvt_forget(s);
		return -1;
	}
	close(pipefd[0]);
	return pid;
}

void hvt_start(struct hvt_server *s, const char *xenstored)
{
	const char *extra[] = { "--xenstored", xenstored, NULL };
	int status;

	memset(s, 0, sizeof(*s));
	if (hvt_spawn(s, xenstored ? extra : NULL, &status) < 0)
		hvt_fail(__FILE__, __LINE__, "xensim-hv did not become ready");
	setenv("XENSIM_HV_PATH", s->path, 1);
}

void hvt_stop(struct hvt_server *s)
{
	int status;

	kill(s->pid, SIGTERM);
	status = wait_ms(s->pid, WAIT_MS);
	hvt_forget(s);
	if (status == -1) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		unlink(s->path);
		hvt_fail(__FILE__, __LINE__, "xensim-hv did not exit on SIGTERM");
	}
	if (access(s->path, F_OK) == 0) {
		unlink(s->path);
		hvt_fail(__FILE__, __LINE__, "xensim-hv left its socket behind");
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "  xensim-hv wait status 0x%x\n", status);
		hvt_fail(__FILE__, __LINE__, "xensim-hv exited uncleanly");
	}
}

int hvt_finish(void)
{
	for (int i = 0; i < MAX_SERVERS; i++)
		if (running[i])
			hvt_stop(running[i]);
	fprintf(stderr, "  all passed\n");
	return 0;
}

pid_t hvt_fork(void)
{
	pid_t parent = getpid(), pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		hvt_fail(__FILE__, __LINE__, "fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		alarm(WATCHDOG_S);
	}
	return pid;
}

int hvt_wait(pid_t pid)
{
	int status = wait_ms(pid, WAIT_MS);

	if (status == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct hv_conn *hvt_connect(const struct hvt_server *s)
{
	struct hv_conn *hv = hv_connect(s->path);

	if (!hv)
		hvt_fail(__FILE__, __LINE__, "hv_connect");
	return hv;
}
