// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer harness: user/demangle.c, C++ and Rust symbol names (from ELF files and perf maps a
 * traced program controls) through libiberty's demangler: a hostile name must not crash or hang
 * the tool (deep nesting, huge repeats). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "demangle.h"
#include "strtab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *sym = malloc(size + 1);
	const char *d;

	if (!sym)
		return 0;
	memcpy(sym, data, size);
	sym[size] = 0;
	d = demangle(intern(sym));
	if (!d || d != intern(d))
		__builtin_trap(); /* always an interned name */
	demangle(intern(sym)); /* the cached answer */
	free(sym);
	demangle__free();
	strtab__free();
	return 0;
}
