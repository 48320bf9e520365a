/* Checking a JSON-RPC parameter object against the members a method knows. */
#ifndef CONTROL_PARAMS_H
#define CONTROL_PARAMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
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

/* An integer member from 0 to max; absent keeps *out. False with a message if it is not one. */
static inline bool params_get_uint(json_t *params, const char *key, unsigned long max, unsigned long *out, char *msg,
				   size_t msglen)
{
	json_t *v = json_object_get(params, key);
	if (!v)
		return true; /* keep the default */
	if (!json_is_integer(v) || json_integer_value(v) < 0 || (unsigned long long)json_integer_value(v) > max) {
		snprintf(msg, msglen, "%s must be an integer from 0 to %lu", key, max);
		return false;
	}
	*out = (unsigned long)json_integer_value(v);
	return true;
}

/* A boolean member; absent keeps *out. False with a message if it is not one. */
static inline bool params_get_bool(json_t *params, const char *key, bool *out, char *msg, size_t msglen)
{
	json_t *v = json_object_get(params, key);
	if (!v)
		return true;
	if (!json_is_boolean(v)) {
		snprintf(msg, msglen, "%s must be true or false", key);
		return false;
	}
	*out = json_is_true(v);
	return true;
}

/* A string member, or NULL if absent or not a string. */
static inline const char *params_get_string(json_t *params, const char *key)
{
	json_t *v = json_object_get(params, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

#endif
