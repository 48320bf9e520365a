/*
 * Values the toolstack writes in a backend directory that change how we
 * serve it, parsed strictly (reference blkif.md 2.2, 2.8).
 */
#ifndef BACKEND_BEKEYS_H
#define BACKEND_BEKEYS_H

enum be_mode { BE_MODE_W, BE_MODE_R, BE_MODE_BAD };
enum be_shutdown { BE_SHUTDOWN_NONE, BE_SHUTDOWN_NORMAL, BE_SHUTDOWN_FORCE, BE_SHUTDOWN_BAD };

/* `mode`: NULL (absent) or "w" is read-write, "r" read-only, anything else BAD. */
enum be_mode bekeys_mode(const char *s);
/* `shutdown-request`: NULL (absent) is NONE, "normal", "force", anything else BAD. */
enum be_shutdown bekeys_shutdown(const char *s);

#endif
