/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The tool's own JSON reports (schema taskmem-trace/2) read back, for `diff` and `scale`: the
 * peak's stacks, categories and totals. A report is untrusted input: its size is bounded, every
 * field checked, and any other schema refused. */
#ifndef TM_JREPORT_H
#define TM_JREPORT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include "labels.h"

/* Reports larger than this are refused (the parsed tree takes several times the file). */
#define JREPORT_MAX_BYTES (256ull << 20)

/* A stack at the peak: one per process x label x frames, as the report lists them, plus one
 * for the unattributed bytes (label "other/[unattributed]", no frames; negative when the stacks
 * hold more than the tree's RSS) so that the rows add up to rss_bytes. Strings are interned. */
struct jrow {
	const char *label;     /* "stack/thread" */
	int cat;               /* enum tm_cat */
	const char **frames;   /* innermost first */
	int nframes;
	int64_t bytes;
};

/* The kernel's share at its peak (the run JSON's `kernel` object): its parts, named as the JSON
 * names them less "_bytes". */
enum { KPART_STACK, KPART_PAGETABLES, KPART_SOCK, KPART_SLAB, KPART_TOTAL, NR_KPARTS };
extern const char *const kpart_names[NR_KPARTS];  /* "kernel_stack", ..., "total" */
extern const char *const kpart_text[NR_KPARTS];   /* the summaries': "kernel stacks", ... */

struct jreport {
	const char *path;
	const char **command;  /* argv, interned */
	int argc;
	int exit_code;
	double duration_s;
	int64_t rss_bytes;     /* the tree's peak, each page once */
	int64_t dropped;       /* events.dropped: records the run lost (its stacks may be off) */
	int64_t cats[NR_CATS];
	bool has_kernel;       /* the run had a `kernel` object (a memory cgroup held the tree) */
	int64_t kernel[NR_KPARTS];
	struct jrow *rows;
	size_t nrows;
};

/* 0, or -errno / -EINVAL with a one-line reason in msg. */
int jreport__load(const char *path, struct jreport **out, char *msg, size_t len);
void jreport__free(struct jreport *r);
/* A row's first max frames on one line for the terminal (escaped), " <- " between them. */
void jrow__write_stack(FILE *f, const struct jrow *r, int max);

/* The stacks of several reports lined up: one key per label and frames (the processes merged,
 * as the summary merges them), with its bytes in each report (0 where it is absent). */
struct jkey {
	const struct jrow *row;  /* its label, category and frames (from the first report with it) */
	int64_t *bytes;          /* [nreports] */
};
/* 0 or -ENOMEM; *keys freed with jkeys__free. */
int jkeys__build(struct jreport *const *reps, int nreps, struct jkey **keys, size_t *n);
void jkeys__free(struct jkey *keys, size_t n);
#endif
