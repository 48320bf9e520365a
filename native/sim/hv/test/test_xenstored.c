/* Against the project's simulated xenstored (skipped if it is not built next
 * to us): creating a domain introduces it, destroying it releases it. */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <xenstore.h>

#include "sim/hv/test/hvt.h"

static char dir[64];
static pid_t xsd_pid;

static void stop_xenstored(void)
{
	if (xsd_pid > 0) {
		kill(xsd_pid, SIGTERM);
		hvt_wait(xsd_pid);
		xsd_pid = 0;
	}
	if (dir[0])
		rmdir(dir); /* fails, as it should, if it left a socket behind */
}

static void start_xenstored(const char *bin)
{
	int pipefd[2];

	snprintf(dir, sizeof(dir), "/tmp/xensim-hv-xsd.XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	hvt_on_fail(stop_xenstored);
	CHECK(pipe2(pipefd, O_CLOEXEC) == 0);
	xsd_pid = hvt_fork();
	if (xsd_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM); /* so it removes its sockets */
		dup2(pipefd[1], 1);
		execl(bin, bin, "--dir", dir, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	CHECK(hvt_read_ready(pipefd[0]) == 0);
	close(pipefd[0]);
}

static void test_introduce_and_release(const char *bin)
{
	struct hvt_server s;
	struct hv_conn *hv;
	struct xs_handle *xs;
	char sock[96];

	start_xenstored(bin);
	snprintf(sock, sizeof(sock), "%s/socket", dir);
	hvt_start(&s, sock);
	hv = hvt_connect(&s);
	setenv("XENSTORED_PATH", sock, 1);
	xs = xs_open(XS_OPEN_SOCKETONLY);
	CHECK(xs != NULL);

	CHECK(!xs_is_domain_introduced(xs, 40));
	CHECK(hv_domain_create(hv, 40, 4, 8) == 0);
	CHECK(xs_is_domain_introduced(xs, 40));
	CHECK(hv_domain_destroy(hv, 40) == 0);
	CHECK(!xs_is_domain_introduced(xs, 40));
	/* Again, to see the pair is repeatable for one domid. */
	CHECK(hv_domain_create(hv, 40, 4, 8) == 0);
	CHECK(xs_is_domain_introduced(xs, 40));
	CHECK(hv_domain_destroy(hv, 40) == 0);
	CHECK(!xs_is_domain_introduced(xs, 40));

	xs_close(xs);
	hv_disconnect(hv);
	hvt_stop(&s);
	stop_xenstored();
	CHECK(access(dir, F_OK) < 0);
}

int main(void)
{
	char bin[PATH_MAX];

	hvt_init();
	hvt_sibling("xensim-xenstored", bin, sizeof(bin));
	if (access(bin, X_OK) < 0) {
		fprintf(stderr, "  skipped: %s not built\n", bin);
		return 0;
	}
	fprintf(stderr, "  test_introduce_and_release\n");
	test_introduce_and_release(bin);
	return hvt_finish();
}
