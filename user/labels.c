// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdlib.h>
#include "labels.h"
#include "strtab.h"
#include "util.h"

const char *const cat_names[NR_CATS] = { "stack", "heap", "runtime", "file", "other" };

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

void labels__free(void)
{
	free(labels);
	labels = NULL;
	nlabels = labelcap = 0;
}
