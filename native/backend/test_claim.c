/*
 * The claim logic without the daemon: disk_add's claim parameters, routing
 * of watch event paths, the toolstack's mode and shutdown-request values,
 * and the search for a claimable directory against the simulated xenstored.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/bekeys.h"
#include "backend/claim.h"
#include "sim/xenstored/test_harness.h"

static int parse(const char *text, struct claim_spec *c, char *msg, size_t len)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	CHECK(j);
	int rc = claim_spec_parse(j, c, msg, len);
	json_decref(j);
	return rc;
}

static void bad(const char *text, const char *want)
{
	struct claim_spec c;
	char msg[256] = "";
	if (parse(text, &c, msg, sizeof(msg)) == 0 || !strstr(msg, want))
		th_fail(__FILE__, __LINE__, "%s: got \"%s\", want \"%s\"", text, msg, want);
}

static void test_parse(void)
{
	struct claim_spec c;
	char msg[256];
	CHECK(parse("{\"domid\": 7, \"value\": \"vdi-1\"}", &c, msg, sizeof(msg)) == 0);
	CHECK(c.domid == 7);
	CHECK_STR(c.value, "vdi-1");
	CHECK_STR(c.kind, "qdisk");
	CHECK_STR(c.key, "sm-data/xenblkd-disk");
	CHECK(parse("{\"domid\": 32752, \"value\": \"v\", \"kind\": \"vbd3\", \"key\": \"a/b-c_@d\"}", &c, msg,
		    sizeof(msg)) == 0);
	CHECK(c.domid == 32752);
	CHECK_STR(c.kind, "vbd3");
	CHECK_STR(c.key, "a/b-c_@d");

	bad("[]", "claim must be an object");
	bad("\"x\"", "claim must be an object");
	bad("{\"value\": \"v\"}", "claim.domid is required");
	bad("{\"domid\": 0, \"value\": \"v\"}", "claim.domid must be an integer from 1 to 32752");
	bad("{\"domid\": 32753, \"value\": \"v\"}", "claim.domid must be");
	bad("{\"domid\": -1, \"value\": \"v\"}", "claim.domid must be");
	bad("{\"domid\": 1.0, \"value\": \"v\"}", "claim.domid must be");
	bad("{\"domid\": true, \"value\": \"v\"}", "claim.domid must be");
	bad("{\"domid\": 1}", "claim.value is required");
	bad("{\"domid\": 1, \"value\": null}", "claim.value must be");
	bad("{\"domid\": 1, \"value\": \"\"}", "claim.value must be a non-empty string without '/'");
	bad("{\"domid\": 1, \"value\": \"a/b\"}", "claim.value must be");
	bad("{\"domid\": 1, \"value\": \"a\\u0000b\"}", "claim.value must be");
	bad("{\"domid\": 1, \"value\": \"v\", \"kind\": \"\"}", "claim.kind must be a word");
	bad("{\"domid\": 1, \"value\": \"v\", \"kind\": \"a/b\"}", "claim.kind must be a word");
	bad("{\"domid\": 1, \"value\": \"v\", \"kind\": 3}", "claim.kind must be a word");
	bad("{\"domid\": 1, \"value\": \"v\", \"kind\": \"0123456789012345678901234567890123\"}", "claim.kind must be");
	bad("{\"domid\": 1, \"value\": \"v\", \"key\": \"\"}", "claim.key must be a relative xenstore key");
	bad("{\"domid\": 1, \"value\": \"v\", \"key\": \"/a\"}", "claim.key must be");
	bad("{\"domid\": 1, \"value\": \"v\", \"key\": \"a//b\"}", "claim.key must be");
	bad("{\"domid\": 1, \"value\": \"v\", \"key\": \"a/\"}", "claim.key must be");
	bad("{\"domid\": 1, \"value\": \"v\", \"key\": \"a.b\"}", "claim.key must be");
	bad("{\"domid\": 1, \"value\": \"v\", \"other\": 1}", "claim.other is not a member of claim");
}

static void test_route(void)
{
	char kind[CLAIM_KIND_MAX];
	unsigned domid = 0;
	CHECK(claim_route("/local/domain/0/backend/qdisk", kind, sizeof(kind), &domid) == CLAIM_ROUTE_KIND);
	CHECK_STR(kind, "qdisk");
	CHECK(claim_route("/local/domain/0/backend/qdisk/12", kind, sizeof(kind), &domid) == CLAIM_ROUTE_DOMAIN);
	CHECK(domid == 12);
	CHECK(claim_route("/local/domain/0/backend/vbd3/7/51712/sm-data/x", kind, sizeof(kind), &domid) ==
	      CLAIM_ROUTE_DOMAIN);
	CHECK(domid == 7);
	CHECK_STR(kind, "vbd3");
	CHECK(claim_route("/local/domain/0/backend", kind, sizeof(kind), &domid) == CLAIM_ROUTE_NONE);
	CHECK(claim_route("/local/domain/0/backendx/qdisk/1", kind, sizeof(kind), &domid) == CLAIM_ROUTE_NONE);
	CHECK(claim_route("/local/domain/1/backend/qdisk/1", kind, sizeof(kind), &domid) == CLAIM_ROUTE_NONE);
	CHECK(claim_route("/local/domain/0/backend/qdisk/x", kind, sizeof(kind), &domid) == CLAIM_ROUTE_NONE);
	CHECK(claim_route("/local/domain/0/backend/qdisk/05", kind, sizeof(kind), &domid) == CLAIM_ROUTE_NONE);
	CHECK(claim_route("/local/domain/0/backend/qdisk/", kind, sizeof(kind), &domid) == CLAIM_ROUTE_NONE);
	CHECK(claim_route("/local/domain/0/backend/qdisk/99999", kind, sizeof(kind), &domid) == CLAIM_ROUTE_NONE);
	CHECK(claim_route("/local/domain/0/backend//1", kind, sizeof(kind), &domid) == CLAIM_ROUTE_NONE);
	char small[4];
	CHECK(claim_route("/local/domain/0/backend/qdisk/1", small, sizeof(small), &domid) == CLAIM_ROUTE_NONE);
}

static void test_bekeys(void)
{
	CHECK(bekeys_mode(NULL) == BE_MODE_W);
	CHECK(bekeys_mode("w") == BE_MODE_W);
	CHECK(bekeys_mode("r") == BE_MODE_R);
	CHECK(bekeys_mode("rw") == BE_MODE_BAD);
	CHECK(bekeys_mode("") == BE_MODE_BAD);
	CHECK(bekeys_mode("W") == BE_MODE_BAD);
	CHECK(bekeys_shutdown(NULL) == BE_SHUTDOWN_NONE);
	CHECK(bekeys_shutdown("normal") == BE_SHUTDOWN_NORMAL);
	CHECK(bekeys_shutdown("force") == BE_SHUTDOWN_FORCE);
	CHECK(bekeys_shutdown("") == BE_SHUTDOWN_BAD);
	CHECK(bekeys_shutdown("Normal") == BE_SHUTDOWN_BAD);
}

static const char *taken_path;

static bool taken(const char *backend, void *ctx)
{
	(void)ctx;
	return taken_path && strcmp(backend, taken_path) == 0;
}

/* A device as xenopsd writes it (the parts the search reads). */
static void device(struct xs_handle *h, unsigned domid, const char *devid, const char *value)
{
	char p[256], v[16];
	snprintf(v, sizeof(v), "%u", domid);
	snprintf(p, sizeof(p), CLAIM_ROOT "/qdisk/%u/%s/frontend-id", domid, devid);
	CHECK(th_write(h, XBT_NULL, p, v));
	snprintf(p, sizeof(p), CLAIM_ROOT "/qdisk/%u/%s/frontend", domid, devid);
	CHECK(th_write(h, XBT_NULL, p, "/local/domain/x/device/vbd/1"));
	snprintf(p, sizeof(p), CLAIM_ROOT "/qdisk/%u/%s/online", domid, devid);
	CHECK(th_write(h, XBT_NULL, p, "1"));
	snprintf(p, sizeof(p), CLAIM_ROOT "/qdisk/%u/%s/sm-data/xenblkd-disk", domid, devid);
	CHECK(th_write(h, XBT_NULL, p, value));
}

static const char *find(struct xs_handle *h, const struct claim_spec *c)
{
	static char path[256];
	return claim_find(h, c, taken, NULL, path, sizeof(path)) == 1 ? path : NULL;
}

static void test_find(void)
{
	th_start();
	struct xs_handle *h = th_open();
	struct claim_spec c = { .domid = 5, .kind = "qdisk", .key = "sm-data/xenblkd-disk", .value = "vdi" };
	CHECK(!find(h, &c)); /* nothing at all */
	device(h, 5, "51728", "other");
	device(h, 6, "51712", "vdi");
	CHECK(!find(h, &c)); /* another value; another domain */
	device(h, 5, "51744", "vdi");
	device(h, 5, "768", "vdi");
	CHECK_STR(find(h, &c), CLAIM_ROOT "/qdisk/5/768"); /* numeric order, not the names' */
	taken_path = CLAIM_ROOT "/qdisk/5/768";
	CHECK_STR(find(h, &c), CLAIM_ROOT "/qdisk/5/51744");
	/* Being unplugged, or refused before: skipped. */
	CHECK(th_write(h, XBT_NULL, CLAIM_ROOT "/qdisk/5/51744/online", "0"));
	CHECK(!find(h, &c));
	CHECK(th_write(h, XBT_NULL, CLAIM_ROOT "/qdisk/5/51744/online", "1"));
	CHECK(th_write(h, XBT_NULL, CLAIM_ROOT "/qdisk/5/51744/hotplug-error", "no"));
	CHECK(!find(h, &c));
	/* Not complete yet (no frontend-id): skipped, not refused. */
	device(h, 5, "51760", "vdi");
	CHECK(xs_rm(h, XBT_NULL, CLAIM_ROOT "/qdisk/5/51760/frontend-id"));
	CHECK(!find(h, &c));
	CHECK(!th_read(h, XBT_NULL, CLAIM_ROOT "/qdisk/5/51760/hotplug-error"));
	/* A frontend-id that is not the directory's domain: refused for good. */
	CHECK(th_write(h, XBT_NULL, CLAIM_ROOT "/qdisk/5/51760/frontend-id", "6"));
	CHECK(!find(h, &c));
	CHECK(th_read(h, XBT_NULL, CLAIM_ROOT "/qdisk/5/51760/hotplug-error"));
	/* Refusing a directory that is gone does not bring it back. */
	claim_refuse(h, CLAIM_ROOT "/qdisk/9/51712", "gone");
	CHECK(!th_read(h, XBT_NULL, CLAIM_ROOT "/qdisk/9"));
	/* Names that are not device ids are ignored. */
	CHECK(th_write(h, XBT_NULL, CLAIM_ROOT "/qdisk/5/x1/sm-data/xenblkd-disk", "vdi"));
	CHECK(!find(h, &c));
	taken_path = NULL;
	CHECK_STR(find(h, &c), CLAIM_ROOT "/qdisk/5/768");
	/* Another key. */
	struct claim_spec k = c;
	snprintf(k.key, sizeof(k.key), "params");
	CHECK(!find(h, &k));
	CHECK(th_write(h, XBT_NULL, CLAIM_ROOT "/qdisk/5/51728/params", "vdi"));
	CHECK_STR(find(h, &k), CLAIM_ROOT "/qdisk/5/51728");
	xs_close(h);
	th_stop();
}

int main(void)
{
	test_parse();
	test_route();
	test_bekeys();
	test_find();
	puts("test_claim: ok");
	return 0;
}
