// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* A process that waits for its library's unwind table (test_hostile.py test_unwind_worker_waiting):
 *   unwind_wait LIB SECONDS
 * maps 64 MiB, dlopens LIB (frameless code whose table takes seconds to build), makes no other
 * mapping, sleeps SECONDS, then faults the 64 MiB through LIB's lib_call. A walk by frame pointers
 * through lib_call (which keeps none) skips main; only LIB's table, given to the process once it
 * is built (its maps were read before), names main. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

__attribute__((noinline)) void touch_region(char *p)
{
	memset(p, 1, 64 << 20);
	__asm__ volatile("" : : "r"(p) : "memory");
}

int main(int argc, char **argv)
{
	char *region;
	void *h;
	void (*call)(void (*)(char *), char *);

	if (argc != 3) {
		fprintf(stderr, "usage: unwind_wait LIB SECONDS\n");
		return 2;
	}
	region = mmap(NULL, 64 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	h = dlopen(argv[1], RTLD_NOW);
	if (region == MAP_FAILED || !h) {
		fprintf(stderr, "unwind_wait: %s\n", h ? "mmap failed" : dlerror());
		return 1;
	}
	call = (void (*)(void (*)(char *), char *))dlsym(h, "lib_call");
	if (!call)
		return 1;
	sleep(atoi(argv[2]));
	call(touch_region, region);
	return 0;
}
