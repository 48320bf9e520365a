/* Starting and stopping daemons for the datapath plugin (see shim.h). */
#include "shim/shim.h"
#include "shim/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 128
#define MAX_ENV 1024
#define READY_FD 3

extern char **environ;

/* The last `max` bytes of the log, from its last few lines: the daemon's last words. */
static void log_tail(const char *log_path, char *out, size_t max)
{
	out[0] = '\0';
	int fd = open(log_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	off_t size = lseek(fd, 0, SEEK_END);
	off_t from = size > (off_t)max - 1 ? size - (off_t)max + 1 : 0;
	ssize_t n = pread(fd, out, max - 1, from);
	close(fd);
	out[n > 0 ? n : 0] = '\0';
	size_t len = strlen(out);
	while (len && (out[len - 1] == '\n' || out[len - 1] == ' '))
		out[--len] = '\0';
	for (char *c = out; *c; c++) {
		if (*c == '\n')
			*c = ' '; /* one line for the error message */
	}
}

/* Process state letter from /proc/<pid>/stat, or 0 if there is no such process. */
static char proc_state(int pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *paren = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
	return paren && paren[1] == ' ' ? paren[2] : 0;
}

/* Gone: reaped (if ours), or no process, or a zombie someone else will reap. */
static int gone(int pid)
{
	int status;
	pid_t r = waitpid(pid, &status, WNOHANG);
	if (r == pid)
		return 1;
	char st = proc_state(pid);
	return st == 0 || st == 'Z' || st == 'X';
}

int xbs_alive(int pid, const char *exe_name)
{
	if (pid <= 0 || gone(pid))
		return 0;
	char path[64], exe[4096];
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	ssize_t n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0)
		return 0;
	exe[n] = '\0';
	const char *base = strrchr(exe, '/');
	base = base ? base + 1 : exe;
	/* A binary replaced on disk while running reads as "<path> (deleted)". */
	size_t len = strlen(exe_name);
	return strncmp(base, exe_name, len) == 0 && (base[len] == '\0' || strcmp(base + len, " (deleted)") == 0);
}

/* Our environment with the NAME=value lines of `extra` added or replaced; `copy` holds their storage. */
static int build_env(char **envp, char *copy)
{
	int n = 0;
	char *added[MAX_ENV];
	int nadded = 0;
	for (char *save = NULL, *e = strtok_r(copy, "\n", &save); e && nadded < MAX_ENV; e = strtok_r(NULL, "\n", &save)) {
		if (strchr(e, '=') && e[0] != '=')
			added[nadded++] = e;
	}
	for (char **e = environ; *e && n < MAX_ENV - nadded; e++) {
		bool replaced = false;
		for (int i = 0; i < nadded && !replaced; i++) {
			size_t len = (size_t)(strchr(added[i], '=') - added[i]) + 1;
			replaced = strncmp(*e, added[i], len) == 0;
		}
		if (!replaced)
			envp[n++] = *e;
	}
	for (int i = 0; i < nadded; i++)
		envp[n++] = added[i];
	envp[n] = NULL;
	return n;
}

int xbs_start(const char *path, const char *args, const char *env, const char *log_path, int timeout_ms, char *err,
	      int err_len)
{
	char *argv[MAX_ARGS + 4];
	int argc = 0;
	char *copy = strdup(args ? args : "");
	char *env_copy = strdup(env ? env : "");
	char *envp[MAX_ENV + 1];
	if (!copy || !env_copy) {
		shim_say(err, err_len, "out of memory");
		free(copy);
		free(env_copy);
		return -1;
	}
	build_env(envp, env_copy);
	argv[argc++] = (char *)path;
	for (char *save = NULL, *a = strtok_r(copy, "\n", &save); a; a = strtok_r(NULL, "\n", &save)) {
		if (argc >= MAX_ARGS) {
			shim_say(err, err_len, "more than %d arguments", MAX_ARGS);
			free(copy);
			free(env_copy);
			return -1;
		}
		argv[argc++] = a;
	}
	argv[argc++] = "--ready-fd";
	argv[argc++] = "3";
	argv[argc] = NULL;

	int pipefd[2] = { -1, -1 };
	int logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	int nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (logfd < 0 || nullfd < 0 || pipe2(pipefd, O_CLOEXEC) != 0) {
		shim_say(err, err_len, "cannot prepare %s: %s", logfd < 0 ? log_path : "descriptors", strerror(errno));
		goto fail_fds;
	}

	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/* dup2 clears close-on-exec on the target, so only these four reach the daemon. */
	posix_spawn_file_actions_adddup2(&fa, nullfd, 0);
	posix_spawn_file_actions_adddup2(&fa, nullfd, 1);
	posix_spawn_file_actions_adddup2(&fa, logfd, 2);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], READY_FD);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	/* Descriptors the caller (Node) opened without close-on-exec. */
	posix_spawn_file_actions_addclosefrom_np(&fa, READY_FD + 1);
#endif
	sigset_t none, defaults;
	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE); /* Node ignores these; the daemon must not inherit that */
	sigaddset(&defaults, SIGXFSZ);
	sigaddset(&defaults, SIGTERM);
	sigaddset(&defaults, SIGINT);
	sigaddset(&defaults, SIGHUP);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);

	pid_t pid;
	int rc = posix_spawn(&pid, path, &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pipefd[1]);
	pipefd[1] = -1;
	if (rc != 0) {
		shim_say(err, err_len, "cannot start %s: %s", path, strerror(rc));
		goto fail_fds;
	}

	/* Wait for "ready"; EOF means it died (or closed the pipe) first. */
	char buf[16] = { 0 };
	size_t got = 0;
	long long deadline = shim_now_ms() + timeout_ms;
	for (;;) {
		long long left = deadline - shim_now_ms();
		struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
		int pr = left > 0 ? poll(&p, 1, (int)left) : 0;
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			char tail[512];
			log_tail(log_path, tail, sizeof(tail));
			shim_say(err, err_len, "%s was not ready within %d ms (killed): %s", path, timeout_ms, tail);
			goto fail_fds;
		}
		ssize_t n = read(pipefd[0], buf + got, sizeof(buf) - 1 - got);
		if (n > 0) {
			got += (size_t)n;
			if (strstr(buf, "ready"))
				break;
			if (got < sizeof(buf) - 1)
				continue;
		}
		int status = 0;
		waitpid(pid, &status, 0);
		char tail[512];
		log_tail(log_path, tail, sizeof(tail));
		if (WIFEXITED(status))
			shim_say(err, err_len, "%s exited with status %d before it was ready: %s", path, WEXITSTATUS(status), tail);
		else if (WIFSIGNALED(status))
			shim_say(err, err_len, "%s was killed by signal %d before it was ready: %s", path, WTERMSIG(status), tail);
		else
			shim_say(err, err_len, "%s closed its readiness pipe: %s", path, tail);
		goto fail_fds;
	}
	close(pipefd[0]);
	close(logfd);
	close(nullfd);
	free(copy);
	free(env_copy);
	return pid;

fail_fds:
	for (int i = 0; i < 2; i++) {
		if (pipefd[i] >= 0)
			close(pipefd[i]);
	}
	if (logfd >= 0)
		close(logfd);
	if (nullfd >= 0)
		close(nullfd);
	free(copy);
	free(env_copy);
	return -1;
}

int xbs_stop(int pid, int timeout_ms, char *err, int err_len)
{
	if (pid <= 0) {
		shim_say(err, err_len, "bad pid %d", pid);
		return -1;
	}
	if (gone(pid))
		return 0;
	if (kill(pid, SIGTERM) != 0 && errno != ESRCH) {
		shim_say(err, err_len, "cannot signal %d: %s", pid, strerror(errno));
		return -1;
	}
	long long deadline = shim_now_ms() + timeout_ms;
	while (shim_now_ms() < deadline) {
		if (gone(pid))
			return 0;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	deadline = shim_now_ms() + 5000;
	while (shim_now_ms() < deadline) {
		if (gone(pid))
			return 1;
		usleep(10000);
	}
	shim_say(err, err_len, "%d survived SIGKILL for 5 s", pid);
	return -1;
}
