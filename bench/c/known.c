// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * c_known: a program whose resident memory is known by construction, for taskmem-trace's tests.
 * At its peak it holds HEAP MiB of malloc heap (1 MiB blocks), THREADS threads each touching
 * STACK MiB of their own stack, FILE MiB of a mapped file read page by page, and ANON MiB of a
 * raw anonymous mapping. Then it frees half of the heap, waits, and exits.
 * usage: c_known FILE_PATH [HEAP STACK THREADS FILE ANON]   (sizes in MiB)
 * C_KNOWN_DELAY_MS=N waits N ms before growing (a test stops the tracer in that window).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB (1ul << 20)
static long heap_mib = 64, stack_mib = 8, nthreads = 4, file_mib = 64, anon_mib = 48;
static pthread_barrier_t ready, done;

static void touch(volatile char *p, size_t len)
{
	for (size_t i = 0; i < len; i += 4096)
		p[i] = 1;
}

__attribute__((noinline)) static void use_stack(void)
{
	volatile char buf[stack_mib * MIB];

	touch(buf, sizeof(buf));
}

static void *thread_main(void *arg)
{
	use_stack();
	pthread_barrier_wait(&ready);
	pthread_barrier_wait(&done);
	return NULL;
}

__attribute__((noinline)) static void **grow_heap(void)
{
	void **blocks = calloc(heap_mib, sizeof(void *));

	for (long i = 0; i < heap_mib; i++) {
		blocks[i] = malloc(MIB);
		touch(blocks[i], MIB);
	}
	return blocks;
}

__attribute__((noinline)) static void read_file(const char *path)
{
	int fd = open(path, O_RDONLY);
	volatile char *p, sum = 0;

	if (fd < 0) {
		perror(path);
		exit(1);
	}
	p = mmap(NULL, file_mib * MIB, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap file");
		exit(1);
	}
	for (size_t i = 0; i < file_mib * MIB; i += 4096)
		sum += p[i];
	close(fd);
}

__attribute__((noinline)) static void raw_anon(void)
{
	char *p = mmap(NULL, anon_mib * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap anon");
		exit(1);
	}
	touch(p, anon_mib * MIB);
}

int main(int argc, char **argv)
{
	pthread_attr_t attr;
	pthread_t *t;
	void **blocks;

	if (argc < 2) {
		fprintf(stderr, "usage: c_known FILE_PATH [HEAP STACK THREADS FILE ANON] (MiB)\n");
		return 2;
	}
	if (argc >= 7) {
		heap_mib = atol(argv[2]);
		stack_mib = atol(argv[3]);
		nthreads = atol(argv[4]);
		file_mib = atol(argv[5]);
		anon_mib = atol(argv[6]);
	}
	if (getenv("C_KNOWN_DELAY_MS"))
		usleep(atol(getenv("C_KNOWN_DELAY_MS")) * 1000);
	blocks = grow_heap();
	pthread_barrier_init(&ready, NULL, nthreads + 1);
	pthread_barrier_init(&done, NULL, nthreads + 1);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 2 * stack_mib * MIB);
	t = calloc(nthreads, sizeof(*t));
	for (long i = 0; i < nthreads; i++)
		pthread_create(&t[i], &attr, thread_main, NULL);
	pthread_barrier_wait(&ready);
	read_file(argv[1]);
	raw_anon();
	usleep(400 * 1000); /* the peak */
	for (long i = heap_mib / 2; i < heap_mib; i++)
		free(blocks[i]); /* 1 MiB blocks are mmapped: free returns them at once */
	usleep(400 * 1000); /* the drop, before teardown */
	pthread_barrier_wait(&done);
	for (long i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	return 0;
}
