/* Engine selection by name, and I/O buffer memory. */
#include "engine/engine.h"

#include <string.h>
#include <sys/mman.h>

struct engine *engine_uring_open(const struct engine_options *opt, const char **err);
struct engine *engine_null_open(const struct engine_options *opt, const char **err);
/* Linked only into an xenblkd built with SPDK (docs/spdk.md); NULL elsewhere. */
struct engine *engine_spdk_open(const struct engine_options *opt, const char **err) __attribute__((weak));

struct engine *engine_open(const char *kind, const struct engine_options *opt, const char **err)
{
	if (strcmp(kind, "uring") == 0)
		return engine_uring_open(opt, err);
	if (strcmp(kind, "null") == 0)
		return engine_null_open(opt, err);
	if (strcmp(kind, "spdk") == 0) {
		if (!engine_spdk_open) {
			*err = "this xenblkd has no SPDK engine; xenblkd-spdk has (docs/spdk.md)";
			return NULL;
		}
		return engine_spdk_open(opt, err);
	}
	*err = "unknown engine (uring, null or spdk)";
	return NULL;
}

void *engine_buf_alloc(struct engine *e, size_t bytes)
{
	if (e->ops->buf_alloc)
		return e->ops->buf_alloc(e, bytes);
	/* Kernel I/O (io_uring, O_DIRECT) and memcpy take any page-aligned memory. */
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void engine_buf_free(struct engine *e, void *p, size_t bytes)
{
	if (!p)
		return;
	if (e->ops->buf_free)
		e->ops->buf_free(e, p, bytes);
	else
		munmap(p, bytes);
}
