/* Plain xenblkd has no SPDK: --spdk-config is refused with a clear message (daemon/spdk.c in xenblkd-spdk). */
#include "daemon/daemon.h"

#include <stdio.h>

int daemon_spdk_start(const char *config_file, int mem_mb, bool hugepages, char *err, size_t errlen)
{
	(void)config_file;
	(void)mem_mb;
	(void)hugepages;
	snprintf(err, errlen, "--spdk-config: this xenblkd has no SPDK; xenblkd-spdk has (docs/spdk.md)");
	return -1;
}

void daemon_spdk_poll(void)
{
}

void daemon_spdk_stop(void)
{
}
