// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer harness: user/elfsyms.c (libelf symbol tables and PT_LOAD segments) on an arbitrary
 * file, as a traced program can exec or map any file it wrote. The input is written to a file in
 * a private temporary directory (where its .gnu_debuglink finds nothing) and read through the
 * public API, then looked up at a few offsets. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "elfsyms.h"
#include "strtab.h"

static char dir[] = "/tmp/fuzz-elfsyms.XXXXXX", path[64];

static void cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	const struct elf_syms *es;
	uint64_t offs[8] = { 0, 0x40, 0x1000, 0x1040, 0x2000 }, sym_off;
	size_t i;

	if (fd < 0) {
		if (!mkdtemp(dir))
			abort();
		snprintf(path, sizeof(path), "%s/input", dir);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			abort();
		atexit(cleanup);
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
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
