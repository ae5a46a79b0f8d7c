// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * shared_tree: a process tree that shares memory, of known make-up, for taskmem-trace's tests.
 * The parent fills PRIV MiB of private anonymous memory and SHARED MiB of shared anonymous
 * memory (MAP_SHARED|MAP_ANONYMOUS), then forks CHILDREN children; each writes its own COW MiB
 * slice of the private part (copy-on-write), fills OWN MiB of its own, and reads the whole
 * shared part. Resident, counted once: PRIV + SHARED + CHILDREN * (COW + OWN) MiB, plus a
 * small base; the sum of the processes' RSS is several times that.
 * When every child holds its memory, the parent creates READY_FILE and waits for GO_FILE to
 * appear (a test samples the tree meanwhile); then all exit.
 * usage: shared_tree READY_FILE GO_FILE [PRIV SHARED CHILDREN COW OWN]   (sizes in MiB)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1ul << 20)

static char *map(size_t len, int flags)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

/* each function writes (or reads) one byte a page itself, so that it is the faulting frame */
__attribute__((noinline)) static void fill_private(volatile char *p, size_t len)
{
	for (size_t i = 0; i < len; i += 4096)
		p[i] = 1;
}

__attribute__((noinline)) static void fill_shared(volatile char *p, size_t len)
{
	for (size_t i = 0; i < len; i += 4096)
		p[i] = 2;
}

__attribute__((noinline)) static void cow_write(volatile char *p, size_t len)
{
	for (size_t i = 0; i < len; i += 4096)
		p[i] = 3;
}

__attribute__((noinline)) static void own_fill(volatile char *p, size_t len)
{
	for (size_t i = 0; i < len; i += 4096)
		p[i] = 4;
}

__attribute__((noinline)) static long read_shared(volatile char *p, size_t len)
{
	long sum = 0;

	for (size_t i = 0; i < len; i += 4096)
		sum += p[i];
	return sum;
}

int main(int argc, char **argv)
{
	long priv = 64, shared = 96, children = 4, cow = 16, own = 32, i;
	int ready[2], hold[2];
	char *pp, *sp, c;

	if (argc < 3) {
		fprintf(stderr, "usage: shared_tree READY_FILE GO_FILE [PRIV SHARED CHILDREN COW OWN]\n");
		return 2;
	}
	if (argc > 7) {
		priv = atol(argv[3]);
		shared = atol(argv[4]);
		children = atol(argv[5]);
		cow = atol(argv[6]);
		own = atol(argv[7]);
	}
	if (children * cow > priv || pipe(ready) || pipe(hold))
		return 2;
	pp = map(priv * MIB, MAP_PRIVATE);
	sp = map(shared * MIB, MAP_SHARED);
	fill_private(pp, priv * MIB);
	fill_shared(sp, shared * MIB);
	for (i = 0; i < children; i++) {
		pid_t pid = fork();

		if (pid < 0)
			return 1;
		if (!pid) {
			close(ready[0]);
			close(hold[1]);
			cow_write(pp + i * cow * MIB, cow * MIB);
			own_fill(map(own * MIB, MAP_PRIVATE), own * MIB);
			if (read_shared(sp, shared * MIB) < 0)
				return 1;
			if (write(ready[1], "r", 1) != 1)
				return 1;
			/* hold until the parent closes its end */
			while (read(hold[0], &c, 1) > 0)
				;
			_exit(0);
		}
	}
	close(ready[1]);
	close(hold[0]);
	for (i = 0; i < children; i++)
		if (read(ready[0], &c, 1) != 1)
			return 1;
	close(open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644));
	while (access(argv[2], F_OK))
		usleep(10000);
	close(hold[1]);
	while (wait(NULL) > 0)
		;
	return 0;
}
