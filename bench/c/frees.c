// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * c_frees: every way a process gives pages back, with a pause after each step so that the
 * timeline shows it: raw mmap 32 MiB -> mremap shrink to 16 -> madvise(DONTNEED) 8 ->
 * mremap move of the 16 MiB mapping -> munmap of the moved mapping; then sbrk +8 MiB -> sbrk -4.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB (1ul << 20)

static void touch(char *p, size_t len)
{
	for (size_t i = 0; i < len; i += 4096)
		p[i] = 1;
}

static void pause_ms(void)
{
	usleep(150 * 1000);
}

int main(void)
{
	char *p = mmap(NULL, 32 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *q, *b;

	if (p == MAP_FAILED)
		return 1;
	touch(p, 32 * MIB);
	pause_ms();
	if (mremap(p, 32 * MIB, 16 * MIB, 0) != p)
		return 1;
	pause_ms();
	madvise(p, 8 * MIB, MADV_DONTNEED);
	pause_ms();
	q = mremap(p, 16 * MIB, 16 * MIB, MREMAP_MAYMOVE | MREMAP_FIXED, p + 64 * MIB);
	if (q == MAP_FAILED)
		return 1;
	pause_ms();
	munmap(q, 16 * MIB);
	pause_ms();
	b = sbrk(8 * MIB);
	if (b == (void *)-1)
		return 1;
	touch(b, 8 * MIB);
	pause_ms();
	sbrk(-(long)(4 * MIB));
	pause_ms();
	return 0;
}
