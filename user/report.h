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
	double cmd_end_s;
	const char *run_as;      /* who the command ran as, when sudo was involved, or NULL */        /* when the command itself exited (its tree may live on), or 0 */
	uint64_t counters[TM_NR_COUNTERS]; /* the kernel's (enum tm_counter), read at the end */
	uint64_t interval_ns;
	int top;                 /* stacks in the summary */
	uint64_t growth_window_ns; /* --growth-window: growth_before_end for any run; 0: default */
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
	uint32_t nprocs;         /* processes whose rows were merged into this one (summary) */
};
/* Every bucket's row, row_of[bucket] = row index (caller frees the rows). */
struct stack_row *report__rows(const struct account *a, uint32_t *row_of, size_t *n);
void json_str(FILE *f, const char *s);
const char *label_text(int id, char *buf, size_t len); /* "category/name" */

/* Where the outputs go (NULL: not asked for) */
struct report_outputs {
	const char *folded, *json, *pprof, *trace, *html;
};
/* Every output asked for, the files first (a terminal or pipe that is gone, SIGPIPE being
 * ignored, loses only itself), then the summary on stderr unless quiet; how many failed. */
int report__write_all(const struct account *a, const struct report_info *ri, const struct report_outputs *o,
		      bool quiet);
void report__summary(FILE *f, const struct account *a, const struct report_info *ri);
/* A stack's innermost five frames on one line of the summary, escaped for the terminal. */
void report__term_frames(FILE *f, const struct symstack *ss);
int report__folded(const char *path, const struct account *a, const struct report_info *ri);
int report__json(const char *path, const struct account *a, const struct report_info *ri);
int report__trace(const char *path, const struct account *a, const struct report_info *ri);
int report__html(const char *path, const struct account *a, const struct report_info *ri);
int report__pprof(const char *path, const struct account *a, const struct report_info *ri);
uint64_t report__dropped(const struct report_info *ri);
/* A profile of samples given as names (diff, scale): each sample's frames innermost first, then
 * its label ("stack/thread") and category as the outermost frames, as report__pprof does. */
struct pprof_sample {
	const char *const *frames;
	int nframes;
	const char *label;
	int cat;                 /* enum tm_cat */
	int64_t value;           /* bytes (inuse_space) */
};
int pprof__write_samples(const char *path, const struct pprof_sample *s, size_t n, double duration_s);
/* Report rep's bytes of stacks lined up by jkeys__build (jreport.h), as a profile. */
struct jkey;
int pprof__write_keys(const char *path, const struct jkey *k, size_t n, int rep, double duration_s);
/* The HTML page of scale or diff (report.html with report_diff.js, a differential flame graph):
 * the stacks rows[0..n) (jreport.h) and the command as the page's; put() writes the page's
 * "diff" member, a JSON object whose per-stack arrays follow rows' order. 0 or -errno. */
struct jrow;
int report__html_diff(const char *path, const struct jrow *const *rows, size_t n, const char *const *argv, int argc,
		      void (*put)(FILE *f, const void *ctx), const void *ctx);
/* Where a pair's base goes: "d.pb.gz" -> "d.base.pb.gz" (else FILE.base), for -diff_base. */
void pprof__base_path(const char *path, char *out, size_t len);

/* counters.c: the rows of include/counters.h, by id */
enum counter_show { CNT_INFO, CNT_ALWAYS, CNT_DROP, CNT_LOSS };
struct counter_info {
	const char *key;      /* in the JSON's "events" */
	const char *wording;  /* in the summary and the HTML report */
	const char *meaning;
	enum counter_show show;
};
extern const struct counter_info tm_counters[TM_NR_ALL_COUNTERS];
/* Every counter by id: the kernel's as given, the user's as they stand now (the reports
 * symbolize stacks as they go, so each reads them where it prints them). */
void counters__collect(const struct account *a, const uint64_t kernel[TM_NR_COUNTERS],
		       uint64_t c[TM_NR_ALL_COUNTERS]);
/* The ring-buffer records lost: the sum of the DROP rows. */
uint64_t counters__dropped(const uint64_t c[TM_NR_ALL_COUNTERS]);
/* A DROP or LOSS row: shown, and warned about, when it is not 0. */
bool counters__loss(int id);
#endif
