/* Path rules of xenstore: what a valid node name is, how relative paths
 * resolve against a domain's home, and how watches match paths. */
#ifndef XSD_PATH_H
#define XSD_PATH_H

#include <stdbool.h>

/* xenstored's is_valid_nodename: absolute, no "//", no trailing '/', only
 * [A-Za-z0-9-/_@], and at most XENSTORE_REL_PATH_MAX bytes past
 * "/local/domain/<id>/". */
bool path_valid(const char *path);

/* "/local/domain/<domid>": where a domain's relative paths live. */
char *path_home(unsigned domid);

/* Absolute and "@special" paths unchanged, others prefixed with the home of
 * domid. Always a new string. */
char *path_canonical(const char *path, unsigned domid);

/* Parent of a valid absolute path other than "/" (a new string). */
char *path_parent(const char *path);

/* "dir/name", or "/name" when dir is the root (a new string). */
char *path_join(const char *dir, const char *name);

/* Watch matching: child equals parent or lies below it; "/" holds all. */
bool path_is_child(const char *child, const char *parent);

/* Depth of a valid absolute path: "/" is 0, "/a" is 1. */
unsigned path_depth(const char *path);

#endif
