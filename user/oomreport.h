/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What the reports say when memory ran out: the OOM kill, the run's cgroup (--limit) and what
 * grew in the seconds before the end (--growth-window), for the summary, JSON and HTML. */
#ifndef TM_OOMREPORT_H
#define TM_OOMREPORT_H
#include <stdio.h>
#include "report.h"

#define GROWTH_WINDOW_DEFAULT_NS 5000000000ull

/* Each merged stack's growth over [from, to] (ns since start) and its bytes at to. */
struct growth {
	uint64_t from, to;
	const char *end;          /* "oom", "exit" (the command's) or "run" */
	struct stack_row *rows;   /* report__rows */
	uint32_t *row_of;
	size_t nrows;
	int64_t *grew, *at_end;   /* per row */
	int64_t total;            /* the growth of the rows that grew */
	uint32_t *order;          /* rows that grew, most first */
	size_t ngrew;
};

/* Filled when the tree was OOM-killed or --growth-window was given; else false. */
bool growth__compute(const struct account *a, const struct report_info *ri, struct growth *g);
void growth__free(struct growth *g);

/* Summary: the OOM kill and the cgroup, under the run's first line */
void oomreport__summary_head(FILE *f, const struct account *a);
/* Summary: the kernel's share (kernel.h) and what the run costs the machine, under the RSS
 * breakdown (rss_peak: its headline) */
void oomreport__summary_kernel(FILE *f, const struct account *a, int64_t rss_peak);
/* JSON: the "kernel" key (absent when no cgroup held the tree) */
void oomreport__json_kernel(FILE *f, const struct account *a, int64_t rss_peak);
/* Summary: what grew before the end */
void oomreport__summary_growth(FILE *f, const struct account *a, const struct report_info *ri);
/* JSON: the "oom", "cgroup" and "growth_before_end" keys (each only when there is one) */
void oomreport__json(FILE *f, const struct account *a, const struct report_info *ri);
/* HTML data: "oom", "cgroup", "kernel" and "growth" (rows as the page's, by row_of) */
void oomreport__html(FILE *f, const struct account *a, const struct report_info *ri);
#endif
