/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Output files written under a temporary name and renamed when complete, so that a file that
 * exists is never a truncated one; a path that is not a regular file (/dev/null, /dev/stdout, a
 * FIFO) is written in place, never replaced. */
#ifndef TM_OUTFILE_H
#define TM_OUTFILE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

struct outfile {
	FILE *f;
	char tmp[4096];
	const char *path;
	bool direct; /* written in place: no temporary file, no rename */
};

/* 0 or -errno (reported). */
int outfile__open(struct outfile *o, const char *path);
/* Flush, sync and rename; on any error the temporary file is removed. 0 or -errno (reported). */
int outfile__close(struct outfile *o);
/* Give up: close, and remove the temporary file (nothing is renamed). */
void outfile__discard(struct outfile *o);
/* Check up front that path can be created (so a run is not wasted); 0 or -errno. */
int outfile__check_writable(const char *path);
/* The HTML report's name when no output is given: taskmem-COMM-DATE.html (pidN with -p), here
 * or in /tmp. */
const char *outfile__default_html(char *buf, size_t len, const char *cmd, pid_t attach_pid);
#endif
