/* Engine selection by name. */
#include "engine/engine.h"

#include <string.h>

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
