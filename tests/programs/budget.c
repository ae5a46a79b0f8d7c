// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* A traced program that makes the tool parse a lot (tests/integration/test_hostile.py, issue 15):
 *   budget fault MB            touch MB of heap (linked with a huge unwind table: test_budget_fde)
 *   budget map FILE...         map each file executable, then touch 8 MiB, and stay 1.5 s (or
 *                              $BUDGET_ALIVE_MS) (test_budget_unwind_memory, test_unwind_worker_sigint)
 *   budget files DIR N FAULTS  map N one-page files of DIR and fault them FAULTS times in all,
 *                              dropping the pages between rounds (test_budget_labels)
 *   budget jit MB              write a perf map of MB with one entry for a JIT stub, then touch
 *                              32 MiB under that stub (test_budget_perfmap)
 *   budget forks MAPS N        make MAPS one-page mappings, touch a few, then fork N children one
 *                              after another, each touching one page and exiting (test_budget_forks) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void touch(size_t mb)
{
	char *p = malloc(mb << 20);

	if (!p)
		exit(1);
	memset(p, 1, mb << 20);
	__asm__ volatile("" : : "r"(p) : "memory");
}

static int map_files(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		struct stat st;
		int fd = open(argv[i], O_RDONLY);

		if (fd < 0 || fstat(fd, &st) || mmap(NULL, st.st_size, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0) == MAP_FAILED) {
			perror(argv[i]);
			return 1;
		}
		close(fd);
	}
	const char *ms = getenv("BUDGET_ALIVE_MS");

	touch(8);
	/* alive while the tool reads its files through it, and (the run ends with its last process)
	 * while its worker builds their tables: 12 big ones take ~1.5 s, under ASan several */
	usleep(ms ? atol(ms) * 1000 : 1500000);
	return 0;
}

static int fault_files(const char *dir, int n, long faults)
{
	char path[4096];
	char **maps = calloc(n, sizeof(*maps));
	long done = 0;
	volatile char sink;

	for (int i = 0; i < n; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		fd = open(path, O_RDONLY);
		if (fd < 0 || (maps[i] = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED) {
			perror(path);
			return 1;
		}
		close(fd);
	}
	while (done < faults) {
		for (int i = 0; i < n && done < faults; i++, done++)
			sink = maps[i][0];
		for (int i = 0; i < n; i++)
			madvise(maps[i], 4096, MADV_DONTNEED);
	}
	(void)sink;
	return 0;
}

/* the stub calls its argument, keeping a frame pointer: push rbp; mov rbp,rsp; call *rdi; pop rbp; ret */
static const unsigned char stub_code[] = { 0x55, 0x48, 0x89, 0xe5, 0xff, 0xd7, 0x5d, 0xc3 };

static __attribute__((noinline)) void jit_work(void)
{
	touch(32);
}

static int jit(long mb)
{
	char path[64], final[64], line[128];
	void (*stub)(void (*)(void));
	unsigned char *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	FILE *f;
	long written = 0, i = 0;

	if (code == MAP_FAILED)
		return 1;
	memcpy(code, stub_code, sizeof(stub_code));
	/* written aside and renamed into place: a look at the map while it is half written would read
	 * it whole within the budget, and the budget would not be what the test sees */
	snprintf(path, sizeof(path), "/tmp/perf-%d.map.tmp", getpid());
	f = fopen(path, "w");
	if (!f)
		return 1;
	written += fprintf(f, "%lx %zx jit_stub_budget\n", (unsigned long)code, sizeof(stub_code));
	/* filler far from the stub: entries the tool would keep */
	while (written < mb << 20) {
		int len = snprintf(line, sizeof(line), "%lx 10 filler_%ld\n", 0x100000000000ul + (unsigned long)i * 16, i);

		fwrite(line, 1, len, f);
		written += len;
		i++;
	}
	fclose(f);
	snprintf(final, sizeof(final), "/tmp/perf-%d.map", getpid());
	if (rename(path, final))
		return 1;
	stub = (void (*)(void (*)(void)))code;
	stub(jit_work);
	return 0;
}

static int forks(int nmaps, int children)
{
	char **maps = calloc(nmaps, sizeof(*maps));

	for (int i = 0; i < nmaps; i++) {
		/* alternate protections, so that the kernel cannot merge neighbours into one mapping */
		maps[i] = mmap(NULL, 4096, i & 1 ? PROT_READ : PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (maps[i] == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		if (!(i & 1) && i < 128) /* a few: each touched mapping makes fork slower (its page table) */
			maps[i][0] = 1;
	}
	for (int i = 0; i < children; i++) {
		pid_t pid = fork();
		int status;

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (!pid) {
			maps[(i * 2) % nmaps][1] = 2; /* a copy of one page: the child's own */
			_exit(0);
		}
		if (waitpid(pid, &status, 0) != pid || status)
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "fault")) {
		touch(atol(argv[2]));
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "map"))
		return map_files(argc - 2, argv + 2);
	if (argc == 5 && !strcmp(argv[1], "files"))
		return fault_files(argv[2], atoi(argv[3]), atol(argv[4]));
	if (argc == 3 && !strcmp(argv[1], "jit"))
		return jit(atol(argv[2]));
	if (argc == 4 && !strcmp(argv[1], "forks"))
		return forks(atoi(argv[2]), atoi(argv[3]));
	fprintf(stderr, "usage: budget fault MB | map FILE... | files DIR N FAULTS | jit MB | forks MAPS N\n");
	return 2;
}
