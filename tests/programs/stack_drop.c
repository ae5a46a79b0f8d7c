// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* stack_drop WAIT_MS: a stack id the tool deletes while a thread's last walk still names it.
 * Every map_here() is called from one call site, so one stack: the parent maps 8 MiB without
 * touching it (the mmap's walk is kept, but no growth of the parent uses the stack); the child,
 * forked before, maps 8 MiB populated (the child the stack's only user) and exits, and the tool
 * deletes the stack once it has seen the child go; WAIT_MS later the parent maps 8 MiB
 * populated, with the registers and stack words of its first walk. Taking that walk's id named
 * a deleted stack (stacks_unreadable). Run on one CPU (taskset): walks are kept per CPU. */
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

NOINLINE void *map_here(int populate)
{
	void *p = mmap(NULL, 8 << 20, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | (populate ? MAP_POPULATE : 0), -1, 0);

	__asm__ volatile("" ::: "memory"); /* no tail call */
	return p;
}

int main(int argc, char **argv)
{
	useconds_t wait_us = (argc > 1 ? atoi(argv[1]) : 1000) * 1000u;
	int st, round;
	pid_t child = fork();

	if (child < 0)
		return 1;
	/* every map_here from this one call site: one stack for all three */
	for (round = 0; round < 2; round++) {
		if (child == 0 && round == 1)
			_exit(0);
		if (child == 0)
			usleep(wait_us); /* after the parent's first map_here */
		else if (round == 0)
			usleep(wait_us / 2); /* the tool has read both processes' maps */
		else {
			waitpid(child, &st, 0);
			usleep(wait_us); /* the tool has seen the child go and deleted its stacks */
		}
		map_here(child == 0 || round == 1);
	}
	usleep(wait_us / 2); /* resident at the peak the tool reports */
	return 0;
}
