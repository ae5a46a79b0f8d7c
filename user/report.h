/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The outputs: terminal summary, folded stacks, JSON. Files are written to a temporary name
 * and renamed, so a file that exists is complete. */
#ifndef TM_REPORT_H
#define TM_REPORT_H
#include <stdio.h>
#include "view.h"
#include <linux/types.h>
#include "taskmem.h"

struct report_info {
	char **argv;
	int argc;
	int exit_code;           /* what the tool exits with: the command's code, 128+N on signal */
	const char *exit_desc;   /* "exited with 0", "killed by SIGKILL" ... */
	double duration_s;
	uint64_t counters[TM_NR_COUNTERS];
	uint64_t interval_ns;
	int top;                 /* stacks in the summary */
};

/* Stacks merged by process, label and symbolized frames (other return addresses in the same
 * functions are one row). */
struct stack_row {
	pid_t pid;               /* 0 without a process */
	int proc_idx;            /* -1 without a process */
	int label;
	const struct symstack *ss;
	int64_t bytes;
	uint32_t bucket;
};
/* Every bucket's row, row_of[bucket] = row index (caller frees the rows). */
struct stack_row *report__rows(const struct account *a, uint32_t *row_of, size_t *n);
void json_str(FILE *f, const char *s);
const char *label_text(int id, char *buf, size_t len); /* "category/name" */

void report__summary(FILE *f, const struct account *a, const struct report_info *ri);
int report__folded(const char *path, const struct account *a, const struct report_info *ri);
int report__json(const char *path, const struct account *a, const struct report_info *ri);
int report__trace(const char *path, const struct account *a, const struct report_info *ri);
int report__html(const char *path, const struct account *a, const struct report_info *ri);
int report__pprof(const char *path, const struct account *a, const struct report_info *ri);
uint64_t report__dropped(const struct report_info *ri);
#endif
