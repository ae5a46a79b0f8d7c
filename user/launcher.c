// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "launcher.h"
#include "util.h"

/* As sudo -u would run it: the user's groups, then gid, then uid (nothing of root's is kept),
 * and the user's HOME, USER and LOGNAME. 0 or -1 (errno set). */
static int become_user(uid_t uid, gid_t gid)
{
	struct passwd *pw = getpwuid(uid);

	if (pw ? initgroups(pw->pw_name, gid) : setgroups(1, &gid))
		return -1;
	if (setgid(gid) || setuid(uid))
		return -1;
	if (pw) {
		setenv("HOME", pw->pw_dir, 1);
		setenv("USER", pw->pw_name, 1);
		setenv("LOGNAME", pw->pw_name, 1);
	}
	return 0;
}

int launcher__fork(struct launcher *l, char *const argv[])
{
	int gate[2], errp[2];
	pid_t pid;

	/* orphans of the tree (daemons) are reparented to us, not to init: the run follows
	 * them to their end, and reaps them */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1))
		return -errno;
	if (pipe2(gate, O_CLOEXEC))
		return -errno;
	if (pipe2(errp, O_CLOEXEC)) {
		close(gate[0]);
		close(gate[1]);
		return -errno;
	}
	l->forked_ns = now_ns();
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(gate[0]);
		close(gate[1]);
		close(errp[0]);
		close(errp[1]);
		return err;
	}
	if (pid == 0) {
		char go;
		int e;

		close(gate[1]);
		close(errp[0]);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_DFL); /* the tool ignores it; an ignored signal would stay so across exec */
		if (read(gate[0], &go, 1) != 1)
			_exit(127); /* the tracer gave up before starting us */
		/* the command must not outlive a tracer that was killed (set after the change of
		 * user, which clears it) */
		if ((!l->as_user || !become_user(l->uid, l->gid)) && !prctl(PR_SET_PDEATHSIG, SIGKILL))
			execvp(argv[0], argv);
		e = errno;
		if (write(errp[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(e == ENOENT ? 127 : 126);
	}
	close(gate[0]);
	close(errp[1]);
	l->pid = pid;
	l->go_fd = gate[1];
	l->err_fd = errp[0];
	return 0;
}
int launcher__go(struct launcher *l)
{
	char go = 1;
	int e = 0;
	ssize_t n;

	if (write(l->go_fd, &go, 1) != 1)
		return errno;
	close(l->go_fd);
	l->go_fd = -1;
	do
		n = read(l->err_fd, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(l->err_fd);
	l->err_fd = -1;
	return n == sizeof(e) ? e : 0;
}

void launcher__abort(struct launcher *l)
{
	if (l->go_fd >= 0)
		close(l->go_fd);
	if (l->err_fd >= 0)
		close(l->err_fd);
	l->go_fd = l->err_fd = -1;
	if (l->pid > 0)
		waitpid(l->pid, NULL, 0);
}

bool launcher__reap(struct launcher *l)
{
	int st;
	pid_t w;

	for (;;) {
		w = waitpid(-1, &st, WNOHANG);
		if (w > 0 && w == l->pid) {
			l->exited = true;
			l->status = st;
		}
		if (w <= 0)
			return w == 0 || (w < 0 && errno == EINTR); /* ECHILD: nothing of the tree is left */
	}
}

/* Depth-first through /proc/PID/task/TID/children (every thread's children). The tree is small
 * and its processes are the tool's own descendants; depth is bounded anyway. */
static void signal_below(pid_t pid, int sig, int depth)
{
	char path[64], buf[4096];
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = depth < 64 ? opendir(path) : NULL;
	while (dir && (d = readdir(dir))) {
		ssize_t n;
		char *p, *end;
		int fd;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/children", pid, d->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (n <= 0)
			continue;
		buf[n] = 0;
		for (p = buf;; p = end) {
			long child = strtol(p, &end, 10);

			if (end == p || child <= 0)
				break;
			signal_below((pid_t)child, sig, depth + 1);
			kill((pid_t)child, sig);
		}
	}
	if (dir)
		closedir(dir);
}

void launcher__signal_tree(struct launcher *l, int sig)
{
	if (l->pid > 0 && !l->exited)
		kill(l->pid, sig);
	signal_below(getpid(), sig, 0);
}
