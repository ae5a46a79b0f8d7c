// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hashmap.h"
#include "labels.h"
#include "strtab.h"
#include "util.h"

const char *const cat_names[NR_CATS] = { "stack", "heap", "runtime", "file", "shared", "other" };

int64_t categories_with_unattributed(const int64_t cat[NR_CATS], int64_t kernel, int64_t out[NR_CATS])
{
	int64_t sum = 0;
	int c;

	for (c = 0; c < NR_CATS; c++) {
		out[c] = cat[c];
		sum += cat[c];
	}
	out[CAT_OTHER] += kernel - sum;
	return kernel - sum;
}

static struct label *labels;
static size_t nlabels, labelcap;
/* interned name << 3 | cat -> id + 1: a label per mapped file makes tens of thousands, looked
 * up at every event (a scan of 60k took 92 s of CPU for 2M faults) */
static struct hashmap *ids;

int label_id(enum tm_cat cat, const char *name)
{
	uint64_t *slot;
	bool created;

	_Static_assert(NR_CATS <= 8, "a category fits in 3 bits of the key");
	name = intern(name);
	if (!ids)
		ids = hashmap__new();
	slot = hashmap__upsert(ids, (uint64_t)(uintptr_t)name << 3 | (uint64_t)cat, &created);
	if (!created)
		return (int)(*slot - 1);
	GROW(labels, labelcap, nlabels + 1);
	labels[nlabels] = (struct label){ cat, name };
	*slot = ++nlabels;
	return (int)nlabels - 1;
}

const struct label *label_get(int id)
{
	return &labels[id];
}

/* name up to " (deleted)", at most 40 characters: labels are few by design */
static int shared_named(const char *kind, const char *name)
{
	char buf[64];
	const char *del = strstr(name, " (deleted)");
	int len = del ? (int)(del - name) : (int)strlen(name);

	snprintf(buf, sizeof(buf), "%s:%.*s", kind, len > 40 ? 40 : len, name);
	return label_id(CAT_SHARED, buf);
}

int shared_label(const char *path)
{
	if (!path || !path[0])
		return label_id(CAT_SHARED, "unknown");
	if (!strncmp(path, "/SYSV", 5))
		return label_id(CAT_SHARED, "sysv");
	if (!strncmp(path, "/dev/zero", 9))
		return label_id(CAT_SHARED, "anon");
	if (!strncmp(path, "/memfd:", 7))
		return shared_named("memfd", path + 7);
	if (!strncmp(path, "/dev/shm/", 9))
		return shared_named("posix", path + 9);
	return label_id(CAT_SHARED, "tmpfs");
}

void labels__free(void)
{
	free(labels);
	labels = NULL;
	hashmap__free(ids);
	ids = NULL;
	nlabels = labelcap = 0;
}
