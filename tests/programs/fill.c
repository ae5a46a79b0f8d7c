// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fill: one anonymous mapping, written page by page (issue 21's cases for the tool's memory).
 *   fill MIB [PERCENT]
 * Maps MIB MiB without huge pages (MADV_NOHUGEPAGE) and writes one byte to every page in
 * address order; with PERCENT, to that share of its pages chosen at random, in random order
 * (few pages are adjacent: the worst case for records of runs). Then prints "fill: PAGES pages"
 * and exits.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#define PAGE 4096ul

/* noinline: one frame for every page's stack */
static __attribute__((noinline)) void touch(volatile char *p)
{
	*p = 1;
}

int main(int argc, char **argv)
{
	unsigned long mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 0, pages = mib << 8, n = 0, i;
	int percent = argc > 2 ? atoi(argv[2]) : 0;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	uint32_t *order;
	char *p;

	if (!mib || percent < 0 || percent > 100) {
		fprintf(stderr, "usage: fill MIB [PERCENT]\n");
		return 2;
	}
	p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || madvise(p, pages * PAGE, MADV_NOHUGEPAGE)) {
		perror("fill: mmap");
		return 1;
	}
	if (!percent) {
		for (i = 0; i < pages; i++)
			touch(p + i * PAGE);
		n = pages;
	} else {
		/* a random permutation of the pages (xorshift, Fisher-Yates), its first share taken */
		order = malloc(pages * sizeof(*order));
		if (!order)
			return 1;
		for (i = 0; i < pages; i++)
			order[i] = (uint32_t)i;
		for (i = pages - 1; i > 0; i--) {
			unsigned long j;
			uint32_t t;

			seed ^= seed << 13;
			seed ^= seed >> 7;
			seed ^= seed << 17;
			j = seed % (i + 1);
			t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		n = pages * percent / 100;
		for (i = 0; i < n; i++)
			touch(p + (unsigned long)order[i] * PAGE);
		free(order);
	}
	printf("fill: %lu pages\n", n);
	return 0;
}
