// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* pertask N [S]: N threads of a known cost each, for `taskmem-trace scale` (test_scale).
 * Each task is a thread that touches 3 pages of its own stack (touch_stack), mallocs 3 KiB and
 * writes all of it (touch_heap), then waits until all N are done and S seconds more (default 1).
 * Once all are in place, one `MEMSTATS {json}` line on stderr gives the oracles the program
 * knows of itself: glibc's bytes in use (mallinfo2 uordblks, every arena: the 3 KiB chunks and
 * each thread's tcache), the usable size of a 3 KiB chunk, and the resident pages of the thread
 * stacks by mincore() (what glibc touches for a thread besides touch_stack: its descriptor and
 * TLS at the top, start_thread's frames). One malloc arena (M_ARENA_MAX), so that a task's cost
 * is the same from the first task on: N=1 shows the fixed part plus one task. Built at -O0 with
 * frame pointers. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define STACK_PAGES 3
#define HEAP_BYTES 3072

static pthread_barrier_t all_in;
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int done;
static long page;
static size_t usable;

/* 3 pages below the caller's frame, each written once; the compiler may not drop the writes */
NOINLINE static void touch_stack(void)
{
	volatile char buf[STACK_PAGES * 4096];

	for (size_t i = 0; i < sizeof(buf); i += 4096)
		buf[i] = 1;
	buf[sizeof(buf) - 1] = 1;
}

NOINLINE static void *touch_heap(void)
{
	char *p = malloc(HEAP_BYTES);

	if (!p)
		abort();
	memset(p, 1, HEAP_BYTES);
	return p;
}

/* Run by main for each thread once all are in place: pthread_getattr_np's allocation is then
 * the main thread's, one chunk reused, not a cost per task. */
static long resident_stack_pages(pthread_t t)
{
	unsigned char vec[1024];
	pthread_attr_t a;
	char *addr;
	size_t size, off, i, len;
	long n = 0;

	if (pthread_getattr_np(t, &a) || pthread_attr_getstack(&a, (void **)&addr, &size))
		return -1;
	pthread_attr_destroy(&a);
	for (off = 0; off < size; off += len * page) {
		len = (size - off) / page < sizeof(vec) ? (size - off) / page : sizeof(vec);
		if (mincore(addr + off, len * page, vec))
			return -1;
		for (i = 0; i < len; i++)
			n += vec[i] & 1;
	}
	return n;
}

static void *task(void *arg)
{
	void *p;

	(void)arg;

	touch_stack();
	p = touch_heap();
	if (!usable)
		usable = malloc_usable_size(p);
	pthread_barrier_wait(&all_in);
	pthread_mutex_lock(&done_lock);
	while (!done)
		pthread_cond_wait(&done_cond, &done_lock);
	pthread_mutex_unlock(&done_lock);
	return p;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100, i, total = 0;
	double s = argc > 2 ? strtod(argv[2], NULL) : 1;
	pthread_t *th;
	struct mallinfo2 m;

	page = sysconf(_SC_PAGESIZE);
	/* one arena: glibc would make one per thread up to 8 x cores, a cost that grows with N for
	 * the first few dozen tasks and then stops, so the fixed part would depend on the counts */
	mallopt(M_ARENA_MAX, 1);
	if (n < 0 || n > 100000) {
		fprintf(stderr, "usage: pertask N [S]  (N from 0 to 100000)\n");
		return 2;
	}
	th = calloc(n ? n : 1, sizeof(*th));
	if (!th || pthread_barrier_init(&all_in, NULL, n + 1))
		return 1;
	for (i = 0; i < n; i++) {
		int err = pthread_create(&th[i], NULL, task, (void *)i);

		if (err) {
			fprintf(stderr, "pthread_create %ld: %s\n", i, strerror(err));
			return 1;
		}
	}
	pthread_barrier_wait(&all_in);
	/* every thread has touched what it will, and waits */
	m = mallinfo2();
	for (i = 0; i < n; i++)
		total += resident_stack_pages(th[i]);
	fprintf(stderr, "MEMSTATS {\"n\": %ld, \"uordblks\": %zu, \"arena\": %zu, \"hblkhd\": %zu, "
		"\"usable\": %zu, \"stack_resident_pages\": %ld, \"page\": %ld}\n",
		n, m.uordblks, m.arena, m.hblkhd, usable, total, page);
	usleep((useconds_t)(s * 1e6));
	pthread_mutex_lock(&done_lock);
	done = 1;
	pthread_cond_broadcast(&done_cond);
	pthread_mutex_unlock(&done_lock);
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	return 0;
}
