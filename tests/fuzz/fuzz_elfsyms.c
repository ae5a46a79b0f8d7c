// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer harness: user/elfsyms.c (libelf symbol tables and PT_LOAD segments) on an arbitrary
 * file, as a traced program can exec or map any file it wrote. The input is written to a file
 * (input_file.h) and read through the public API, then looked up at a few offsets. */
#include <string.h>
#include "elfsyms.h"
#include "input_file.h"
#include "strtab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = input_file(data, size);
	const struct elf_syms *es;
	uint64_t offs[8] = { 0, 0x40, 0x1000, 0x1040, 0x2000 }, sym_off;
	size_t i;

	if (!path)
		return 0;
	es = elfsyms__get(path);
	/* the last bytes of the input pick more offsets, so that lookups follow the mutations */
	for (i = 5; i < 8 && size >= 8 * (i - 4); i++)
		memcpy(&offs[i], data + size - 8 * (i - 4), 8);
	if (es) {
		for (i = 0; i < 8; i++) {
			const char *name = elfsyms__lookup(es, offs[i], &sym_off);

			if (name && !name[0])
				__builtin_trap(); /* empty names are never stored */
		}
		elfsyms__is_go(es);
		elfsyms__count(es);
	}
	/* the cache is by path: drop it so that the next input is read afresh */
	elfsyms__free_all();
	strtab__free();
	return 0;
}
