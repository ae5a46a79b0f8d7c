// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* frames DEPTH [DELAY_MS]: a call chain known by construction, for the user stack walk.
 * main -> small_frame -> big_frame -> small_frame ... (DEPTH + 1 frames in all, alternating),
 * and the innermost calls touch(), which faults in 4 MiB of fresh anonymous memory. big_frame
 * has a 5000-byte local, so its frames straddle pages and the walk's read windows.
 * Built at -O0 with frame pointers (leaf functions too) and without sibling calls, so every call
 * keeps its frame. Built without frame pointers, it checks the walk by unwind tables instead;
 * DELAY_MS then gives the tracer time to load them (it does so when it sees the exec). */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define LEN (4u << 20)

static char *mem;

NOINLINE static void touch(void)
{
	for (size_t i = 0; i < LEN; i += 4096)
		mem[i] = 1;
	__asm__ volatile("" ::: "memory");
}

NOINLINE void big_frame(int d);

NOINLINE void small_frame(int d)
{
	if (d)
		big_frame(d - 1);
	else
		touch();
	__asm__ volatile("" ::: "memory"); /* no tail call */
}

NOINLINE void big_frame(int d)
{
	volatile char pad[5000];

	pad[0] = (char)d;
	if (d)
		small_frame(d - 1);
	else
		touch();
	pad[4999] = pad[0];
}

int main(int argc, char **argv)
{
	int depth = argc > 1 ? atoi(argv[1]) : 10;

	mem = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || depth < 0)
		return 1;
	if (argc > 2)
		usleep(atoi(argv[2]) * 1000u);
	small_frame(depth);
	return 0;
}
