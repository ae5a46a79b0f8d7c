// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * runstat: run a tracer (or a bare workload) and measure it from outside, for bench/overhead.sh.
 *   runstat -o OUT [-w COMM] [-p PID] [-k SIG] -- COMMAND [ARGS...]
 * COMMAND's processes are ptrace'd (fork/clone/exec/exit events only) until one of them execs an
 * image whose comm is COMM (-w): that one is the workload, and it is detached at once, so the
 * workload itself runs untraced by us. -p PID names a workload started elsewhere instead.
 * Written to OUT, one "key value" a line:
 *   wall_s         from the fork of COMMAND to its reaping
 *   cpu_s          user+sys of COMMAND and every descendant it reaped (getrusage's rule)
 *   workload_exit_s when the workload had exited (its pidfd became readable), from the start
 *   tool_exit_s    when COMMAND's first process entered exit(), after its reports were written
 *   tracer_cpu_s   user+sys of COMMAND's processes other than the workload, themselves (not their
 *                  children), read at each one's exit: the tracer's own CPU; BPF programs are not
 *                  in it (they run in the traced tasks)
 *   tracer_hwm_kb  the largest VmHWM of COMMAND's processes other than the workload, read at each
 *                  one's exit (PTRACE_EVENT_EXIT stops before the address space is released):
 *                  the tracer's own peak RSS, which /usr/bin/time's %M cannot give (it is the
 *                  largest of the tracer and the processes it waited for)
 *   proc PID COMM HWM_KB CPU_S   per traced process
 * -k SIG: send SIG to COMMAND once the workload has exited (tracers that run until Ctrl-C).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROCS 4096

static double t0;
static pid_t top, wl_pid;
static int kill_sig;
static volatile double wl_exit_s = -1;
static const char *wl_comm;

static struct {
	pid_t pid;
	char comm[32];
	long hwm_kb;
	double cpu_s;
} procs[MAX_PROCS];
static int nprocs;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void read_comm(pid_t pid, char *buf, size_t n)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	buf[0] = 0;
	if ((f = fopen(path, "r"))) {
		if (fgets(buf, n, f))
			buf[strcspn(buf, "\n")] = 0;
		fclose(f);
	}
}

static long read_hwm_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* user+sys of the whole thread group, so far (/proc/PID/stat fields 14 and 15) */
static double read_cpu_s(pid_t tgid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", tgid);
	if (!(f = fopen(path, "r")))
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	if (!(p = strrchr(buf, ')')) ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

static void note_exit(pid_t tid)
{
	double cpu;
	char path[64], line[256];
	pid_t tgid = tid;
	long kb = read_hwm_kb(tid);
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	if ((f = fopen(path, "r"))) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "Tgid: %d", &tgid) == 1)
				break;
		fclose(f);
	}
	for (i = 0; i < nprocs && procs[i].pid != tgid; i++)
		;
	if (i == nprocs) {
		if (nprocs == MAX_PROCS)
			return;
		nprocs++;
		procs[i].pid = tgid;
		procs[i].hwm_kb = -1;
	}
	read_comm(tid, procs[i].comm, sizeof(procs[i].comm));
	if (kb > procs[i].hwm_kb)
		procs[i].hwm_kb = kb;
	cpu = read_cpu_s(tgid);
	if (cpu > procs[i].cpu_s)
		procs[i].cpu_s = cpu;
}

static void *watch_workload(void *arg)
{
	struct pollfd p = { .fd = (int)(long)arg, .events = POLLIN };

	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	wl_exit_s = now_s() - t0;
	if (kill_sig)
		kill(top, kill_sig);
	return NULL;
}

static int watch(pid_t pid)
{
	pthread_t th;
	int fd = syscall(SYS_pidfd_open, pid, 0);

	if (fd < 0) {
		perror("runstat: pidfd_open");
		return -1;
	}
	wl_pid = pid;
	return pthread_create(&th, NULL, watch_workload, (void *)(long)fd);
}

int main(int argc, char **argv)
{
	const char *out = NULL;
	double wall = -1, tool_exit = -1;
	struct rusage ru = {};
	int opt, status = 0, top_status = 0, i;
	long tracer_kb = -1;
	double tracer_cpu = 0;
	FILE *f;

	while ((opt = getopt(argc, argv, "+o:w:p:k:")) != -1) {
		switch (opt) {
		case 'o': out = optarg; break;
		case 'w': wl_comm = optarg; break;
		case 'p': wl_pid = atoi(optarg); break;
		case 'k': kill_sig = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (!out || optind >= argc)
		goto usage;
	t0 = now_s();
	if (wl_pid && watch(wl_pid))
		return 1;
	top = fork();
	if (top < 0) {
		perror("runstat: fork");
		return 1;
	}
	if (!top) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "runstat: cannot run %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	waitpid(top, &status, __WALL);
	ptrace(PTRACE_SETOPTIONS, top, 0,
	       PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC |
		       PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL);
	ptrace(PTRACE_CONT, top, 0, 0);
	for (;;) {
		struct rusage r;
		pid_t pid = wait4(-1, &status, __WALL, &r);
		int sig, event;

		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			if (pid == top) {
				wall = now_s() - t0;
				ru = r;
				top_status = status;
				break;
			}
			continue;
		}
		if (!WIFSTOPPED(status))
			continue;
		sig = WSTOPSIG(status);
		event = status >> 16;
		if (event == PTRACE_EVENT_EXIT) {
			if (pid == top && tool_exit < 0)
				tool_exit = now_s() - t0;
			note_exit(pid);
			sig = 0;
		} else if (event == PTRACE_EVENT_EXEC) {
			char comm[32];

			read_comm(pid, comm, sizeof(comm));
			if (wl_comm && !wl_pid && !strncmp(comm, wl_comm, 15)) {
				/* the workload: time its exit, leave it untraced */
				watch(pid);
				ptrace(PTRACE_DETACH, pid, 0, 0);
				continue;
			}
			sig = 0;
		} else if (event || sig == SIGSTOP || sig == SIGTRAP) {
			/* fork/clone events and new tracees' first stop */
			sig = 0;
		}
		ptrace(PTRACE_CONT, pid, 0, sig);
	}
	/* the watcher may not have run yet: the pidfd is readable before the tracer reaps */
	for (i = 0; wl_pid && wl_exit_s < 0 && i < 1000; i++)
		usleep(1000);
	for (i = 0; i < nprocs; i++)
		if (procs[i].pid != wl_pid) {
			if (procs[i].hwm_kb > tracer_kb)
				tracer_kb = procs[i].hwm_kb;
			tracer_cpu += procs[i].cpu_s;
		}
	if (!(f = fopen(out, "w"))) {
		perror(out);
		return 1;
	}
	fprintf(f, "wall_s %.6f\ncpu_s %.6f\n", wall,
		ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	fprintf(f, "workload_exit_s %.6f\ntool_exit_s %.6f\ntracer_hwm_kb %ld\ntracer_cpu_s %.2f\n", wl_exit_s,
		tool_exit, tracer_kb, tracer_cpu);
	fprintf(f, "status %d\n", WIFEXITED(top_status) ? WEXITSTATUS(top_status) : 128 + WTERMSIG(top_status));
	for (i = 0; i < nprocs; i++)
		fprintf(f, "proc %d %s %ld %.2f\n", procs[i].pid, procs[i].comm, procs[i].hwm_kb, procs[i].cpu_s);
	fclose(f);
	return WIFEXITED(top_status) ? WEXITSTATUS(top_status) : 128 + WTERMSIG(top_status);
usage:
	fprintf(stderr, "usage: runstat -o OUT [-w COMM] [-p PID] [-k SIG] -- COMMAND [ARGS...]\n");
	return 2;
}
