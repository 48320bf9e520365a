/* Permission strings ("n0", "r5", "w5", "b5") and the access rule of
 * xenstored's perm_for_conn: the first entry names the owner and gives the
 * default for everyone else; a later entry for the domain overrides it. */
#ifndef XSD_PERMS_H
#define XSD_PERMS_H

#include <stdbool.h>
#include <stddef.h>

#include "store.h"

/* Parses num NUL-terminated strings starting at s (bounded by end). */
bool perms_parse(const char *s, const char *end, unsigned num, struct perms *out);

/* Formats as "n0\0r5\0" into a new buffer; *len gets its size. */
char *perms_format(const struct perms *p, size_t *len);

/* Which of XS_PERM_READ|XS_PERM_WRITE|XS_PERM_OWNER domid has. The
 * privileged domain has all; target (or -1) is a domain whose rights domid
 * shares (XS_SET_TARGET). */
unsigned perms_access(const struct perms *p, unsigned domid, bool privileged,
                      long target);

/* Drops the entries naming domid; an owner domid becomes 0 (a released
 * domain must not keep rights on the special watch paths). */
void perms_forget_domain(struct perms *p, unsigned domid);

#endif
