/*
 * The guest's data path end to end against the test backend (test_backend.c,
 * built on the project's blkif engine): workloads with verification in every
 * negotiated configuration, faults the verifier must catch with their LBA,
 * a protocol error that must stop the device, every hostile mode, and the
 * xensim-guest program itself (JSON summary, exit status, resize, close).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/guest/blkfront.h"
#include "sim/guest/hostile.h"
#include "sim/guest/malicious.h"
#include "sim/guest/test_backend.h"
#include "sim/guest/test_env.h"
#include "sim/guest/verify.h"
#include "sim/guest/workload.h"
#include "sim/hv/hv.h"
#include "sim/toolstack/domain.h"
#include "sim/toolstack/vbd.h"

#define DOMID 7u

static struct hv_conn *hv;
static struct xs_handle *xs0;
static uint32_t next_devid = 51712;

static uint32_t add_vbd(void)
{
	uint32_t devid = next_devid;
	struct vbd_spec s = { .domid = DOMID, .devid = devid, .backend_domid = 0, .kind = "vbd", .mode = "w",
			      .params = "loopback", .device_type = "disk" };

	next_devid += 16;
	REQUIRE(vbd_add(xs0, &s) == 0);
	return devid;
}

static struct tb *start_backend(const struct tb_opts *o)
{
	struct tb *b;
	te_use_xs_of(0);
	b = tb_start(o);
	REQUIRE(b);
	return b;
}

static struct bf_config config(uint32_t devid)
{
	return (struct bf_config){ .domid = DOMID, .devid = devid, .layout = &wire_x86_64, .want_queues = 1,
				   .want_ring_order = 0, .want_indirect_segs = 32, .want_persistent = true,
				   .poison_reads = true, .timeout_ms = 10000 };
}

static void connect_dev(struct bf_dev *d, const struct bf_config *c)
{
	te_use_xs_of(DOMID);
	if (bf_connect(d, hv, c) < 0) {
		fprintf(stderr, "connect: %s\n", d->err);
		te_fatal(__FILE__, __LINE__, "bf_connect");
	}
	te_use_xs_of(0);
}

static void close_dev(struct bf_dev *d)
{
	CHECK(bf_close(d, true) == 0);
	CHECK(d->mem.revoke_failures == 0 && d->mem.nleaked == 0);
	/* Nothing of ours is still granted. */
	for (uint32_t g = d->mem.gref_base; g < d->mem.gref_end; g++)
		if (d->mem.dom.grants[g].flags) {
			CHECK(!"grant left after close");
			break;
		}
	bf_fini(d);
}

static struct guest_opts job(enum rw_mode rw, uint64_t bs, unsigned depth, uint64_t size)
{
	struct guest_opts o;
	guest_opts_defaults(&o);
	o.domid = DOMID;
	o.rw = rw;
	o.bs = bs;
	o.iodepth = depth;
	o.size = size;
	o.timeout = 10;
	o.verify = true;
	return o;
}

static int run(struct wl *w, enum rw_mode rw, uint64_t ios, struct run_stats *st, const struct guest_opts *o)
{
	struct wl_phase ph = { .name = "test", .rw = rw, .rwmixread = o->rwmixread, .ios = ios,
			       .flush_every = o->flush_every, .fua_every = o->fua_every,
			       .discard_every = o->discard_every };
	run_stats_init(st);
	return wl_run(w, &ph, st, false);
}

/* A write pass over the region, the job, then a read pass verifying everything. */
static void verified_job(struct bf_dev *d, const struct guest_opts *o, uint64_t ios, struct vmodel *vm,
			 struct run_stats st[3])
{
	char err[256];
	struct wl *w = wl_create(d, o, NULL, err, sizeof(err));

	if (!w)
		fprintf(stderr, "wl_create: %s\n", err);
	REQUIRE(w);
	REQUIRE(vmodel_init(vm, wl_region_lba(w), wl_region_sectors(w), 4242) == 0);
	wl_set_model(w, vm);
	CHECK(run(w, RW_WRITE, wl_blocks(w), &st[0], o) == 0);
	CHECK(run(w, o->rw, ios, &st[1], o) == 0);
	CHECK(run(w, RW_READ, wl_blocks(w), &st[2], o) == 0);
	for (int i = 0; i < 3; i++)
		CHECK(run_stats_errors(&st[i]) == 0);
	CHECK(run_stats_ios(&st[1]) == ios);
	wl_destroy(w);
}

/* Native ABI, persistent grants, indirect requests, a two-page ring. */
static void test_native_persistent_indirect(void)
{
	uint32_t devid = add_vbd();
	struct tb_opts bo = tb_defaults(DOMID, devid);
	struct tb *b = start_backend(&bo);
	struct bf_config c = config(devid);
	struct guest_opts o = job(RW_RANDRW, 64 * 1024, 8, 4u << 20);
	static struct run_stats st[3];
	struct tb_counts tc;
	struct vmodel vm;
	struct bf_dev d;

	c.want_ring_order = 1;
	connect_dev(&d, &c);
	CHECK(d.f.persistent && d.f.indirect_segs == 32 && d.f.ring_entries == 64 && d.f.flush && d.f.discard);
	verified_job(&d, &o, 400, &vm, st);
	CHECK(vm.failures == 0 && vm.counts[V_OK] > 0);
	tb_counts(b, &tc);
	CHECK(tc.indirect > 0 && tc.max_segs == 16 && tc.ops[WIRE_OP_INDIRECT] > 0 && tc.errors == 0);
	CHECK(strcmp(tc.protocol, "x86_64-abi") == 0 && tc.order == 1 && tc.queues == 1);
	/* Persistent: a pool far smaller than the number of segments moved. */
	CHECK(d.q[0].pool.nall > 0 && d.q[0].pool.nall <= 8 * 16 + 16);
	CHECK(d.mem.grants < 400);
	close_dev(&d);
	vmodel_fini(&vm);
	tb_stop(b);
}

/* x86_32, no persistent, no indirect (requests split at 11 segments), two queues, flushes, FUA, discards. */
static void test_x86_32_split_mq(void)
{
	uint32_t devid = add_vbd();
	struct tb_opts bo = tb_defaults(DOMID, devid);
	struct bf_config c = config(devid);
	struct guest_opts o = job(RW_RANDRW, 128 * 1024, 4, 4u << 20);
	static struct run_stats st[3];
	struct tb_counts tc;
	struct vmodel vm;
	struct bf_dev d;
	struct tb *b;

	bo.max_indirect = 0;
	bo.persistent = false;
	bo.max_queues = 2;
	b = start_backend(&bo);
	c.layout = &wire_x86_32;
	c.want_queues = 4;
	c.want_ring_order = 2;
	connect_dev(&d, &c);
	CHECK(d.nq == 2 && d.f.ring_order == 2 && d.f.ring_entries == 128 && !d.f.persistent && d.f.max_segs == 11);
	o.queues = 4;
	o.rwmixread = 30;
	o.flush_every = 4;
	o.fua_every = 3;
	o.discard_every = 5;
	verified_job(&d, &o, 300, &vm, st);
	CHECK(vm.failures == 0 && vm.counts[V_ZERO_OK] > 0);
	CHECK(st[1].k[ST_FLUSH].ios > 0 && st[1].k[ST_DISCARD].ios > 0);
	tb_counts(b, &tc);
	CHECK(strcmp(tc.protocol, "x86_32-abi") == 0 && tc.queues == 2 && tc.order == 2);
	CHECK(tc.indirect == 0 && tc.max_segs == 11 && tc.errors == 0);
	CHECK(tc.ops[WIRE_OP_FLUSH] > 0 && tc.flushes_with_data > 0 && tc.ops[WIRE_OP_DISCARD] > 0);
	CHECK(tc.secure_discards > 0 && tc.secure_discards < tc.ops[WIRE_OP_DISCARD]);
	CHECK(tc.per_queue[0] > 0 && tc.per_queue[1] > 0);
	/* Without persistent grants every grant is revoked on completion. */
	CHECK(d.mem.revokes + 8 >= d.mem.grants - 2 * 4 && d.mem.revoke_failures == 0);
	close_dev(&d);
	vmodel_fini(&vm);
	tb_stop(b);
}

/* Sub-page blocks at odd sectors: segments starting and ending inside pages. */
static void test_small_unaligned(void)
{
	uint32_t devid = add_vbd();
	struct tb_opts bo = tb_defaults(DOMID, devid);
	struct tb *b = start_backend(&bo);
	struct bf_config c = config(devid);
	struct guest_opts o = job(RW_RANDRW, 1536, 16, 1u << 20);
	static struct run_stats st[3];
	struct vmodel vm;
	struct bf_dev d;

	c.want_persistent = false;
	connect_dev(&d, &c);
	o.offset = 512 * 3;
	verified_job(&d, &o, 500, &vm, st);
	CHECK(vm.failures == 0 && vm.counts[V_OK] > 0);
	close_dev(&d);
	vmodel_fini(&vm);
	tb_stop(b);
}

static bool reported(const struct vmodel *vm, enum vkind k, uint64_t lba, uint64_t found_lba)
{
	for (unsigned i = 0; i < vm->nreported; i++)
		if (vm->reported[i].kind == k && vm->reported[i].lba == lba &&
		    (found_lba == TB_NEVER || vm->reported[i].found.lba == found_lba))
			return true;
	return false;
}

/* A flipped bit, a dropped write and a misdirected write, each caught at its LBA. */
static void test_faults(void)
{
	uint32_t devid = add_vbd();
	struct tb_opts bo = tb_defaults(DOMID, devid);
	struct bf_config c = config(devid);
	struct guest_opts o = job(RW_WRITE, 4096, 1, 1u << 20);
	static struct run_stats st;
	char err[256];
	struct vmodel vm;
	struct bf_dev d;
	struct wl *w;
	struct tb *b;

	b = start_backend(&bo);
	connect_dev(&d, &c);
	w = wl_create(&d, &o, NULL, err, sizeof(err));
	REQUIRE(w);
	REQUIRE(vmodel_init(&vm, 0, wl_region_sectors(w), 7) == 0);
	wl_set_model(w, &vm);
	CHECK(run(w, RW_WRITE, wl_blocks(w), &st, &o) == 0);
	CHECK(run(w, RW_READ, wl_blocks(w), &st, &o) == 0);
	CHECK(vm.failures == 0);
	/* The second pass meets a bit flip on reads of 100, a dropped write at 200, and 300's write
	 * landing on 292. */
	tb_set_faults(b, 100, 200, 300);
	CHECK(run(w, RW_WRITE, wl_blocks(w), &st, &o) == 0);
	CHECK(run(w, RW_READ, wl_blocks(w), &st, &o) == 0);
	CHECK(vm.failures == 4);
	CHECK(reported(&vm, V_CORRUPT, 100, 100));
	CHECK(reported(&vm, V_STALE, 200, 200));    /* the first pass's data */
	CHECK(reported(&vm, V_STALE, 300, 300));    /* the write went elsewhere... */
	CHECK(reported(&vm, V_MISPLACED, 292, 300)); /* ...here */
	for (unsigned i = 0; i < vm.nreported; i++)
		if (vm.reported[i].kind == V_STALE)
			CHECK(vm.reported[i].found.gen < vm.reported[i].expected_gen);
	wl_destroy(w);
	close_dev(&d);
	vmodel_fini(&vm);
	tb_stop(b);
}

/* A response with the wrong operation: a protocol error, and the device stops as blkfront's does. */
static void test_wrong_op(void)
{
	uint32_t devid = add_vbd();
	struct tb_opts bo = tb_defaults(DOMID, devid);
	struct bf_config c = config(devid);
	struct guest_opts o = job(RW_RANDREAD, 4096, 4, 1u << 20);
	static struct run_stats st;
	char err[256];
	struct bf_dev d;
	struct wl *w;
	struct tb *b;

	bo.wrong_op_at = 10;
	b = start_backend(&bo);
	connect_dev(&d, &c);
	o.verify = false;
	w = wl_create(&d, &o, NULL, err, sizeof(err));
	REQUIRE(w);
	CHECK(run(w, RW_RANDREAD, 100, &st, &o) < 0);
	CHECK(d.broken && d.protocol_errors == 1 && d.nproto_msgs >= 1);
	CHECK(strstr(d.proto_msgs[0], "wrong operation") != NULL);
	CHECK(st.k[ST_READ].aborted > 0 && run_stats_ios(&st) < 100 + 4);
	wl_destroy(w);
	bf_close(&d, true);
	bf_fini(&d);
	tb_stop(b);
}

/* More segments than grant references in our window: reported at once, not a hang. */
static void test_starved(void)
{
	uint32_t devid = add_vbd();
	struct tb_opts bo = tb_defaults(DOMID, devid);
	struct tb *b = start_backend(&bo);
	struct bf_config c = config(devid);
	struct guest_opts o = job(RW_READ, 64 * 1024, 2, 1u << 20);
	static struct run_stats st;
	uint64_t t0;
	char err[256];
	struct bf_dev d;
	struct wl *w;

	c.want_persistent = false;
	c.grefs = 8; /* one for the ring, seven for data: a 64k request needs 16 + 1 */
	connect_dev(&d, &c);
	o.verify = false;
	w = wl_create(&d, &o, NULL, err, sizeof(err));
	REQUIRE(w);
	t0 = bf_now_ns();
	CHECK(run(w, RW_READ, 10, &st, &o) < 0);
	CHECK(d.starved && bf_now_ns() - t0 < 2000000000ull);
	CHECK(st.k[ST_READ].aborted == 2);
	wl_destroy(w);
	close_dev(&d);
	tb_stop(b);
}

/*
 * The malicious ring modes against the same backend, briefly. Not flood (it lowers its own
 * priority, this whole process's) nor xenstore-flip (the test backend does not reconnect).
 */
static void test_malicious(void)
{
	static const char *const modes[] = { "rewrite-in-flight", "ro-grant-read", "revoke-in-flight" };
	for (unsigned i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		uint32_t devid = add_vbd();
		struct tb_opts bo = tb_defaults(DOMID, devid);
		struct bf_config c = config(devid);
		struct guest_opts o;
		struct hostile_result *r = calloc(1, sizeof(*r));
		struct bf_dev d;
		struct tb *b;
		int rc;

		REQUIRE(r);
		guest_opts_defaults(&o);
		o.domid = DOMID;
		o.hostile = modes[i];
		o.timeout = 5;
		o.runtime = 0.3;
		b = start_backend(&bo);
		connect_dev(&d, &c);
		rc = malicious_run(&d, &o, r);
		if (rc != 0 || !r->pass)
			fprintf(stderr, "malicious %s: rc %d, note '%s'\n", modes[i], rc, r->note);
		CHECK(rc == 0 && r->pass && r->sanity == 1);
		CHECK(r->answered == r->sent && r->sent > 0);
		CHECK(r->audited && r->refused[HV_REF_BAD_RANGE] == 0 && r->refused[HV_REF_OTHER_DOMAIN] == 0);
		bf_close(&d, true);
		bf_fini(&d);
		tb_stop(b);
		free(r);
	}
}

/* Every hostile mode against a backend built on the blkif engine: all must pass. */
static void test_hostile(void)
{
	for (int i = 0; hostile_modes[i]; i++) {
		const char *mode = hostile_modes[i];
		if (malicious_mode(mode))
			continue; /* test_malicious */
		uint32_t devid = add_vbd();
		struct tb_opts bo = tb_defaults(DOMID, devid);
		struct bf_config c = config(devid);
		struct guest_opts o;
		struct hostile_result *r = calloc(1, sizeof(*r));
		struct tb_counts tc;
		struct bf_dev d;
		struct tb *b;
		int rc;

		REQUIRE(r);
		guest_opts_defaults(&o);
		o.domid = DOMID;
		o.hostile = mode;
		o.timeout = 5;
		bo.readonly = strcmp(mode, "ro-write") == 0;
		bo.max_queues = 2;
		b = start_backend(&bo);
		c.want_queues = 2;
		connect_dev(&d, &c);
		rc = hostile_run(&d, &o, r);
		if (rc != 0 || !r->pass) {
			fprintf(stderr, "hostile %s: rc %d, note '%s'\n", mode, rc, r->note);
			for (unsigned k = 0; k < r->ncases; k++)
				if (!r->cases[k].pass)
					fprintf(stderr, "  case %s: expected %s, answered %d status %d op %u\n",
						r->cases[k].name, hexpect_name(r->cases[k].expect), r->cases[k].answered,
						r->cases[k].status, r->cases[k].rsp_got);
			for (unsigned k = 0; k < d.nproto_msgs; k++)
				fprintf(stderr, "  protocol: %s\n", d.proto_msgs[k]);
		}
		CHECK(rc == 0 && r->pass);
		CHECK(r->ncases > 0 && r->sent == r->ncases);
		tb_counts(b, &tc);
		if (strcmp(mode, "ring-overflow") == 0)
			CHECK(tc.overflow_stops == 1 && r->responses_after == 0 && r->device_dropped);
		if (strcmp(mode, "after-close") == 0) {
			CHECK(r->responses_after == 0 && d.state == XB_CLOSED);
		} else {
			CHECK(d.protocol_errors == 0);
			bf_close(&d, true);
		}
		bf_fini(&d);
		tb_stop(b);
		free(r);
	}
}

/* ---- the program ---- */

static json_t *run_guest(const char *const *args, int *status, bool quiet)
{
	char bin[512], self[400], out[8192 * 8];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	size_t got = 0;
	int pipefd[2];
	pid_t pid;
	json_error_t je;

	REQUIRE(n > 0);
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(bin, sizeof(bin), "%s/xensim-guest", self);
	REQUIRE(pipe(pipefd) == 0);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		char *argv[40];
		int k = 0;
		argv[k++] = bin;
		for (int i = 0; args[i] && k < 39; i++)
			argv[k++] = (char *)args[i];
		argv[k] = NULL;
		te_use_xs_of(DOMID);
		if (quiet) {
			int null = open("/dev/null", O_WRONLY);
			dup2(null, STDERR_FILENO);
		}
		dup2(pipefd[1], STDOUT_FILENO);
		close(pipefd[0]);
		close(pipefd[1]);
		execv(bin, argv);
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		ssize_t r = read(pipefd[0], out + got, sizeof(out) - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(pipefd[0]);
	out[got] = '\0';
	REQUIRE(waitpid(pid, status, 0) == pid);
	json_t *j = json_loads(out, 0, &je);
	if (!j && !quiet)
		fprintf(stderr, "unparsable output: %s\n%s\n", je.text, out);
	return j;
}

static long long jint(json_t *root, const char *a, const char *b)
{
	json_t *v = json_object_get(root, a);
	if (b)
		v = json_object_get(v, b);
	return json_is_integer(v) ? json_integer_value(v) : json_is_true(v) ? 1 : json_is_false(v) ? 0 : -99999;
}

static void test_program(void)
{
	uint32_t devid = add_vbd();
	struct tb_opts bo = tb_defaults(DOMID, devid);
	struct tb *b = start_backend(&bo);
	char dev[16], be[192];
	int status;
	json_t *j;

	snprintf(dev, sizeof(dev), "%u", devid);
	{
		const char *args[] = { "--domid", "7", "--devid", dev, "--rw", "randrw", "--bs", "16k", "--iodepth", "4",
				       "--queues", "2", "--ring-order", "1", "--ios", "300", "--size", "2m", "--verify",
				       "--close", "--no-progress", "--flush-every", "8", NULL };
		j = run_guest(args, &status, false);
		REQUIRE(j);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		CHECK(jint(j, "errors", "total") == 0 && jint(j, "connected", NULL) == 1);
		CHECK(jint(j, "features", "queues") == 2 && jint(j, "features", "ring_order") == 1);
		CHECK(jint(j, "features", "indirect_segs") == 32 && jint(j, "features", "persistent") == 1);
		CHECK(jint(j, "features", "sectors") == (long long)bo.sectors);
		CHECK(jint(j, "ops", "total") == 300 && jint(j, "verify", "failures") == 0);
		CHECK(jint(j, "close", "ok") == 1 && jint(j, "close", "frontend_state") == 6);
		CHECK(json_is_object(json_object_get(json_object_get(j, "phases"), "prefill")) == 0);
		CHECK(json_is_object(json_object_get(json_object_get(j, "phases"), "verify_pass")));
		CHECK(json_is_real(json_object_get(json_object_get(json_object_get(j, "latency_us"), "all"), "p99.9")));
		json_decref(j);
	}
	/* Back to Initialising from Closed, reconnect, and a hostile run through the program. */
	{
		const char *args[] = { "--domid", "7", "--devid", dev, "--hostile", "bad-op", "--abi", "x86_32",
				       "--timeout", "5", "--close", NULL };
		j = run_guest(args, &status, false);
		REQUIRE(j);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		CHECK(jint(j, "hostile", "pass") == 1 && jint(j, "hostile", "sanity_read") == 1);
		json_decref(j);
	}
	/* Online resize while the program waits for it. */
	{
		const char *args[] = { "--domid", "7", "--devid", dev, "--ios", "0", "--resize-wait", "20000",
				       "--timeout", "10", "--close", NULL };
		pid_t pid = fork();
		REQUIRE(pid >= 0);
		if (pid == 0) {
			/* The backend grows the disk while the guest is connected, as blkback does. */
			struct xs_handle *h;
			usleep(500000);
			te_use_xs_of(0);
			h = xs_open(XS_OPEN_SOCKETONLY);
			snprintf(be, sizeof(be), "/local/domain/0/backend/vbd/%u/%u", DOMID, devid);
			for (int i = 0; i < 100 && !te_is(h, be, "state", "4"); i++)
				usleep(50000);
			te_write(h, be, "sectors", "20000");
			te_write(h, be, "state", "4");
			xs_close(h);
			_exit(0);
		}
		j = run_guest(args, &status, false);
		REQUIRE(j);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		CHECK(jint(j, "resize", "ok") == 1 && jint(j, "resize", "seen") == 20000);
		json_decref(j);
		waitpid(pid, &status, 0);
	}
	/* A bad job: exit 2, no JSON. */
	{
		const char *args[] = { "--domid", "7", "--bs", "1000", NULL };
		j = run_guest(args, &status, true);
		CHECK(!j && WIFEXITED(status) && WEXITSTATUS(status) == 2);
	}
	tb_stop(b);
}

int main(void)
{
	te_start();
	hv = hv_connect(NULL);
	REQUIRE(hv);
	xs0 = xs_open(XS_OPEN_SOCKETONLY);
	REQUIRE(xs0);
	REQUIRE(domain_create(hv, xs0, DOMID, 16384, 8192) == 0);

	test_native_persistent_indirect();
	test_x86_32_split_mq();
	test_small_unaligned();
	test_faults();
	test_wrong_op();
	test_starved();
	test_hostile();
	test_malicious();
	test_program();

	xs_close(xs0);
	hv_disconnect(hv);
	te_stop();
	printf("guest loopback: %d passed, %d failed\n", te_passed, te_failed);
	return te_failed ? 1 : 0;
}
