/* The SPDK environment for the SPDK engine (spdk_host.h). */
#include "engine/spdk_host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spdk/env.h>
#include <spdk/init.h>
#include <spdk/log.h>
#include <spdk/rpc.h>
#include <spdk/thread.h>

static struct spdk_thread *app_thread;
static struct spdk_rpc_server *rpc_server;

struct step {
	bool done;
	int rc;
};

static void step_done(int rc, void *arg)
{
	struct step *s = arg;
	s->rc = rc;
	s->done = true;
}

static void fini_done(void *arg)
{
	((struct step *)arg)->done = true;
}

/* SPDK's start-up steps are asynchronous: poll the app thread until the step calls back. */
static int wait_step(struct step *s)
{
	while (!s->done)
		spdk_thread_poll(app_thread, 0, 0);
	return s->rc;
}

int spdk_host_start(const struct spdk_host_options *opt, char *err, size_t errlen)
{
	struct spdk_env_opts env;
	env.opts_size = sizeof(env);
	spdk_env_opts_init(&env);
	env.name = opt->name ? opt->name : "xenblkd";
	env.no_huge = opt->no_huge;
	env.mem_size = opt->mem_mb > 0 ? opt->mem_mb : 1024;
	env.no_pci = opt->no_huge; /* user-space NVMe needs hugepages (DMA) */
	/* The SR's drive and nothing else: DPDK would probe every PCI device it has a driver for. */
	struct spdk_pci_addr allowed;
	if (!env.no_pci && opt->pci_allowed) {
		if (spdk_pci_addr_parse(&allowed, opt->pci_allowed) != 0) {
			snprintf(err, errlen, "%s is not a PCI address", opt->pci_allowed);
			return -1;
		}
		env.pci_allowed = &allowed;
		env.num_pci_addr = 1;
	}
	env.core_mask = "0x1";
	if (spdk_env_init(&env) < 0) {
		snprintf(err, errlen, "SPDK env initialisation failed (memory %d MiB%s)", env.mem_size, opt->no_huge ? ", no hugepages" : "");
		return -1;
	}
	spdk_log_set_print_level(SPDK_LOG_WARN);
	if (spdk_thread_lib_init(NULL, 0) != 0) {
		snprintf(err, errlen, "SPDK thread library initialisation failed");
		spdk_env_fini();
		return -1;
	}
	app_thread = spdk_thread_create("xenblkd-app", NULL);
	if (!app_thread) {
		snprintf(err, errlen, "cannot create SPDK's app thread");
		spdk_thread_lib_fini();
		spdk_env_fini();
		return -1;
	}
	spdk_set_thread(app_thread);
	struct step s = { 0 };
	spdk_subsystem_init(step_done, &s);
	if (wait_step(&s) != 0) {
		snprintf(err, errlen, "SPDK subsystems failed to start (%d): too little memory?", s.rc);
		spdk_host_stop();
		return -1;
	}
	/* Bdev-creating methods are runtime RPCs: allowed once the subsystems run. */
	spdk_rpc_set_state(SPDK_RPC_RUNTIME);
	if (opt->config_json) {
		struct step c = { 0 };
		char *copy = strdup(opt->config_json); /* SPDK parses in place */
		if (!copy) {
			snprintf(err, errlen, "out of memory");
			spdk_host_stop();
			return -1;
		}
		spdk_subsystem_load_config(copy, (ssize_t)strlen(copy), step_done, &c, true);
		int rc = wait_step(&c);
		free(copy);
		if (rc != 0) {
			snprintf(err, errlen, "the SPDK configuration failed (%d): see the SPDK messages above", rc);
			spdk_host_stop();
			return -1;
		}
	}
	return 0;
}

int spdk_host_rpc_listen(const char *path, char *err, size_t errlen)
{
	if (!app_thread || rpc_server) {
		snprintf(err, errlen, "SPDK's RPC server: %s", app_thread ? "already listening" : "SPDK is not started");
		return -1;
	}
	rpc_server = spdk_rpc_server_listen(path);
	if (!rpc_server) {
		snprintf(err, errlen, "SPDK's RPC server cannot listen on %s (see the SPDK messages above)", path);
		return -1;
	}
	return 0;
}

void spdk_host_poll(void)
{
	if (!app_thread)
		return;
	if (rpc_server)
		spdk_rpc_server_accept(rpc_server);
	spdk_thread_poll(app_thread, 0, 0);
}

void spdk_host_stop(void)
{
	if (!app_thread)
		return;
	spdk_set_thread(app_thread);
	if (rpc_server)
		spdk_rpc_server_close(rpc_server);
	rpc_server = NULL;
	struct step s = { 0 };
	spdk_subsystem_fini(fini_done, &s);
	wait_step(&s);
	spdk_thread_exit(app_thread);
	while (!spdk_thread_is_exited(app_thread))
		spdk_thread_poll(app_thread, 0, 0);
	spdk_thread_destroy(app_thread);
	app_thread = NULL;
	spdk_thread_lib_fini();
	spdk_env_fini();
}
