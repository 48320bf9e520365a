/* The shim against real processes: what a started daemon inherits, readiness, failures, stopping. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shim/shim.h"
#include "testing/check.h"

static char dir[] = "/tmp/shim-test-XXXXXX";
static char log_path[256];

/* A field of /proc/<pid>/status, e.g. "SigIgn". */
static unsigned long long status_hex(int pid, const char *field)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	unsigned long long v = ~0ull;
	size_t n = strlen(field);
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			v = strtoull(line + n + 1, NULL, 16);
	}
	if (f)
		fclose(f);
	return v;
}

static int count_fds(int pid)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "ls /proc/%d/fd | wc -l", pid);
	FILE *p = popen(cmd, "r");
	int n = -1;
	if (p && fscanf(p, "%d", &n) != 1)
		n = -1;
	if (p)
		pclose(p);
	return n;
}

static void test_start_and_inheritance(void)
{
	char err[512] = "";
	/* What Node does to us: SIGPIPE ignored, signals blocked, a descriptor left open. */
	signal(SIGPIPE, SIG_IGN);
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, NULL);
	int leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC */

	int pid = xbs_start("/bin/sh", "-c\necho \"started $SHIM_TEST_VAR $HOME\" >&2; echo ready >&3; exec sleep 30 3>&-",
			    "SHIM_TEST_VAR=given\nHOME=/replaced", log_path, 5000, err, sizeof(err));
	CHECK(pid > 0);
	if (pid <= 0) {
		fprintf(stderr, "start: %s\n", err);
		return;
	}
	usleep(100000); /* let the shell exec sleep */
	CHECK(xbs_alive(pid, "sleep") == 1);
	CHECK(xbs_alive(pid, "xenblkd") == 0);
	CHECK(getsid(pid) == pid); /* its own session */
	CHECK((status_hex(pid, "SigIgn") & (1ull << (SIGPIPE - 1))) == 0);
	CHECK(status_hex(pid, "SigBlk") == 0);
	CHECK(count_fds(pid) == 3); /* stdin, stdout, stderr: nothing of ours */
	char link[64], target[256] = "";
	snprintf(link, sizeof(link), "/proc/%d/fd/1", pid);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	CHECK(n > 0 && strcmp(target, "/dev/null") == 0);
	snprintf(link, sizeof(link), "/proc/%d/fd/2", pid);
	n = readlink(link, target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = '\0';
	CHECK(strcmp(target, log_path) == 0);

	CHECK(xbs_stop(pid, 2000, err, sizeof(err)) == 0);
	CHECK(xbs_alive(pid, "sleep") == 0);
	CHECK(kill(pid, 0) != 0);
	/* Its stderr went to the log, with the environment we gave it. */
	FILE *f = fopen(log_path, "r");
	char line[256] = "";
	CHECK(f && fgets(line, sizeof(line), f) && strcmp(line, "started given /replaced\n") == 0);
	if (f)
		fclose(f);
	close(leak);
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	signal(SIGPIPE, SIG_DFL);
}

static void test_failures(void)
{
	char err[512] = "";
	CHECK(xbs_start("/bin/sh", "-c\necho boom: no such disk >&2; exit 3", "", log_path, 5000, err, sizeof(err)) == -1);
	CHECK(strstr(err, "status 3") != NULL);
	CHECK(strstr(err, "boom: no such disk") != NULL);

	err[0] = '\0';
	CHECK(xbs_start("/bin/sh", "-c\nexec sleep 30 3>&-", "", log_path, 5000, err, sizeof(err)) == -1);
	CHECK(strstr(err, "before it was ready") != NULL || strstr(err, "closed") != NULL);

	err[0] = '\0';
	CHECK(xbs_start("/bin/sh", "-c\nexec sleep 30", "", log_path, 300, err, sizeof(err)) == -1);
	CHECK(strstr(err, "not ready within 300 ms") != NULL);

	err[0] = '\0';
	CHECK(xbs_start("/nonexistent/xenblkd", "", "", log_path, 1000, err, sizeof(err)) == -1);
	CHECK(strstr(err, "/nonexistent/xenblkd") != NULL);

	err[0] = '\0';
	CHECK(xbs_start("/bin/sh", "-c\necho ready >&3", "", "/nonexistent/dir/log", 1000, err, sizeof(err)) == -1);
	CHECK(strstr(err, "/nonexistent/dir/log") != NULL);
	CHECK(xbs_stop(0, 100, err, sizeof(err)) == -1);
}

/* A daemon started by another (now gone) process: stopped all the same. */
static void test_stop_foreign(void)
{
	int pfd[2];
	CHECK(pipe(pfd) == 0);
	pid_t starter = fork();
	if (starter == 0) {
		char err[256];
		int pid = xbs_start("/bin/sh", "-c\necho ready >&3; exec sleep 30 3>&-", "", log_path, 5000, err, sizeof(err));
		ssize_t w = write(pfd[1], &pid, sizeof(pid));
		(void)w;
		_exit(0);
	}
	int pid = 0;
	ssize_t r = read(pfd[0], &pid, sizeof(pid));
	waitpid(starter, NULL, 0);
	close(pfd[0]);
	close(pfd[1]);
	CHECK(r == sizeof(pid) && pid > 0);
	usleep(100000);
	CHECK(xbs_alive(pid, "sleep") == 1);
	char err[256];
	CHECK(xbs_stop(pid, 2000, err, sizeof(err)) == 0);
	CHECK(xbs_alive(pid, "sleep") == 0);
}

/* One that ignores SIGTERM is killed after the timeout. */
static void test_stop_stubborn(void)
{
	char err[256];
	int pid = xbs_start("/bin/sh", "-c\ntrap '' TERM; echo ready >&3; exec 3>&-; while :; do sleep 1; done", "", log_path, 5000, err, sizeof(err));
	CHECK(pid > 0);
	CHECK(xbs_stop(pid, 300, err, sizeof(err)) == 1);
	CHECK(xbs_alive(pid, "sh") == 0);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(log_path, sizeof(log_path), "%s/daemon.log", dir);
	test_start_and_inheritance();
	test_failures();
	test_stop_foreign();
	test_stop_stubborn();
	unlink(log_path);
	rmdir(dir);
	return check_report("shim");
}
