// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The table of counters (include/counters.h): well formed, written whole and in order by the
 * JSON report, and the same keys as docs/json-schema.md lists (run from the source tree). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "account.h"
#include "report.h"
#include "util.h"
#include "check.h"


#define MAX_KEYS 64

static char *slurp(const char *path)
{
	char *buf;
	size_t len;

	return read_whole(path, SIZE_MAX, &buf, &len) ? NULL : buf;
}

/* The keys of the first '"events": {' object in text, in order: strings followed by ':'. */
static int events_keys(const char *text, char keys[MAX_KEYS][64], uint64_t *vals)
{
	const char *p = text ? strstr(text, "\"events\": {") : NULL, *end, *q;
	int n = 0;

	if (!p || !(end = strchr(p + 11, '}')))
		return -1;
	for (p += 11; (p = strchr(p, '"')) && p < end && n < MAX_KEYS; p = q + 1) {
		q = strchr(p + 1, '"');
		if (!q || q - p - 1 >= 64)
			return -1;
		if (q[1] != ':')
			continue;
		memcpy(keys[n], p + 1, q - p - 1);
		keys[n][q - p - 1] = 0;
		if (vals)
			vals[n] = strtoull(q + 2, NULL, 10);
		n++;
	}
	return n;
}

static void test_table(void)
{
	uint64_t c[TM_NR_ALL_COUNTERS], want = 0;
	int i, j;

	for (i = 0; i < TM_NR_ALL_COUNTERS; i++) {
		const struct counter_info *ci = &tm_counters[i];
		bool plain = ci->key && *ci->key;

		for (j = 0; plain && ci->key[j]; j++)
			plain = islower((unsigned char)ci->key[j]) || isdigit((unsigned char)ci->key[j]) ||
				ci->key[j] == '_';
		CHECK(plain && strcmp(ci->key, "dropped"), "counter %d: key %s is a plain JSON key", i, ci->key);
		CHECK(ci->wording && *ci->wording && !strpbrk(ci->wording, "\"\\<>&"),
		      "counter %d: wording needs no escaping", i);
		CHECK(ci->meaning && *ci->meaning, "counter %d: has a meaning", i);
		for (j = 0; j < i && strcmp(ci->key, tm_counters[j].key) &&
			    strcmp(ci->wording, tm_counters[j].wording); j++)
			;
		CHECK(j == i, "counter %s: key and wording not those of %s", ci->key, tm_counters[j].key);
		/* a ring-buffer record is lost in the kernel */
		CHECK(ci->show != CNT_DROP || i < TM_NR_COUNTERS, "counter %s: a DROP row is a kernel row", ci->key);
		c[i] = 1ull << i;
		if (ci->show == CNT_DROP)
			want += c[i];
	}
	CHECK(want && counters__dropped(c) == want, "dropped is the sum of the DROP rows");
}

/* The JSON's "events" is the table in order, with "dropped" before the DROP rows; the schema
 * document lists the same keys in the same order. */
static void test_json_and_docs(void)
{
	static char got[MAX_KEYS][64], doc[MAX_KEYS][64], want[MAX_KEYS][64];
	uint64_t vals[MAX_KEYS];
	char path[] = "/tmp/tm-test-counters-XXXXXX", *text, *argv[] = { "true", NULL };
	struct report_info ri = { .argv = argv, .argc = 1, .exit_desc = "exited with 0", .top = 5 };
	struct account *a = account__new(&(struct account_opts){ .interval_ns = 10000000 });
	int fd = mkstemp(path), ng, nd, nw = 0, i, id;
	uint64_t sum = 0;
	bool ok, dropped;

	for (i = 0, dropped = false; i < TM_NR_ALL_COUNTERS; i++) {
		if (tm_counters[i].show == CNT_DROP && !dropped) {
			strcpy(want[nw++], "dropped");
			dropped = true;
		}
		strcpy(want[nw++], tm_counters[i].key);
	}
	for (i = 0; i < TM_NR_COUNTERS; i++) {
		ri.counters[i] = 1000 + i;
		if (tm_counters[i].show == CNT_DROP)
			sum += ri.counters[i];
	}

	CHECK(fd >= 0, "temporary file");
	if (fd < 0)
		return;
	close(fd);
	CHECK(!report__json(path, a, &ri), "report__json wrote %s", path);
	text = slurp(path);
	ng = events_keys(text, got, vals);
	ok = ng == nw;
	for (i = 0; ok && i < nw; i++)
		ok = !strcmp(got[i], want[i]);
	CHECK(ok, "the JSON's events: %d keys, the table's %d, in the same order", ng, nw);
	for (i = 0, ok = ng > 0; ok && i < ng; i++) {
		for (id = 0; id < TM_NR_ALL_COUNTERS && strcmp(got[i], tm_counters[id].key); id++)
			;
		if (!strcmp(got[i], "dropped"))
			ok = vals[i] == sum;
		else if (id < TM_NR_COUNTERS)
			ok = vals[i] == ri.counters[id];
	}
	CHECK(ok, "the JSON's kernel counters carry their values");
	free(text);
	unlink(path);
	account__free(a);

	text = slurp("docs/json-schema.md");
	CHECK(text, "docs/json-schema.md readable (run from the source tree)");
	nd = events_keys(text, doc, NULL);
	ok = nd == nw;
	for (i = 0; ok && i < nw; i++)
		ok = !strcmp(doc[i], want[i]);
	CHECK(ok, "docs/json-schema.md lists the table's %d keys in order (it lists %d)", nw, nd);
	for (i = 0; !ok && i < nw; i++) {
		int j;

		for (j = 0; j < nd && strcmp(doc[j], want[i]); j++)
			;
		if (j == nd)
			printf("  not in docs/json-schema.md: %s\n", want[i]);
	}
	free(text);
}

int main(void)
{
	test_table();
	test_json_and_docs();
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
