// c_threads_bench N [S]: N pthreads that each sleep S seconds (default 10), then exit.
// Threads get glibc's default attributes, like the published programs' thread baselines: the
// stack size is RLIMIT_STACK (8 MiB here) of which only the touched pages become resident.
// With TASKMEM_MEMSTATS set, glibc malloc's accounting and the default stack size go to stderr
// as one `MEMSTATS {json}` line at 0.8 S (the plateau), or once all are started if that is later.
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct timespec wait_for;
static long n_tasks;

static void *task(void *arg)
{
	(void)arg;
	struct timespec left = wait_for;
	while (nanosleep(&left, &left) == -1 && errno == EINTR)
		;
	return NULL;
}

static long threads_now(void)
{
	char line[256];
	long n = 0;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

// Seconds since this process started (/proc/self/stat starttime), to find the profiler's
// timeline sample taken at the same moment; -1 if unknown.
static double uptime(void)
{
	char buf[1024], *p;
	double up = -1, start;
	unsigned long long ticks;
	size_t len;
	FILE *f = fopen("/proc/uptime", "r");

	if (!f || fscanf(f, "%lf", &up) != 1)
		up = -1;
	if (f)
		fclose(f);
	f = fopen("/proc/self/stat", "r");
	if (!f)
		return -1;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = 0;
	p = strrchr(buf, ')');
	// starttime is field 22; field 3 (state) follows the comm's ')'
	if (up < 0 || !p || sscanf(p + 1, " %*c" " %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s"
				       " %*s %*s %*s %*s %*s %*s %*s %*s %llu", &ticks) != 1)
		return -1;
	start = (double)ticks / (double)sysconf(_SC_CLK_TCK);
	return up - start;
}

static void report(const struct timespec *at)
{
	pthread_attr_t attr;
	size_t stack = 0;
	struct mallinfo2 m;

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, at, NULL) == EINTR)
		;
	if (pthread_getattr_default_np(&attr) == 0) {
		pthread_attr_getstacksize(&attr, &stack);
		pthread_attr_destroy(&attr);
	}
	m = mallinfo2();
	fprintf(stderr,
		"MEMSTATS {\"runtime\": \"c-threads\", \"t_s\": %.2f, \"tasks\": %ld, \"threads\": %ld, "
		"\"default_stack_size\": %zu, \"malloc_arena\": %zu, \"malloc_in_use\": %zu, "
		"\"malloc_free\": %zu, \"malloc_mmap_chunks\": %zu, \"malloc_mmap_bytes\": %zu}\n",
		uptime(), n_tasks, threads_now(), stack, m.arena, m.uordblks, m.fordblks, m.hblks, m.hblkhd);
}

int main(int argc, char **argv)
{
	double secs = 10;
	char *end;
	pthread_t *tids;
	struct timespec at;
	int err;

	if (argc < 2 || argc > 3)
		goto usage;
	errno = 0;
	n_tasks = strtol(argv[1], &end, 10);
	if (errno || *end || end == argv[1] || n_tasks < 0)
		goto usage;
	if (argc == 3) {
		secs = strtod(argv[2], &end);
		if (*end || end == argv[2] || secs < 0)
			goto usage;
	}
	wait_for.tv_sec = (time_t)secs;
	wait_for.tv_nsec = (long)((secs - (double)wait_for.tv_sec) * 1e9);

	tids = calloc(n_tasks ? n_tasks : 1, sizeof(*tids));
	if (!tids) {
		perror("c_threads_bench: calloc");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &at);
	for (long i = 0; i < n_tasks; i++) {
		if ((err = pthread_create(&tids[i], NULL, task, NULL))) {
			fprintf(stderr, "c_threads_bench: thread %ld: %s\n", i, strerror(err));
			return 1;
		}
	}
	if (getenv("TASKMEM_MEMSTATS")) {
		double a = secs * 0.8;

		at.tv_sec += (time_t)a;
		at.tv_nsec += (long)((a - (double)(time_t)a) * 1e9);
		if (at.tv_nsec >= 1000000000L) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000L;
		}
		report(&at);
	}
	for (long i = 0; i < n_tasks; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	return 0;
usage:
	fprintf(stderr, "usage: c_threads_bench N [S]  (N threads that each sleep S seconds, default 10)\n");
	return 2;
}
