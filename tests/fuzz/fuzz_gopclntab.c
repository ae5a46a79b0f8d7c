// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer harness: user/gopclntab.c's reader of a Go binary's .gopclntab (the traced program's
 * own file). Every name it hands out must lie inside the input and be NUL-terminated there. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "gopclntab.h"

struct span {
	const uint8_t *data;
	size_t size;
	int n;
};

static void add(void *ctx, uint64_t addr, uint64_t size, const char *name)
{
	struct span *s = ctx;
	const uint8_t *p = (const uint8_t *)name;

	if (p < s->data || p >= s->data + s->size || !memchr(p, 0, s->data + s->size - p))
		__builtin_trap();
	s->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a heap copy of exactly size bytes, so ASan sees any read past the section */
	uint8_t *copy = malloc(size ? size : 1);
	struct span s = { copy, size, 0 };
	int n;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	n = gopclntab__parse(copy, size, 0x401000, add, &s);
	if (n != (n < 0 ? -1 : s.n))
		__builtin_trap();
	free(copy);
	return 0;
}
