// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdlib.h>
#include <string.h>
#include "strtab.h"
#include "hashmap.h"
#include "util.h"

static struct hashmap *tab; /* fnv64(s) (+probe) -> char * */

static uint64_t fnv64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ull;
	return h;
}

const char *intern(const char *s)
{
	uint64_t h = fnv64(s), *v;
	bool created;

	if (!tab)
		tab = hashmap__new();
	for (;; h++) {
		v = hashmap__upsert(tab, h, &created);
		if (created) {
			*v = (uint64_t)(uintptr_t)xstrdup(s);
			return (const char *)(uintptr_t)*v;
		}
		if (!strcmp((const char *)(uintptr_t)*v, s))
			return (const char *)(uintptr_t)*v;
	}
}

void strtab__free(void)
{
	size_t pos = 0;
	uint64_t k, v;

	if (!tab)
		return;
	while (hashmap__next(tab, &pos, &k, &v))
		free((void *)(uintptr_t)v);
	hashmap__free(tab);
	tab = NULL;
}
