// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int label_id(enum tm_cat cat, const char *name)
{
	size_t i;

	name = intern(name);
	for (i = 0; i < nlabels; i++) /* a few dozen labels: a scan is fine */
		if (labels[i].cat == cat && labels[i].name == name)
			return (int)i;
	GROW(labels, labelcap, nlabels + 1);
	labels[nlabels] = (struct label){ cat, name };
	return (int)nlabels++;
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
	nlabels = labelcap = 0;
}
