/* Payload parsing (see req.h). */
#include "req.h"

#include <string.h>

const char *req_onearg(const struct req *r)
{
    const char *nul;

    if (!r->len)
        return NULL;
    nul = memchr(r->data, '\0', r->len);
    return nul == r->data + r->len - 1 ? r->data : NULL;
}

unsigned req_strings(const struct req *r, const char **vec, unsigned max)
{
    unsigned off = 0, n = 0;

    while (off < r->len) {
        const char *nul = memchr(r->data + off, '\0', r->len - off);

        if (!nul)
            break;
        if (n < max)
            vec[n] = r->data + off;
        n++;
        off = (unsigned)(nul - r->data) + 1;
    }
    return n;
}

unsigned req_nuls(const struct req *r)
{
    unsigned i, n = 0;

    for (i = 0; i < r->len; i++)
        if (r->data[i] == '\0')
            n++;
    return n;
}
