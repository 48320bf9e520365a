/* Chooses the platform at start: the same daemon binary for real Xen and the simulator. */
#include "platform/platform.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct platform *platform_xen_open(void);
struct platform *platform_sim_open(void);

struct platform *platform_open(const char *kind)
{
	if (strcmp(kind, "xen") == 0)
		return platform_xen_open();
	if (strcmp(kind, "sim") == 0)
		return platform_sim_open();
	errno = EINVAL;
	return NULL;
}

int platform_reserve(void **array, unsigned *cap, unsigned count, size_t elem_size)
{
	if (count <= *cap)
		return 0;
	void *n = realloc(*array, (size_t)count * elem_size);
	if (!n)
		return -1;
	*array = n;
	*cap = count;
	return 0;
}
