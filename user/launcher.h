/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Starts the command held at a gate: it execs only once the tracer follows its pid, so no
 * event of the command is missed; then follows its whole tree to the end: the tool is the
 * tree's subreaper, so a daemon that double-forks comes back to it as a child. */
#ifndef TM_LAUNCHER_H
#define TM_LAUNCHER_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct launcher {
	pid_t pid;
	int go_fd;   /* write end: one byte lets the child exec */
	int err_fd;  /* read end: the child's errno if exec failed, EOF if it succeeded */
	bool exited; /* the command itself has been reaped: status is its wait status */
	int status;
	uint64_t forked_ns; /* CLOCK_MONOTONIC when the command's process was forked */
	bool as_user; /* run the command as uid/gid, with that user's groups, HOME and USER */
	uid_t uid;
	gid_t gid;
};

/* Fork the child, which waits at the gate (as l->uid when l->as_user). 0 or -errno. */
int launcher__fork(struct launcher *l, char *const argv[]);
/* Open the gate; returns 0 once exec succeeded, else the exec errno (child exits 126/127). */
int launcher__go(struct launcher *l);
/* Close the gate without running the command (setup failed); reaps the child. */
void launcher__abort(struct launcher *l);
/* Reap what has exited, without waiting; the command's own status is kept. True while some
 * process of the tree is left (the command, or a descendant orphaned to the tool). */
bool launcher__reap(struct launcher *l);
/* Send sig to the command and every process below the tool (a daemon has left the command's
 * process group and session: signalling the group would miss it). */
void launcher__signal_tree(struct launcher *l, int sig);
#endif
