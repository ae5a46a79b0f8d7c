// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * c_faulter: page faults as fast as asked, for bench/overhead.sh.
 *   c_faulter [-s] THREADS MIB [PAGES_PER_S]
 * THREADS threads together touch MIB MiB of fresh anonymous memory, one write per 4 KiB page,
 * in 1 MiB malloc'd chunks that are freed (munmap'd) once touched, so resident memory stays
 * small while every touch is a new page fault. PAGES_PER_S (default 0: no limit) paces the
 * threads together. -s: stop (SIGSTOP) before starting, for tracers that attach with -p.
 * Prints "faulter: PAGES pages in S s (R pages/s)" to stderr.
 */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1L << 20)
#define PAGE 4096L

static long chunks_per_thread;
static double chunk_period_s; /* per thread; 0: as fast as possible */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* noinline: one clear frame for the profilers' stacks */
static __attribute__((noinline)) void touch_chunk(volatile char *p)
{
	for (long off = 0; off < CHUNK; off += PAGE)
		p[off] = 1;
}

static void *run(void *arg)
{
	double start = now_s();

	for (long i = 0; i < chunks_per_thread; i++) {
		char *p = malloc(CHUNK);

		if (!p)
			abort();
		touch_chunk(p);
		free(p);
		if (chunk_period_s > 0) {
			double wait = start + (i + 1) * chunk_period_s - now_s();

			if (wait > 0) {
				struct timespec ts = { (time_t)wait, (long)((wait - (time_t)wait) * 1e9) };

				nanosleep(&ts, NULL);
			}
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long threads, mib, rate = 0, i;
	pthread_t *t;
	double start, secs, pages;
	int opt, stop = 0;

	while ((opt = getopt(argc, argv, "s")) != -1) {
		if (opt != 's')
			goto usage;
		stop = 1;
	}
	if (argc - optind < 2)
		goto usage;
	threads = atol(argv[optind]);
	mib = atol(argv[optind + 1]);
	if (argc - optind > 2)
		rate = atol(argv[optind + 2]);
	if (threads <= 0 || mib < threads || rate < 0)
		goto usage;
	/* every chunk from mmap and back to munmap: fresh pages each time (no dynamic threshold) */
	mallopt(M_MMAP_THRESHOLD, 128 << 10);
	chunks_per_thread = mib / threads;
	if (rate)
		chunk_period_s = (double)threads * (CHUNK / PAGE) / rate;
	if (stop)
		raise(SIGSTOP);
	t = calloc(threads, sizeof(*t));
	start = now_s();
	for (i = 0; i < threads; i++)
		if (pthread_create(&t[i], NULL, run, NULL))
			abort();
	for (i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	secs = now_s() - start;
	pages = (double)threads * chunks_per_thread * (CHUNK / PAGE);
	fprintf(stderr, "faulter: %.0f pages in %.3f s (%.0f pages/s)\n", pages, secs, pages / secs);
	free(t);
	return 0;
usage:
	fprintf(stderr, "usage: c_faulter [-s] THREADS MIB [PAGES_PER_S]\n");
	return 2;
}
