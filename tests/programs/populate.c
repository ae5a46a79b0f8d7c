// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* 64 MiB brought in by mmap itself (MAP_POPULATE), held, then unmapped: its growth comes inside
 * the syscall, before the mapping's address is known to a tracer. Mode "hint": no address
 * asked; "fixed": over a PROT_NONE reservation, with MAP_FIXED. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t len = 64 << 20;
	int fixed = argc > 1 && !strcmp(argv[1], "fixed");
	void *at = NULL, *p;

	if (fixed) {
		at = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (at == MAP_FAILED)
			return 1;
	}
	p = mmap(at, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | (fixed ? MAP_FIXED : 0), -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	usleep(300000);
	munmap(p, len);
	usleep(100000);
	return 0;
}
