/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Starts the command held at a gate: it execs only once the tracer follows its pid, so no
 * event of the command is missed. */
#ifndef TM_LAUNCHER_H
#define TM_LAUNCHER_H
#include <sys/types.h>

struct launcher {
	pid_t pid;
	int go_fd;   /* write end: one byte lets the child exec */
	int err_fd;  /* read end: the child's errno if exec failed, EOF if it succeeded */
};

/* Fork the child, which waits at the gate. 0 or -errno. */
int launcher__fork(struct launcher *l, char *const argv[]);
/* Open the gate; returns 0 once exec succeeded, else the exec errno (child exits 126/127). */
int launcher__go(struct launcher *l);
/* Close the gate without running the command (setup failed); reaps the child. */
void launcher__abort(struct launcher *l);
#endif
