/* Engine selection by name. */
#include "engine/engine.h"

#include <string.h>

struct engine *engine_uring_open(const struct engine_options *opt, const char **err);
struct engine *engine_null_open(const struct engine_options *opt, const char **err);

struct engine *engine_open(const char *kind, const struct engine_options *opt, const char **err)
{
	if (strcmp(kind, "uring") == 0)
		return engine_uring_open(opt, err);
	if (strcmp(kind, "null") == 0)
		return engine_null_open(opt, err);
	*err = "unknown engine (uring or null)";
	return NULL;
}
