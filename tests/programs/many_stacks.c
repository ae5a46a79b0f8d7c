// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* many_stacks LEVELS SECONDS: 4^LEVELS distinct call chains known by construction, for the HTML
 * report at scale. Leaf i is reached through main -> walk -> fD -> walk -> fD ... where the Ds are
 * i's base-4 digits, and faults in page i of one anonymous mapping. The leaves run one after the
 * other over the first 3/4 of SECONDS (the timeline rises at every sample), then the pages are
 * given back one by one over the rest (so the peak is inside the run, not at its end).
 * Built at -O0 with frame pointers and without sibling calls, so every call keeps its frame. */
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

static char *mem;
static long npages;

NOINLINE static void walk(int level, unsigned long i, unsigned long digits);
NOINLINE static void touch(unsigned long i) { mem[i * 4096] = 1; __asm__ volatile("" ::: "memory"); }
NOINLINE static void f0(int level, unsigned long i, unsigned long d) { walk(level, i, d); }
NOINLINE static void f1(int level, unsigned long i, unsigned long d) { walk(level, i, d); }
NOINLINE static void f2(int level, unsigned long i, unsigned long d) { walk(level, i, d); }
NOINLINE static void f3(int level, unsigned long i, unsigned long d) { walk(level, i, d); }

NOINLINE static void walk(int level, unsigned long i, unsigned long d)
{
	static void (*const f[4])(int, unsigned long, unsigned long) = { f0, f1, f2, f3 };

	if (!level) {
		touch(i);
		return;
	}
	f[d & 3](level - 1, i, d >> 2);
}

static void pause_until(const struct timespec *t0, double at)
{
	struct timespec t = { t0->tv_sec + (time_t)at, t0->tv_nsec + (long)((at - (time_t)at) * 1e9) };

	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL))
		;
}

int main(int argc, char **argv)
{
	int levels = argc > 1 ? atoi(argv[1]) : 7;
	double secs = argc > 2 ? atof(argv[2]) : 10, up = secs * 3 / 4;
	struct timespec t0;
	long i;

	if (levels < 1 || levels > 12 || secs <= 0)
		return 2;
	npages = 1L << (2 * levels);
	mem = mmap(NULL, npages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < npages; i++) {
		walk(levels, i, i);
		pause_until(&t0, up * (i + 1) / npages);
	}
	for (i = npages - 1; i >= 0; i--) {
		madvise(mem + i * 4096, 4096, MADV_DONTNEED);
		pause_until(&t0, up + (secs - up) * (npages - i) / npages);
	}
	return 0;
}
