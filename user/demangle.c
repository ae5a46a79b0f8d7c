// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdlib.h>
#include <libiberty/demangle.h>
#include "demangle.h"
#include "hashmap.h"
#include "strtab.h"

static struct hashmap *cache; /* interned mangled -> interned demangled */

const char *demangle(const char *sym)
{
	uint64_t *slot;
	bool created;
	char *d;

	/* _Z: Itanium C++ and Rust legacy; _R: Rust v0 */
	if (!sym || sym[0] != '_' || (sym[1] != 'Z' && sym[1] != 'R'))
		return sym;
	if (!cache)
		cache = hashmap__new();
	slot = hashmap__upsert(cache, (uint64_t)(uintptr_t)sym, &created);
	if (!created)
		return (const char *)(uintptr_t)*slot;
	d = cplus_demangle(sym, DMGL_AUTO);
	*slot = (uint64_t)(uintptr_t)(d ? intern(d) : sym);
	free(d);
	return (const char *)(uintptr_t)*slot;
}

void demangle__free(void)
{
	hashmap__free(cache);
	cache = NULL;
}
