/*
 * A device's lifecycle on the control path: create it from its configuration,
 * connect (map the rings the frontend granted, bind its event channels, start
 * one worker per queue), disconnect (drain and stop the workers, then unmap:
 * never with requests in flight), pause, resume, resize, destroy.
 */
#include "backend/vbd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backend/vbd_ops.h"
#include "engine/faults.h"

/* The engine's size in whole blocks: a partial last block cannot be served. */
static uint64_t whole_blocks(const struct vbd *v)
{
	return v->engine->ops->size(v->engine) & ~(uint64_t)(v->block_size - 1);
}

struct vbd *vbd_create(const struct vbd_config *cfg, char *err, size_t errlen)
{
	struct vbd *v = calloc(1, sizeof(*v));
	if (!v) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(v->name, sizeof(v->name), "%s", cfg->name);
	snprintf(v->backend, sizeof(v->backend), "%s", cfg->backend ? cfg->backend : "");
	snprintf(v->engine_kind, sizeof(v->engine_kind), "%s", cfg->engine);
	snprintf(v->path, sizeof(v->path), "%s", cfg->path ? cfg->path : "");
	v->features = cfg->features;
	v->readonly = cfg->readonly;
	v->paused = cfg->paused;
	v->state = XB_INITIALISING;
	v->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	const char *why = NULL;
	struct engine_options eo = {
		.path = cfg->path, .readonly = cfg->readonly, .null_size = cfg->null_size, .null_cpu_ns = cfg->null_cpu_ns, .block_size = cfg->block_size,
		.flush_nvme = cfg->flush_nvme
	};
	v->engine = engine_open(cfg->engine, &eo, &why);
	if (v->engine && cfg->fault_injection) {
		struct engine *wrapped = engine_faults_wrap(v->engine);
		if (!wrapped) {
			v->engine->ops->close(v->engine);
			why = "out of memory";
		}
		v->engine = wrapped;
	}
	if (!v->engine || v->event_fd < 0) {
		snprintf(err, errlen, "cannot open %s engine on %s: %s", cfg->engine, cfg->path ? cfg->path : "-",
			 why ? why : strerror(errno));
		vbd_destroy(v);
		return NULL;
	}
	v->block_size = v->engine->ops->block_size(v->engine);
	if (v->block_size != 512 && v->block_size != 4096) {
		snprintf(err, errlen, "%s has %u-byte blocks: only 512 and 4096 are served", cfg->path ? cfg->path : "-",
			 v->block_size);
		vbd_destroy(v);
		return NULL;
	}
	v->sector_shift = BLKIF_SECTOR_SHIFT;
	v->size = whole_blocks(v);
	v->sectors = v->size >> v->sector_shift;
	for (unsigned i = 0; i < VBD_MAX_QUEUES; i++) {
		v->queues[i].vbd = v;
		v->queues[i].index = i;
		v->queues[i].wake_fd = -1;
	}
	return v;
}

void vbd_set_error(struct vbd *v, const char *fmt, const char *detail)
{
	snprintf(v->last_error, sizeof(v->last_error), fmt, detail);
}

static void queue_teardown(struct vbd *v, struct queue *q)
{
	const struct platform_ops *pops = NULL;
	if (q->gnt)
		pops = q->gnt->platform->ops;
	queue_join(q);
	queue_free_private(q);
	if (q->chan)
		q->chan->engine->ops->channel_close(q->chan);
	if (q->evtchn)
		q->evtchn->platform->ops->evtchn_close(q->evtchn);
	if (q->ring_area && pops)
		pops->gnt_unmap(q->gnt, q->ring_area, q->ring_pages);
	if (q->gnt)
		pops->gnt_close(q->gnt);
	if (q->wake_fd >= 0)
		close(q->wake_fd);
	struct queue_stats keep = q->stats; /* statistics survive reconnection */
	memset(q, 0, sizeof(*q));
	q->stats = keep;
	q->vbd = v;
	q->index = (unsigned)(q - v->queues);
	q->wake_fd = -1;
}

/* Back to 512-byte units: what is published while no frontend has negotiated. */
static void units_reset(struct vbd *v)
{
	v->sector_shift = BLKIF_SECTOR_SHIFT;
	v->sectors = v->size >> v->sector_shift;
}

int vbd_connect(struct vbd *v, struct platform *plat, const struct vbd_transport *t)
{
	v->abi = t->abi;
	v->nr_queues = t->nr_queues;
	v->ring_order = t->ring_order;
	v->persistent = t->persistent && v->features.persistent;
	/* 4096-byte units only for a frontend that said it copes (reference 1.5) and a 4096-byte store. */
	v->sector_shift = t->large_sector && v->block_size == 4096 ? BLKIF_LARGE_SECTOR_SHIFT : BLKIF_SECTOR_SHIFT;
	v->sectors = v->size >> v->sector_shift;
	struct blkif_limits lim = {
		.disk_sectors = v->sectors,
		.sector_shift = (uint8_t)v->sector_shift,
		.block_mask = (uint8_t)((v->block_size >> v->sector_shift) - 1),
		.max_indirect_segments = (uint16_t)v->features.max_indirect_segments,
		.readonly = vbd_readonly(v),
		.flush = v->features.flush,
		.discard = v->features.discard && v->engine->ops->can_discard(v->engine),
	};
	for (unsigned i = 0; i < t->nr_queues; i++) {
		struct queue *q = &v->queues[i];
		q->ring_pages = 1u << t->ring_order;
		memcpy(q->ring_refs, t->ring_refs[i], sizeof(uint32_t) * q->ring_pages);
		q->remote_port = t->ports[i];
		q->limits = lim;
		q->gnt = plat->ops->gnt_open(plat, v->frontend_id);
		if (!q->gnt) {
			vbd_set_error(v, "cannot open grants of the frontend domain: %s", strerror(errno));
			goto fail;
		}
		q->ring_area = plat->ops->gnt_map(q->gnt, q->ring_pages, q->ring_refs, true);
		if (!q->ring_area) {
			vbd_set_error(v, "cannot map the ring: %s", "grant refused");
			goto fail;
		}
		if (blkif_ring_attach(&q->ring, q->ring_area, (size_t)q->ring_pages * 4096, v->abi) != 0) {
			vbd_set_error(v, "the ring's indices are inconsistent%s", "");
			goto fail;
		}
		q->evtchn = plat->ops->evtchn_bind(plat, v->frontend_id, q->remote_port);
		if (!q->evtchn) {
			vbd_set_error(v, "cannot bind the event channel: %s", strerror(errno));
			goto fail;
		}
		q->chan = v->engine->ops->channel_open(v->engine, q->ring.nr_ents * 2 + 8);
		q->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (!q->chan || q->wake_fd < 0) {
			vbd_set_error(v, "cannot open the engine channel: %s", strerror(errno));
			goto fail;
		}
		if (queue_start(q, v->paused) != 0) {
			vbd_set_error(v, "cannot start the queue: %s", strerror(errno));
			goto fail;
		}
	}
	v->connected = true;
	return 0;
fail:
	for (unsigned i = 0; i < t->nr_queues; i++)
		queue_teardown(v, &v->queues[i]);
	units_reset(v);
	return -1;
}

void vbd_disconnect(struct vbd *v)
{
	if (!v->connected)
		return;
	for (unsigned i = 0; i < v->nr_queues; i++)
		queue_teardown(v, &v->queues[i]);
	v->connected = false;
	units_reset(v);
}

static void queues_command(struct vbd *v, enum queue_cmd cmd)
{
	for (unsigned i = 0; i < v->nr_queues; i++)
		queue_command(&v->queues[i], cmd);
}

void vbd_pause(struct vbd *v)
{
	if (v->paused)
		return;
	v->paused = true;
	if (v->connected)
		queues_command(v, QUEUE_PAUSE);
}

void vbd_resume(struct vbd *v)
{
	if (!v->paused)
		return;
	v->paused = false;
	if (v->connected)
		queues_command(v, QUEUE_RUN);
}

bool vbd_update_size(struct vbd *v)
{
	uint64_t size = whole_blocks(v);
	if (size == v->size)
		return false;
	uint64_t sectors = size >> v->sector_shift; /* in the unit negotiated with the connected frontend */
	/* The workers read the limits without locks: change them while they wait. */
	bool hold = v->connected && !v->paused;
	if (hold)
		queues_command(v, QUEUE_PAUSE);
	v->size = size;
	v->sectors = sectors;
	for (unsigned i = 0; i < v->nr_queues; i++)
		v->queues[i].limits.disk_sectors = sectors;
	if (hold)
		queues_command(v, QUEUE_RUN);
	return true;
}

bool vbd_failed(struct vbd *v)
{
	uint64_t n;
	ssize_t r = read(v->event_fd, &n, sizeof(n));
	(void)r;
	for (unsigned i = 0; i < v->nr_queues && v->connected; i++) {
		if (atomic_load(&v->queues[i].failed))
			return true;
	}
	return false;
}

void vbd_destroy(struct vbd *v)
{
	if (!v)
		return;
	vbd_disconnect(v);
	if (v->engine)
		v->engine->ops->close(v->engine);
	if (v->event_fd >= 0)
		close(v->event_fd);
	free(v);
}
