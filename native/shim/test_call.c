/* xbs_call against small servers in a child process: answers, silence, hang-ups, overlong answers. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shim/shim.h"
#include "testing/check.h"

static char dir[] = "/tmp/shim-call-XXXXXX";
static char sock_path[100];

enum behaviour { ECHO_LINE, SILENT, HANG_UP, FLOOD };

/* Listens, then serves one connection as told; returns the child's pid. */
static pid_t serve(enum behaviour b)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path);
	unlink(sock_path);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(l, 4) != 0) {
		perror("listen");
		exit(1);
	}
	pid_t pid = fork();
	if (pid != 0) {
		close(l);
		return pid;
	}
	int c = accept(l, NULL, NULL);
	char buf[256];
	ssize_t n = recv(c, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	if (b == ECHO_LINE) {
		/* Answers in two pieces, to test reassembly: {"got":<request>}\n */
		dprintf(c, "{\"got\":");
		usleep(20000);
		dprintf(c, "%s}\nignored after the line", buf);
	} else if (b == SILENT) {
		sleep(5);
	} else if (b == FLOOD) {
		for (int i = 0; i < 100; i++)
			dprintf(c, "xxxxxxxxxx");
	}
	close(c);
	_exit(0);
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

int main(void)
{
	char out[512], err[256];
	if (!mkdtemp(dir))
		return 1;
	snprintf(sock_path, sizeof(sock_path), "%s/control.sock", dir);

	pid_t pid = serve(ECHO_LINE);
	int n = xbs_call(sock_path, "{\"id\":1}", 2000, out, sizeof(out), err, sizeof(err));
	CHECK(n == (int)strlen("{\"got\":{\"id\":1}}"));
	CHECK(strcmp(out, "{\"got\":{\"id\":1}}") == 0);
	reap(pid);

	pid = serve(SILENT);
	CHECK(xbs_call(sock_path, "{}", 200, out, sizeof(out), err, sizeof(err)) == -1);
	CHECK(strstr(err, "no answer after 200 ms") != NULL);
	reap(pid);

	pid = serve(HANG_UP);
	CHECK(xbs_call(sock_path, "{}", 2000, out, sizeof(out), err, sizeof(err)) == -1);
	CHECK(strstr(err, "closed the connection") != NULL);
	reap(pid);

	pid = serve(FLOOD);
	CHECK(xbs_call(sock_path, "{}", 2000, out, 64, err, sizeof(err)) == -1);
	CHECK(strstr(err, "longer than 63 bytes") != NULL);
	reap(pid);

	unlink(sock_path);
	CHECK(xbs_call(sock_path, "{}", 200, out, sizeof(out), err, sizeof(err)) == -1);
	CHECK(strstr(err, "cannot reach") != NULL && strstr(err, strerror(ENOENT)) != NULL);
	CHECK(xbs_call(sock_path, "{}", 0, out, sizeof(out), err, sizeof(err)) == -1);

	rmdir(dir);
	return check_report("shim call");
}
