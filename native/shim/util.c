/* Helpers shared by the shim's files. */
#include "shim/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

void shim_say(char *err, int err_len, const char *fmt, ...)
{
	if (!err || err_len <= 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, (size_t)err_len, fmt, ap);
	va_end(ap);
}

long long shim_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
