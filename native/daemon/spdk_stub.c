/* Plain xenblkd has no SPDK: --spdk-config is refused with a clear message (daemon/spdk.c in xenblkd-spdk). */
#include "daemon/daemon.h"

#include <stdio.h>

int daemon_spdk_start(const struct daemon_spdk_options *o, char *err, size_t errlen)
{
	(void)o;
	snprintf(err, errlen, "--spdk-config: this xenblkd has no SPDK; xenblkd-spdk has (docs/spdk.md)");
	return -1;
}

void daemon_spdk_poll(void)
{
}

void daemon_spdk_stop(void)
{
}

int daemon_spdk_timeout_ms(void)
{
	return -1;
}

json_t *daemon_spdk_stats(void)
{
	return json_pack("{s:[]}", "reactors");
}
