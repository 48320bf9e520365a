/*
 * meta_read and meta_write: the control socket's access to a metadata record
 * kept on a volume of its own (meta_slots.h), which the SPDK store uses for
 * the names an lvol store cannot hold. The volume is opened for the call
 * only, through the same engines as disks (`spdk` with its bdev name, or
 * `uring` with a file or device).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/params.h"
#include "control/rpc.h"
#include "daemon/daemon.h"
#include "daemon/meta_slots.h"

static struct engine *open_volume(json_t *params, int *code, char *msg, size_t msglen)
{
	const char *engine = params_get_string(params, "engine"), *path = params_get_string(params, "path");
	json_t *flush_nvme = json_object_get(params, "flush_nvme");
	*code = RPC_INVALID_PARAMS;
	if (!engine)
		engine = "uring";
	if (strcmp(engine, "spdk") != 0 && strcmp(engine, "uring") != 0) {
		snprintf(msg, msglen, "engine must be spdk or uring");
		return NULL;
	}
	if (!path || !path[0]) {
		snprintf(msg, msglen, "path (the metadata volume: a bdev name for spdk, a file or device for uring) is required");
		return NULL;
	}
	if (flush_nvme && (!json_is_string(flush_nvme) || strcmp(engine, "spdk") != 0)) {
		snprintf(msg, msglen, "flush_nvme must name an NVMe namespace bdev, with the spdk engine");
		return NULL;
	}
	const char *why = NULL;
	struct engine_options eo = { .path = path, .flush_nvme = flush_nvme ? json_string_value(flush_nvme) : NULL };
	struct engine *e = engine_open(engine, &eo, &why);
	if (!e) {
		*code = RPC_SERVER_ERROR;
		snprintf(msg, msglen, "cannot open the metadata volume %s: %s", path, why ? why : "unknown error");
	}
	return e;
}

json_t *daemon_meta_rpc(const char *method, json_t *params, int *code, char *msg, size_t msglen)
{
	static const char *const known[] = { "engine", "path", "flush_nvme", "data", NULL };
	const char *unknown = params_unknown_member(params, known);
	if (unknown) {
		*code = RPC_INVALID_PARAMS;
		snprintf(msg, msglen, "unknown parameter %s", unknown);
		return NULL;
	}
	bool writing = strcmp(method, "meta_write") == 0;
	json_t *data = json_object_get(params, "data");
	if (writing != (data != NULL) || (data && !json_is_string(data))) {
		*code = RPC_INVALID_PARAMS;
		snprintf(msg, msglen, writing ? "data (a string) is required" : "meta_read takes no data");
		return NULL;
	}
	struct engine *e = open_volume(params, code, msg, msglen);
	if (!e)
		return NULL;
	json_t *result = NULL;
	uint64_t generation = 0;
	*code = RPC_SERVER_ERROR;
	if (writing) {
		if (meta_write(e, daemon_spdk_poll, json_string_value(data), json_string_length(data), &generation, msg,
			       msglen) == 0)
			result = json_pack("{s:I}", "generation", (json_int_t)generation);
	} else {
		char *text;
		size_t len;
		if (meta_read(e, daemon_spdk_poll, &generation, &text, &len, msg, msglen) == 0) {
			/* Bytes the volume held: returned only if they are the text a meta_write could have stored. */
			json_t *s = !text ? json_null() : strlen(text) == len ? json_stringn(text, len) : NULL; /* UTF-8 checked */
			if (s)
				result = json_pack("{s:I, s:o}", "generation", (json_int_t)generation, "data", s);
			else
				snprintf(msg, msglen, "the metadata volume holds no text");
			free(text);
		}
	}
	e->ops->close(e);
	return result;
}
