/* Path rules (see path.h). */
#include "path.h"

#include <string.h>
#include <xenstore_lib.h>

#include "util.h"

#define LOCAL_DOMAIN "/local/domain/"

static bool valid_chars(const char *p)
{
    return strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "abcdefghijklmnopqrstuvwxyz"
                     "0123456789-/_@") == strlen(p);
}

/* Length of a "/local/domain/<1-5 digits>/" prefix, else 0: the path
 * length limit applies past it, as in xenstored. */
static size_t domain_prefix_len(const char *p)
{
    size_t off = strlen(LOCAL_DOMAIN), digits = 0;

    if (strncmp(p, LOCAL_DOMAIN, off) != 0)
        return 0;
    while (digits < 5 && p[off + digits] >= '0' && p[off + digits] <= '9')
        digits++;
    if (!digits || p[off + digits] != '/')
        return 0;
    return off + digits + 1;
}

bool path_valid(const char *path)
{
    size_t len = strlen(path);

    if (path[0] != '/')
        return false;
    if (len > 1 && path[len - 1] == '/')
        return false;
    if (strstr(path, "//"))
        return false;
    if (len > domain_prefix_len(path) + XENSTORE_REL_PATH_MAX)
        return false;
    return valid_chars(path);
}

char *path_home(unsigned domid)
{
    return xasprintf(LOCAL_DOMAIN "%u", domid);
}

char *path_canonical(const char *path, unsigned domid)
{
    if (path[0] == '/' || path[0] == '@')
        return xstrdup(path);
    return xasprintf(LOCAL_DOMAIN "%u/%s", domid, path);
}

char *path_parent(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (!slash || slash == path)
        return xstrdup("/");
    return xstrndup(path, (size_t)(slash - path));
}

char *path_join(const char *dir, const char *name)
{
    if (strcmp(dir, "/") == 0)
        return xasprintf("/%s", name);
    return xasprintf("%s/%s", dir, name);
}

bool path_is_child(const char *child, const char *parent)
{
    size_t len = strlen(parent);

    if (strcmp(parent, "/") == 0)
        return true;
    if (strncmp(child, parent, len) != 0)
        return false;
    return child[len] == '/' || child[len] == '\0';
}

unsigned path_depth(const char *path)
{
    unsigned d = 0;

    if (strcmp(path, "/") == 0)
        return 0;
    for (; *path; path++)
        if (*path == '/')
            d++;
    return d;
}
