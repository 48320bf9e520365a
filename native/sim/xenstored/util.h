/* Small helpers shared by the simulated xenstored: allocation that cannot
 * fail (a simulator has no better answer to OOM than stopping loudly) and
 * logging to stderr. */
#ifndef XSD_UTIL_H
#define XSD_UTIL_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void xsd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
