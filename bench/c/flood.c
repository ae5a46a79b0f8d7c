// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * c_flood: event floods for taskmem-trace's robustness tests.
 *   c_flood threads N   start N threads (in waves of 1000) that each touch a page of their
 *                       stack, and join them
 *   c_flood mmaps N     N times: mmap a page, touch it, munmap it (on two threads)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static void *touch_stack(void *arg)
{
	volatile char page[4096];

	page[0] = 1;
	page[4095] = 1;
	return (void *)(long)page[0];
}

static void *mmap_loop(void *arg)
{
	long n = (long)arg;

	for (long i = 0; i < n; i++) {
		char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			abort();
		p[0] = 1;
		munmap(p, 4096);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 0;

	if (argc < 3 || n <= 0) {
		fprintf(stderr, "usage: c_flood threads|mmaps N\n");
		return 2;
	}
	if (!strcmp(argv[1], "threads")) {
		pthread_attr_t attr;
		pthread_t t[1000];

		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 64 << 10);
		for (long done = 0; done < n;) {
			long wave = n - done < 1000 ? n - done : 1000, i;

			for (i = 0; i < wave; i++)
				if (pthread_create(&t[i], &attr, touch_stack, NULL))
					abort();
			for (i = 0; i < wave; i++)
				pthread_join(t[i], NULL);
			done += wave;
		}
	} else if (!strcmp(argv[1], "mmaps")) {
		pthread_t t;

		pthread_create(&t, NULL, mmap_loop, (void *)(n / 2));
		mmap_loop((void *)(n - n / 2));
		pthread_join(t, NULL);
	} else {
		fprintf(stderr, "usage: c_flood threads|mmaps N\n");
		return 2;
	}
	return 0;
}
