/* Checking a JSON-RPC parameter object against the members a method knows. */
#ifndef CONTROL_PARAMS_H
#define CONTROL_PARAMS_H

#include <jansson.h>
#include <string.h>

/* The first member of `obj` not in the NULL-terminated `known`, or NULL if there is none. */
static inline const char *params_unknown_member(json_t *obj, const char *const *known)
{
	const char *member;
	json_t *val;
	json_object_foreach(obj, member, val) {
		(void)val;
		int found = 0;
		for (int i = 0; known[i] && !found; i++)
			found = strcmp(member, known[i]) == 0;
		if (!found)
			return member;
	}
	return NULL;
}

#endif
