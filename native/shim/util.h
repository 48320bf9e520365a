/* Helpers shared by the shim's files; not part of the library's surface. */
#ifndef SHIM_UTIL_H
#define SHIM_UTIL_H

#define SHIM_INTERNAL __attribute__((visibility("hidden")))

/* Formats a message into the caller's buffer (NUL-terminated, may be NULL). */
SHIM_INTERNAL void shim_say(char *err, int err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* CLOCK_MONOTONIC in milliseconds. */
SHIM_INTERNAL long long shim_now_ms(void);

#endif
