// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* --html: one self-contained page (no network when viewed): the page's code, user/report.html,
 * is built into the binary, and the run's data goes into it as a JSON block that the page's
 * script turns into the flame graph and the timeline. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "hashmap.h"
#include "outfile.h"
#include "report.h"
#include "strtab.h"
#include "tracer.h"
#include "util.h"

/* The template, embedded at build time (the Makefile makes html.o depend on it). */
__asm__(".section .rodata\n"
	".global tm_html_template\n"
	"tm_html_template:\n"
	".incbin \"user/report.html\"\n"
	".byte 0\n"
	".previous\n");
extern const char tm_html_template[];

#define DATA_MARK "/*TASKMEM_DATA*/"

/* Frame names as indices into one string table, so a page with many stacks stays small. */
struct names {
	struct hashmap *idx; /* interned pointer -> index */
	const char **v;
	size_t n, cap;
};

static size_t name_idx(struct names *nm, const char *s)
{
	bool created;
	uint64_t *slot = hashmap__upsert(nm->idx, (uint64_t)(uintptr_t)s, &created);

	if (created) {
		GROW(nm->v, nm->cap, nm->n + 1);
		nm->v[nm->n] = s;
		*slot = nm->n++;
	}
	return (size_t)*slot;
}

static void put_cats(FILE *f, const int64_t c[NR_CATS])
{
	int k;

	for (k = 0; k < NR_CATS; k++)
		fprintf(f, "%s%lld", k ? "," : "", (long long)c[k]);
}

static void put_header(FILE *f, const struct account *a, const struct report_info *ri)
{
	uint64_t cnt[TM_NR_ALL_COUNTERS];
	struct view_totals t;
	int c;

	view__totals(a, &t);
	fprintf(f, "{\"schema\":\"taskmem-trace-html/1\",\"command\":[");
	for (c = 0; c < ri->argc; c++) {
		fprintf(f, "%s", c ? "," : "");
		json_str(f, ri->argv[c]);
	}
	fprintf(f, "],\"exit_code\":%d,\"exit\":", ri->exit_code);
	json_str(f, ri->exit_desc);
	/* peak_bytes: the tree's, each page once; peak_sum_bytes: the sum of the processes' RSS */
	fprintf(f, ",\"duration_s\":%.6f,\"interval_s\":%.6f,\"peak_t_s\":%.6f,\"peak_bytes\":%lld,\"peak_sum_bytes\":%lld",
		ri->duration_s, ri->interval_ns / 1e9,
		t.peak_ts > t.start_ts ? (t.peak_ts - t.start_ts) / 1e9 : 0.0, (long long)t.peak_tree,
		(long long)t.peak_kernel);
	/* the summary's facts: [wording, value, is a loss] */
	counters__collect(a, ri->counters, cnt);
	fprintf(f, ",\"events\":[");
	for (c = 0; c < TM_NR_ALL_COUNTERS; c++)
		if (tm_counters[c].show == CNT_ALWAYS)
			fprintf(f, "[\"%s\",%llu,0],", tm_counters[c].wording, (unsigned long long)cnt[c]);
	fprintf(f, "[\"dropped\",%llu,1]", (unsigned long long)counters__dropped(cnt));
	for (c = 0; c < TM_NR_ALL_COUNTERS; c++)
		if (counters__loss(c) && cnt[c])
			fprintf(f, ",[\"%s\",%llu,1]", tm_counters[c].wording, (unsigned long long)cnt[c]);
	fprintf(f, "],\"frames\":%llu,\"frames_unsymbolized\":%llu", (unsigned long long)cnt[TM_CNT_FRAMES],
		(unsigned long long)cnt[TM_CNT_FRAMES_UNSYMBOLIZED]);
	fprintf(f, ",\"cats\":[");
	for (c = 0; c < NR_CATS; c++)
		fprintf(f, "%s\"%s\"", c ? "," : "", cat_names[c]);
	fprintf(f, "]");
}

static void put_procs(FILE *f, const struct account *a)
{
	size_t i, np = view__nprocs(a);

	fprintf(f, ",\n\"procs\":[");
	for (i = 0; i < np; i++) {
		struct view_proc p;

		view__proc(a, i, &p);
		fprintf(f, "%s", i ? ",\n" : "");
		if (p.prelaunch) {
			fprintf(f, "null");
			continue;
		}
		fprintf(f, "{\"pid\":%d,\"image\":%u,\"comm\":", p.pid, p.image);
		json_str(f, p.comm);
		fprintf(f, ",\"exe\":");
		json_str(f, p.exe);
		fprintf(f, ",\"peak\":%lld,\"exit_code\":%d}", (long long)p.own_peak, p.exit_code);
	}
	fprintf(f, "]");
}

/* Rows (process, label, frames outermost first) and the string table they index. */
static void put_rows(FILE *f, const struct stack_row *rows, size_t nrows)
{
	struct names nm = { .idx = hashmap__new() };
	size_t i;
	int k;

	fprintf(f, ",\n\"rows\":[");
	for (i = 0; i < nrows; i++) {
		const struct symstack *ss = rows[i].ss;
		const struct label *l = label_get(rows[i].label);

		fprintf(f, "%s[%d,%d,%zu,[", i ? ",\n" : "", rows[i].proc_idx,
			(int)l->cat, name_idx(&nm, l->name));
		if (!ss || !ss->n)
			fprintf(f, "%zu", name_idx(&nm, intern("[no user stack]")));
		for (k = ss ? ss->n - 1 : -1; k >= 0; k--)
			fprintf(f, "%s%zu", k == ss->n - 1 ? "" : ",", name_idx(&nm, ss->frames[k]));
		fprintf(f, "]]");
	}
	fprintf(f, "],\n\"names\":[");
	for (i = 0; i < nm.n; i++) {
		fprintf(f, "%s", i ? "," : "");
		json_str(f, nm.v[i]);
	}
	fprintf(f, "]");
	hashmap__free(nm.idx);
	free(nm.v);
}

/* The timeline; each sample carries its rows' bytes: those that changed since the previous
 * sample, or all of them for the exact peak (absolute, inserted out of order). */
static void put_samples(FILE *f, const struct account *a, const uint32_t *row_of, size_t nrows)
{
	int64_t *bval = xcalloc(view__nbuckets(a) + 1, sizeof(*bval));
	int64_t *rval = xcalloc(nrows + 1, sizeof(*rval)), *tmp = xcalloc(nrows + 1, sizeof(*tmp));
	size_t *stamp = xcalloc(nrows + 1, sizeof(*stamp)), *changed = xcalloc(nrows + 1, sizeof(*changed));
	size_t i, j, nch, ns = view__nsamples(a);

	fprintf(f, ",\n\"samples\":[");
	for (i = 0; i < ns; i++) {
		struct view_sample vs, *s = &vs;
		int64_t *vals;

		view__sample(a, i, s);
		vals = s->absolute ? tmp : rval;
		fprintf(f, "%s{\"t\":%.6f,\"k\":%lld,\"c\":[", i ? ",\n" : "", s->t / 1e9, (long long)s->tree);
		put_cats(f, s->cat);
		fprintf(f, "],\"p\":[");
		for (j = 0; j < s->nprocs; j++) {
			const struct sample_proc *sp = &s->procs[j];

			fprintf(f, "%s[%u,%lld,", j ? "," : "", sp->proc, (long long)sp->kernel);
			put_cats(f, sp->cat);
			fprintf(f, "]");
		}
		nch = 0;
		if (s->absolute)
			memset(tmp, 0, nrows * sizeof(*tmp));
		for (j = 0; j < s->nbuckets; j++) {
			const struct sample_bucket *sb = &s->buckets[j];
			uint32_t r = row_of[sb->bucket];

			if (s->absolute) {
				tmp[r] += sb->cur;
			} else {
				rval[r] += sb->cur - bval[sb->bucket];
				bval[sb->bucket] = sb->cur;
			}
			if (stamp[r] != i + 1) {
				stamp[r] = i + 1;
				changed[nch++] = r;
			}
		}
		fprintf(f, "],%s:[", s->absolute ? "\"abs\":1,\"r\"" : "\"r\"");
		for (j = 0; j < nch; j++)
			fprintf(f, "%s%zu,%lld", j ? "," : "", changed[j], (long long)vals[changed[j]]);
		fprintf(f, "]}");
	}
	fprintf(f, "]");
	free(bval);
	free(rval);
	free(tmp);
	free(stamp);
	free(changed);
}

int report__html(const char *path, const struct account *a, const struct report_info *ri)
{
	const char *mark = strstr(tm_html_template, DATA_MARK);
	uint32_t *row_of = xcalloc(view__nbuckets(a) + 1, sizeof(*row_of));
	struct stack_row *rows;
	struct outfile o;
	size_t nrows;
	int err;

	if (!mark) { /* a build error, not the user's */
		p_err("the HTML template has no data marker");
		free(row_of);
		return -EINVAL;
	}
	err = outfile__open(&o, path);
	if (err) {
		free(row_of);
		return err;
	}
	rows = report__rows(a, row_of, &nrows);
	fwrite(tm_html_template, 1, mark - tm_html_template, o.f);
	put_header(o.f, a, ri);
	put_procs(o.f, a);
	put_rows(o.f, rows, nrows);
	put_samples(o.f, a, row_of, nrows);
	fputs("}\n", o.f);
	fputs(mark + strlen(DATA_MARK), o.f);
	free(rows);
	free(row_of);
	return outfile__close(&o);
}
