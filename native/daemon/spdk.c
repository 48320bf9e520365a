/*
 * The SPDK environment of xenblkd-spdk, the daemon built with SPDK (docs/spdk.md): started on
 * the main thread when --spdk-config names the bdevs to create, with its reactors driving the
 * queues of spdk disks (--spdk-reactors), polled from the main loop, stopped after every disk
 * is gone. Plain xenblkd links daemon/spdk_stub.c instead.
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/spdk_queues.h"
#include "daemon/spdk_reactor.h"
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
	struct spdk_host_options opt = { .name = "xenblkd", .config_json = json, .no_huge = !o->hugepages, .mem_mb = o->mem_mb,
					 .pci_allowed = o->pci };
	/* DPDK pins the thread that starts it to its one core; every thread made later would inherit that. */
	cpu_set_t cpus;
	bool have_cpus = sched_getaffinity(0, sizeof(cpus), &cpus) == 0;
	int rc = spdk_host_start(&opt, err, errlen);
	if (rc == 0 && have_cpus)
		sched_setaffinity(0, sizeof(cpus), &cpus);
	free(json);
	started = rc == 0;
	if (started && o->rpc_socket) {
		unlink(o->rpc_socket); /* a socket a dead daemon left */
		if (spdk_host_rpc_listen(o->rpc_socket, err, errlen) != 0) {
			daemon_spdk_stop();
			return -1;
		}
	}
	if (!started)
		return -1;
	/* Default: one reactor per CPU we may run on (at most 8); 0 keeps a thread per queue. */
	int count = o->reactors >= 0 ? o->reactors : (int)reactors_default();
	if (count > 0) {
		if (reactors_start((unsigned)count, err, errlen) != 0) {
			daemon_spdk_stop();
			return -1;
		}
		spdk_queues_install();
	}
	log_info("SPDK reactors: %d%s", count, count ? " (the spdk disks' queues run on them)" : " (a thread per queue)");
	return 0;
}

json_t *daemon_spdk_stats(void)
{
	json_t *list = json_array();
	for (unsigned i = 0; i < reactors_count(); i++) {
		struct reactor_stats st;
		reactor_get_stats(i, &st);
		json_array_append_new(list, json_pack("{s:I, s:I, s:I}", "threads", (json_int_t)st.threads, "passes",
						      (json_int_t)st.passes, "sleeps", (json_int_t)st.sleeps));
	}
	return json_pack("{s:o}", "reactors", list);
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
	spdk_queues_uninstall();
	reactors_stop(); /* every queue is gone: nothing runs on them */
	if (started)
		spdk_host_stop();
	started = false;
}
