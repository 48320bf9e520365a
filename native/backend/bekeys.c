/* Strict parsing of the toolstack's backend keys (see bekeys.h). */
#include "backend/bekeys.h"

#include <string.h>

enum be_mode bekeys_mode(const char *s)
{
	if (!s || strcmp(s, "w") == 0)
		return BE_MODE_W;
	return strcmp(s, "r") == 0 ? BE_MODE_R : BE_MODE_BAD;
}

enum be_shutdown bekeys_shutdown(const char *s)
{
	if (!s)
		return BE_SHUTDOWN_NONE;
	if (strcmp(s, "normal") == 0)
		return BE_SHUTDOWN_NORMAL;
	return strcmp(s, "force") == 0 ? BE_SHUTDOWN_FORCE : BE_SHUTDOWN_BAD;
}
