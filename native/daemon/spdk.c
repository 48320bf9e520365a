/*
 * The SPDK environment of xenblkd-spdk, the daemon built with SPDK (docs/spdk.md): started on
 * the main thread when --spdk-config names the bdevs to create, polled from the main loop,
 * stopped after every disk is gone. Plain xenblkd links daemon/spdk_stub.c instead.
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/spdk_host.h"

static bool started;

int daemon_spdk_start(const struct daemon_spdk_options *o, char *err, size_t errlen)
{
	const char *config_file = o->config_file;
	FILE *f = fopen(config_file, "r");
	if (!f) {
		snprintf(err, errlen, "--spdk-config %s: %s", config_file, strerror(errno));
		return -1;
	}
	char *json = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&json, &len);
	char buf[4096];
	size_t n;
	while (mem && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, mem);
	fclose(f);
	if (!mem || fclose(mem) != 0) {
		free(json);
		snprintf(err, errlen, "--spdk-config %s: out of memory", config_file);
		return -1;
	}
	struct spdk_host_options opt = { .name = "xenblkd", .config_json = json, .no_huge = !o->hugepages, .mem_mb = o->mem_mb };
	int rc = spdk_host_start(&opt, err, errlen);
	free(json);
	started = rc == 0;
	if (started && o->rpc_socket) {
		unlink(o->rpc_socket); /* a socket a dead daemon left */
		if (spdk_host_rpc_listen(o->rpc_socket, err, errlen) != 0) {
			daemon_spdk_stop();
			return -1;
		}
	}
	return started ? 0 : -1;
}

void daemon_spdk_poll(void)
{
	if (started)
		spdk_host_poll();
}

int daemon_spdk_timeout_ms(void)
{
	/* SPDK's RPC server and the app thread's messages are polled, not woken: keep the loop turning. */
	return started ? 5 : -1;
}

void daemon_spdk_stop(void)
{
	if (started)
		spdk_host_stop();
	started = false;
}
