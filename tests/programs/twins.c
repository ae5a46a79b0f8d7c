// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* twins MIB DEPTH: two call chains that differ only DEPTH + 2 frames above the faulting code.
 * main faults in MIB MiB a page at a time, two pages of three through twin_a() and one through
 * twin_b(): twin_a -> middle -> ... (DEPTH + 1 middles) -> touch, and twin_b the same. The twins
 * are built alike, so touch() faults with the same instruction pointer, stack pointer and frame
 * pointer from both, and the words of its frame and the middles' frames are the same too: only
 * the return address into twin_a or twin_b differs. A walk that took its answer from the last
 * one on less than every word it reads would credit twin_b's pages to twin_a.
 * Built at -O0 with frame pointers and without sibling calls, or without frame pointers (walked
 * by unwind tables). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#define NOINLINE __attribute__((noinline))

static char *mem;

NOINLINE static void touch(size_t page)
{
	mem[page * 4096] = 1;
	__asm__ volatile("" ::: "memory");
}

NOINLINE static void middle(int d, size_t page)
{
	if (d)
		middle(d - 1, page);
	else
		touch(page);
	__asm__ volatile("" ::: "memory"); /* no tail call */
}

NOINLINE void twin_a(int depth, size_t page)
{
	middle(depth, page);
	__asm__ volatile("" ::: "memory");
}

NOINLINE void twin_b(int depth, size_t page)
{
	middle(depth, page);
	__asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	size_t pages, i;
	int depth;

	if (argc != 3) {
		fprintf(stderr, "usage: twins MIB DEPTH\n");
		return 2;
	}
	pages = strtoul(argv[1], NULL, 10) << 8;
	depth = atoi(argv[2]);
	mem = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	madvise(mem, pages * 4096, MADV_NOHUGEPAGE); /* a fault a page, whatever THP's mode */
	for (i = 0; i < pages; i++) {
		if (i % 3 == 2)
			twin_b(depth, i);
		else
			twin_a(depth, i);
	}
	printf("twins: %zu pages, %zu under twin_b\n", pages, pages / 3);
	return 0;
}
