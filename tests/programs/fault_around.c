// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fault_around: processes that read one shared object through fault-around blocks, each
 * faulting a different page of every 64 KiB window (issue 14.1).
 *   fault_around READY_FILE GO_FILE memfd|FILE MIB CHILDREN
 * The parent fills MIB MiB of a memfd (or of the file FILE, created) with write(), mapping
 * nothing, then forks CHILDREN children; child i maps the object MAP_SHARED read-only and reads
 * one byte a page, starting at page i % 16 of each window: its first read of a window faults
 * (and maps the window's pages around it at once), the others find their pages mapped. The
 * object is resident once: MIB MiB, plus a small base; the sum of the children's RSS is
 * CHILDREN times it. When every child holds it, the parent creates READY_FILE and waits for
 * GO_FILE to appear (a test samples the tree meanwhile); then all exit.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1ul << 20)
#define PAGE 4096ul
#define WINDOW (64ul << 10)

/* noinline: the faulting frame */
__attribute__((noinline)) static unsigned long read_shared(const volatile char *p, size_t len, size_t first)
{
	unsigned long s = 0;

	for (size_t w = 0; w < len; w += WINDOW)
		for (size_t k = 0; k < WINDOW / PAGE && w + k * PAGE < len; k++)
			s += p[w + ((first + k) % (WINDOW / PAGE)) * PAGE];
	return s;
}

int main(int argc, char **argv)
{
	static char buf[MIB];
	int fd, ready[2], hold[2], children, i;
	size_t len;
	char c;

	if (argc != 6 || (len = strtoul(argv[4], NULL, 10) * MIB) == 0 || (children = atoi(argv[5])) <= 0) {
		fprintf(stderr, "usage: fault_around READY_FILE GO_FILE memfd|FILE MIB CHILDREN\n");
		return 2;
	}
	fd = !strcmp(argv[3], "memfd") ? memfd_create("fault_around", 0) :
					 open(argv[3], O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || pipe(ready) || pipe(hold)) {
		perror("fault_around");
		return 1;
	}
	memset(buf, 7, sizeof(buf));
	for (size_t off = 0; off < len; off += MIB)
		if (write(fd, buf, MIB) != MIB) {
			perror("write");
			return 1;
		}
	for (i = 0; i < children; i++) {
		if (fork() == 0) {
			char *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);

			close(ready[0]);
			close(hold[1]); /* the parent's end: its close is the signal to exit */
			if (p == MAP_FAILED)
				_exit(1);
			read_shared(p, len, (size_t)i);
			if (write(ready[1], "r", 1) != 1 || read(hold[0], &c, 1) < 0)
				_exit(1);
			_exit(0);
		}
	}
	close(ready[1]);
	close(hold[0]);
	for (i = 0; i < children; i++)
		if (read(ready[0], &c, 1) != 1)
			return 1;
	close(open(argv[1], O_WRONLY | O_CREAT, 0600));
	while (access(argv[2], F_OK))
		usleep(20000);
	close(hold[1]); /* the children's read returns: they exit */
	while (wait(NULL) > 0)
		;
	if (strcmp(argv[3], "memfd"))
		unlink(argv[3]);
	return 0;
}
