/*
 * xenblkd: serves disks to Xen guests over the blkif protocol.
 *   xenblkd --socket PATH [--platform xen|sim] [--ready-fd N] [--disk JSON]...
 * The main thread runs the control path: the control socket, xenstore watch
 * events (the xenbus state machines) and queue failure reports. Each
 * connected queue has its own data-path thread (backend/queue.c), or in
 * xenblkd-spdk runs on one of the SPDK reactors (daemon/spdk_reactor.c).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "backend/vbd_ops.h"
#include "daemon/daemon.h"
#include "daemon/log.h"

#define TAG_SIGNAL ((void *)1)
#define TAG_XENSTORE XSCONN_TAG
#define TAG_LISTEN ((void *)3)

/* Client fds are tagged with their number above this base. */
#define TAG_CLIENT_BASE 0x10000

static void usage(FILE *f)
{
	fprintf(f, "usage: xenblkd --socket PATH [--platform xen|sim] [--ready-fd N] [--disk JSON]...\n"
		   "  --socket PATH    control socket (JSON-RPC 2.0)\n"
		   "  --platform KIND  xen (default) or sim (the simulator: XENSIM_HV_PATH, XENSTORED_PATH)\n"
		   "  --ready-fd N     write \"ready\\n\" to fd N once serving, then close it\n"
		   "  --disk JSON      a disk_add parameter object to serve from the start\n"
		   "  --queues N --poll-us N --pool-pages N   defaults for disks\n"
		   "  --allow-fault-injection   serve disk_inject_error (tests only, never in production)\n"
		   "  --spdk-config FILE  start SPDK and create the bdevs FILE describes (SPDK's JSON\n"
		   "                      configuration); disks then use {\"engine\": \"spdk\", \"path\": BDEV}\n"
		   "  --spdk-mem MB --spdk-hugepages   SPDK's memory (default 1024 MiB, plain pages)\n"
		   "  --spdk-pci ADDR     with hugepages: the one PCI device SPDK may probe (the NVMe drive)\n"
		   "  --spdk-rpc PATH     serve SPDK's own RPC methods (bdev_lvol_*, ...) on PATH\n"
		   "  --spdk-reactors N   threads polling the spdk disks' queues (default: the CPUs we may\n"
		   "                      run on, at most 8, or $XENBLKD_SPDK_REACTORS; 0: a thread per queue)\n");
}

static void handle_xenstore(struct daemon *d)
{
	char **vec;
	unsigned n;
	if (d->xs_down)
		return;
	while ((vec = xs_check_watch(d->xb.xs)) != NULL || errno != EAGAIN) {
		if (!vec) {
			/* Not "no more events": the connection is gone (libxenstore's read thread ended). */
			xsconn_lost(d, errno);
			return;
		}
		(void)n;
		const char *token = vec[XS_WATCH_TOKEN];
		if (strcmp(token, RELEASE_TOKEN) == 0) {
			/* A domain died: devices of a frontend that no longer exists are disconnected. */
			for (struct vbd *v = d->vbds; v; v = v->next) {
				/* "Not introduced" from a dead connection is no answer: check it answers. */
				if (v->frontend_id && v->connected && !xs_is_domain_introduced(d->xb.xs, v->frontend_id) &&
				    xsconn_alive(d)) {
					log_info("%s: frontend domain %u is gone", v->name, v->frontend_id);
					vbd_disconnect(v);
				}
			}
		} else if (strcmp(token, CLAIMS_TOKEN) == 0) {
			claims_note(d, vec[XS_WATCH_PATH]);
		} else {
			for (struct vbd *v = d->vbds; v; v = v->next) {
				char t[VBD_NAME_MAX + 8];
				xenbus_token(v, t, sizeof(t));
				if (strcmp(t, token) == 0) {
					daemon_reconcile(d, v);
					break;
				}
			}
		}
		free(vec);
	}
	/* Once per batch: the toolstack writes a device in one transaction, many events. */
	claims_run(d);
}

/* Releases whatever was set up (any of it may be missing) and returns `rc`. */
static int finish(struct daemon *d, json_t *disks, int sfd, int rc)
{
	while (d->vbds)
		daemon_remove(d, d->vbds);
	claims_sync_watches(d);
	if (d->rpc)
		rpc_server_close(d->rpc);
	if (d->xb.xs)
		xs_close(d->xb.xs);
	if (d->xb.plat)
		d->xb.plat->ops->close(d->xb.plat);
	if (d->epoll_fd > 0)
		close(d->epoll_fd);
	if (sfd >= 0)
		close(sfd);
	daemon_spdk_stop(); /* after every disk: their bdevs are closed on this thread */
	json_decref(disks);
	return rc;
}

int main(int argc, char **argv)
{
	const char *socket_path = NULL, *platform = "xen";
	int ready_fd = -1;
	struct daemon d = {
		.defaults = { .max_queues = 4, .max_ring_order = 4, .max_indirect_segments = 256, .persistent = true,
			      .discard = true, .flush = true, .zero_copy = true, .pool_pages = 2048, .poll_us = 50 },
	};
	enum { OPT_DISK = 256, OPT_QUEUES, OPT_POLL, OPT_POOL, OPT_FAULTS, OPT_SPDK_CONFIG, OPT_SPDK_MEM, OPT_SPDK_HUGE, OPT_SPDK_RPC,
	       OPT_SPDK_REACTORS, OPT_SPDK_PCI };
	struct daemon_spdk_options spdk = { .mem_mb = 1024, .reactors = -1 };
	const char *reactors = getenv("XENBLKD_SPDK_REACTORS"); /* tests run whole suites with a count */
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' }, { "platform", required_argument, NULL, 'p' },
		{ "ready-fd", required_argument, NULL, 'r' }, { "disk", required_argument, NULL, OPT_DISK },
		{ "queues", required_argument, NULL, OPT_QUEUES }, { "poll-us", required_argument, NULL, OPT_POLL },
		{ "pool-pages", required_argument, NULL, OPT_POOL }, { "help", no_argument, NULL, 'h' },
		{ "allow-fault-injection", no_argument, NULL, OPT_FAULTS }, { "spdk-config", required_argument, NULL, OPT_SPDK_CONFIG },
		{ "spdk-mem", required_argument, NULL, OPT_SPDK_MEM }, { "spdk-hugepages", no_argument, NULL, OPT_SPDK_HUGE },
		{ "spdk-rpc", required_argument, NULL, OPT_SPDK_RPC }, { "spdk-reactors", required_argument, NULL, OPT_SPDK_REACTORS },
		{ "spdk-pci", required_argument, NULL, OPT_SPDK_PCI }, { 0 }
	};
	json_t *disks = json_array();
	int c;
	while ((c = getopt_long(argc, argv, "s:p:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			socket_path = optarg;
			break;
		case 'p':
			platform = optarg;
			break;
		case 'r':
			ready_fd = atoi(optarg);
			break;
		case OPT_DISK: {
			json_error_t err;
			json_t *p = json_loads(optarg, 0, &err);
			if (!json_is_object(p)) {
				fprintf(stderr, "xenblkd: --disk: not a JSON object: %s\n", err.text);
				json_decref(p);
				return finish(&d, disks, -1, 2);
			}
			json_array_append_new(disks, p);
			break;
		}
		case OPT_QUEUES:
			d.defaults.max_queues = (unsigned)atoi(optarg);
			break;
		case OPT_POLL:
			d.defaults.poll_us = (unsigned)atoi(optarg);
			break;
		case OPT_POOL:
			d.defaults.pool_pages = (unsigned)atoi(optarg);
			break;
		case OPT_FAULTS:
			d.allow_faults = true;
			break;
		case OPT_SPDK_CONFIG:
			spdk.config_file = optarg;
			break;
		case OPT_SPDK_MEM:
			spdk.mem_mb = atoi(optarg);
			break;
		case OPT_SPDK_PCI:
			spdk.pci = optarg;
			break;
		case OPT_SPDK_HUGE:
			spdk.hugepages = true;
			break;
		case OPT_SPDK_RPC:
			spdk.rpc_socket = optarg;
			break;
		case OPT_SPDK_REACTORS:
			reactors = optarg;
			break;
		case 'h':
			usage(stdout);
			return finish(&d, disks, -1, 0);
		default:
			usage(stderr);
			return finish(&d, disks, -1, 2);
		}
	}
	if (!socket_path || d.defaults.max_queues == 0 || d.defaults.max_queues > VBD_MAX_QUEUES) {
		usage(stderr);
		return finish(&d, disks, -1, 2);
	}
	if (reactors && *reactors) {
		char *end;
		long n = strtol(reactors, &end, 10);
		if (*end || n < 0 || n > 64) {
			fprintf(stderr, "xenblkd: --spdk-reactors: a number 0..64, not '%s'\n", reactors);
			return finish(&d, disks, -1, 2);
		}
		spdk.reactors = (int)n;
	}

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	if (spdk.config_file || spdk.rpc_socket) {
		char msg[256];
		if (!spdk.config_file) {
			log_error("--spdk-rpc needs --spdk-config");
			return finish(&d, disks, sfd, 2);
		}
		if (daemon_spdk_start(&spdk, msg, sizeof(msg)) != 0) {
			log_error("%s", msg);
			return finish(&d, disks, sfd, 1);
		}
		log_info("SPDK started (%s, %d MiB%s%s%s)", spdk.config_file, spdk.mem_mb, spdk.hugepages ? ", hugepages" : "",
			 spdk.rpc_socket ? ", its RPC server on " : "", spdk.rpc_socket ? spdk.rpc_socket : "");
	}
	d.xb.plat = platform_open(platform);
	if (!d.xb.plat) {
		log_error("cannot open the %s platform: %s", platform, strerror(errno));
		return finish(&d, disks, sfd, 1);
	}
	d.xb.xs = xs_open(0);
	if (!d.xb.xs) {
		log_error("cannot connect to xenstore: %s", strerror(errno));
		return finish(&d, disks, sfd, 1);
	}
	d.rpc = rpc_server_open(socket_path, daemon_rpc, &d);
	if (!d.rpc) {
		log_error("cannot listen on %s: %s", socket_path, strerror(errno));
		return finish(&d, disks, sfd, 1);
	}
	d.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN };
	ev.data.ptr = TAG_SIGNAL;
	epoll_ctl(d.epoll_fd, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.ptr = TAG_LISTEN;
	epoll_ctl(d.epoll_fd, EPOLL_CTL_ADD, rpc_server_listen_fd(d.rpc), &ev);
	xsconn_start(&d);

	size_t i;
	json_t *p;
	json_array_foreach(disks, i, p) {
		char msg[256];
		if (!daemon_add(&d, p, msg, sizeof(msg))) {
			log_error("--disk: %s", msg);
			return finish(&d, disks, sfd, 1);
		}
	}
	json_decref(disks);
	disks = NULL;
	log_info("serving on %s (%s platform)", socket_path, d.xb.plat->ops->name);
	if (d.allow_faults)
		log_info("fault injection is allowed (disk_inject_error): a test daemon, not for production");
	if (ready_fd >= 0) {
		ssize_t w = write(ready_fd, "ready\n", 6);
		(void)w;
		close(ready_fd);
	}

	while (!d.stopping) {
		struct epoll_event events[32];
		int timeout = xsconn_timeout_ms(&d), spdk_ms = daemon_spdk_timeout_ms();
		if (spdk_ms >= 0 && (timeout < 0 || spdk_ms < timeout))
			timeout = spdk_ms;
		int n = epoll_wait(d.epoll_fd, events, 32, timeout);
		for (int k = 0; k < n && !d.stopping; k++) {
			void *tag = events[k].data.ptr;
			if (tag == TAG_SIGNAL) {
				struct signalfd_siginfo si;
				if (read(sfd, &si, sizeof(si)) > 0)
					log_info("signal %u: shutting down", si.ssi_signo);
				d.stopping = true;
			} else if (tag == TAG_XENSTORE) {
				handle_xenstore(&d);
			} else if (tag == TAG_LISTEN) {
				int cfd = rpc_server_accept(d.rpc);
				if (cfd >= 0) {
					struct epoll_event cev = { .events = EPOLLIN, .data.u64 = TAG_CLIENT_BASE + (uint64_t)cfd };
					epoll_ctl(d.epoll_fd, EPOLL_CTL_ADD, cfd, &cev);
				}
			} else if (events[k].data.u64 >= TAG_CLIENT_BASE && events[k].data.u64 < TAG_CLIENT_BASE + 0x10000) {
				int cfd = (int)(events[k].data.u64 - TAG_CLIENT_BASE);
				if (!rpc_server_serve(d.rpc, cfd)) {
					epoll_ctl(d.epoll_fd, EPOLL_CTL_DEL, cfd, NULL);
					rpc_server_close_client(d.rpc, cfd);
				}
			} else {
				struct vbd *v = tag;
				if (vbd_failed(v))
					xenbus_fail(&d.xb, v);
			}
		}
		xsconn_tick(&d);
		daemon_spdk_poll();
		/* Devices whose backend directory was removed are forgotten. */
		for (struct vbd *v = d.vbds, *next; v; v = next) {
			next = v->next;
			if (v->gone)
				daemon_remove(&d, v);
		}
	}

	finish(&d, NULL, sfd, 0);
	log_info("stopped");
	return 0;
}
