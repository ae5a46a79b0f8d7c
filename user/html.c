// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* --html: one self-contained page (no network when viewed): the page's code, user/report.html,
 * is built into the binary, and the run's data goes into it as a JSON block that the page's
 * script turns into the flame graph and the timeline. The pages of scale and diff are the same
 * page with user/report_diff.js written into its script: one flame graph for both. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "hashmap.h"
#include "jreport.h"
#include "oomreport.h"
#include "outfile.h"
#include "report.h"
#include "strtab.h"
#include "tracer.h"
#include "util.h"

/* The template and the differential pages' code, embedded at build time (the Makefile makes
 * html.o depend on them). */
__asm__(".section .rodata\n"
	".global tm_html_template\n"
	"tm_html_template:\n"
	".incbin \"user/report.html\"\n"
	".byte 0\n"
	".global tm_html_diff_code\n"
	"tm_html_diff_code:\n"
	".incbin \"user/report_diff.js\"\n"
	".byte 0\n"
	".previous\n");
extern const char tm_html_template[], tm_html_diff_code[];

#define DATA_MARK "/*TASKMEM_DATA*/"
#define DIFF_MARK "/*TASKMEM_DIFF*/"

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
	if (view__sample_bytes(a))
		fprintf(f, ",\"sampled\":{\"bytes\":%llu,\"chance\":%.9f}", (unsigned long long)view__sample_bytes(a),
			view__sample_chance(a));
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

/* At most this many timeline samples go into the page, so its data (and the time the page takes
 * to read it) stays bounded however long the run: the longest runs keep, per one of
 * HTML_MAX_SAMPLES / 4 equal spans of time, the span's first, lowest, highest and last sample, so
 * every peak a drawing of that width shows is there, and the exact peak is always kept. */
#define HTML_MAX_SAMPLES 4000

/* Which samples the page gets (keep[i]), from their times and tree totals. */
static void pick_samples(const struct account *a, bool *keep)
{
	size_t i, ns = view__nsamples(a), nspan = HTML_MAX_SAMPLES / 4, span, lo = 0, hi = 0, first = 0;
	uint64_t t0 = 0, t1 = 0;
	int64_t *k = xcalloc(ns + 1, sizeof(*k));
	uint64_t *t = xcalloc(ns + 1, sizeof(*t));

	for (i = 0; i < ns; i++) {
		struct view_sample vs;

		view__sample(a, i, &vs);
		t[i] = vs.t;
		k[i] = vs.tree;
		keep[i] = ns <= HTML_MAX_SAMPLES || vs.absolute;
		if (!i)
			t0 = vs.t;
		t1 = vs.t > t1 ? vs.t : t1;
	}
	for (i = 0; i < ns && ns > HTML_MAX_SAMPLES; i++) {
		span = t1 > t0 ? (size_t)((double)(t[i] - t0) / (t1 - t0 + 1) * nspan) : 0;
		if (i == 0 || span != (size_t)((double)(t[first] - t0) / (t1 - t0 + 1) * nspan)) {
			if (i) /* the span before ends */
				keep[first] = keep[lo] = keep[hi] = keep[i - 1] = true;
			first = lo = hi = i;
		}
		lo = k[i] < k[lo] ? i : lo;
		hi = k[i] > k[hi] ? i : hi;
	}
	if (ns > HTML_MAX_SAMPLES)
		keep[first] = keep[lo] = keep[hi] = keep[ns - 1] = true;
	free(k);
	free(t);
}

/* The timeline; each sample carries its rows' bytes: those that changed since the previous
 * sample in the page, or all of them for the exact peak (absolute, inserted out of order), and
 * the processes that changed since then (the page carries the others' last values forward). */
static void put_samples(FILE *f, const struct account *a, const uint32_t *row_of, size_t nrows)
{
	size_t np = view__nprocs(a), ns = view__nsamples(a), i, j, nch = 0, npch = 0, out = 0;
	int64_t *bval = xcalloc(view__nbuckets(a) + 1, sizeof(*bval));
	int64_t *rval = xcalloc(nrows + 1, sizeof(*rval)), *tmp = xcalloc(nrows + 1, sizeof(*tmp));
	size_t *stamp = xcalloc(nrows + 1, sizeof(*stamp)), *changed = xcalloc(nrows + 1, sizeof(*changed));
	size_t *atmp = xcalloc(nrows + 1, sizeof(*atmp)), *astamp = xcalloc(nrows + 1, sizeof(*astamp));
	/* each process's last values, and which changed since the last sample written */
	struct sample_proc *pv = xcalloc(np + 1, sizeof(*pv));
	size_t *pstamp = xcalloc(np + 1, sizeof(*pstamp)), *pch = xcalloc(np + 1, sizeof(*pch));
	bool *keep = xcalloc(ns + 1, sizeof(*keep));

	pick_samples(a, keep);
	fprintf(f, ",\n\"samples\":[");
	for (i = 0; i < ns; i++) {
		struct view_sample vs, *s = &vs;
		size_t na = 0;

		view__sample(a, i, s);
		if (s->absolute) {
			/* the peak, whole: the changes pending for the next sample stay pending */
			memset(tmp, 0, nrows * sizeof(*tmp));
			for (j = 0; j < s->nbuckets; j++) {
				uint32_t r = row_of[s->buckets[j].bucket];

				if (astamp[r] != i + 1) {
					astamp[r] = i + 1;
					atmp[na++] = r;
				}
				tmp[r] += s->buckets[j].cur;
			}
		} else {
			for (j = 0; j < s->nprocs; j++) {
				uint32_t p = s->procs[j].proc;

				pv[p] = s->procs[j];
				if (pstamp[p] != out + 1) {
					pstamp[p] = out + 1;
					pch[npch++] = p;
				}
			}
			for (j = 0; j < s->nbuckets; j++) {
				const struct sample_bucket *sb = &s->buckets[j];
				uint32_t r = row_of[sb->bucket];

				rval[r] += sb->cur - bval[sb->bucket];
				bval[sb->bucket] = sb->cur;
				if (stamp[r] != out + 1) {
					stamp[r] = out + 1;
					changed[nch++] = r;
				}
			}
		}
		if (!keep[i])
			continue;
		fprintf(f, "%s{\"t\":%.6f,\"k\":%lld,\"c\":[", out ? ",\n" : "", s->t / 1e9, (long long)s->tree);
		put_cats(f, s->cat);
		fprintf(f, "],\"p\":[");
		for (j = 0; j < (s->absolute ? s->nprocs : npch); j++) {
			const struct sample_proc *sp = s->absolute ? &s->procs[j] : &pv[pch[j]];

			fprintf(f, "%s[%u,%lld,", j ? "," : "", sp->proc, (long long)sp->kernel);
			put_cats(f, sp->cat);
			fprintf(f, "]");
		}
		fprintf(f, "],%s:[", s->absolute ? "\"abs\":1,\"r\"" : "\"r\"");
		for (j = 0; j < (s->absolute ? na : nch); j++) {
			size_t r = s->absolute ? atmp[j] : changed[j];

			fprintf(f, "%s%zu,%lld", j ? "," : "", r, (long long)(s->absolute ? tmp[r] : rval[r]));
		}
		fprintf(f, "]}");
		if (!s->absolute) {
			nch = npch = 0;
			out++;
		}
	}
	fprintf(f, "]");
	free(bval);
	free(rval);
	free(tmp);
	free(atmp);
	free(astamp);
	free(stamp);
	free(changed);
	free(pv);
	free(pstamp);
	free(pch);
	free(keep);
}

/* The template with the page's data at its data mark and, for a differential page, its code at
 * the other mark (a run's page has nothing there). */
static int write_page(const char *path, void (*data)(FILE *f, const void *ctx), const void *ctx, bool diff)
{
	const char *mark = strstr(tm_html_template, DATA_MARK), *dmark = strstr(tm_html_template, DIFF_MARK);
	struct outfile o;
	int err;

	if (!mark || !dmark || dmark < mark) { /* a build error, not the user's */
		p_err("the HTML template has no data or code marker");
		return -EINVAL;
	}
	err = outfile__open(&o, path);
	if (err)
		return err;
	fwrite(tm_html_template, 1, mark - tm_html_template, o.f);
	data(o.f, ctx);
	mark += strlen(DATA_MARK);
	fwrite(mark, 1, dmark - mark, o.f);
	if (diff)
		fputs(tm_html_diff_code, o.f);
	fputs(dmark + strlen(DIFF_MARK), o.f);
	return outfile__close(&o);
}

struct run_page {
	const struct account *a;
	const struct report_info *ri;
};

static void put_run(FILE *f, const void *ctx)
{
	const struct run_page *p = ctx;
	uint32_t *row_of = xcalloc(view__nbuckets(p->a) + 1, sizeof(*row_of));
	struct stack_row *rows;
	size_t nrows;

	rows = report__rows(p->a, row_of, &nrows);
	put_header(f, p->a, p->ri);
	put_procs(f, p->a);
	put_rows(f, rows, nrows);
	put_samples(f, p->a, row_of, nrows);
	oomreport__html(f, p->a, p->ri);
	fputs("}\n", f);
	free(rows);
	free(row_of);
}

int report__html(const char *path, const struct account *a, const struct report_info *ri)
{
	struct run_page p = { a, ri };

	return write_page(path, put_run, &p, false);
}

/* ---- the pages of scale and diff ---- */

struct diff_page {
	const struct jrow *const *rows;
	size_t n;
	const char *const *argv;
	int argc;
	void (*put)(FILE *f, const void *ctx);
	const void *ctx;
};

/* The run page's members the shared code reads (no process, no timeline), the stacks as its
 * rows (process 0, frames outermost first) and the caller's "diff" member. */
static void put_diff(FILE *f, const void *ctx)
{
	const struct diff_page *p = ctx;
	struct names nm = { .idx = hashmap__new() };
	const char *unattributed = intern("other/[unattributed]");
	size_t i;
	int k;

	fprintf(f, "{\"schema\":\"taskmem-trace-html/1\",\"command\":[");
	for (k = 0; k < p->argc; k++) {
		fputs(k ? "," : "", f);
		json_str(f, p->argv[k]);
	}
	fprintf(f, "],\"cats\":[");
	for (k = 0; k < NR_CATS; k++)
		fprintf(f, "%s\"%s\"", k ? "," : "", cat_names[k]);
	fprintf(f, "],\"procs\":[],\"samples\":[],\n\"rows\":[");
	for (i = 0; i < p->n; i++) {
		const struct jrow *r = p->rows[i];

		fprintf(f, "%s[0,%d,%zu,[", i ? ",\n" : "", r->cat, name_idx(&nm, r->label));
		/* the bytes no stack holds are a label of their own, as in a run's page */
		if (!r->nframes && r->label != unattributed)
			fprintf(f, "%zu", name_idx(&nm, intern("[no user stack]")));
		for (k = r->nframes - 1; k >= 0; k--)
			fprintf(f, "%s%zu", k == r->nframes - 1 ? "" : ",", name_idx(&nm, r->frames[k]));
		fprintf(f, "]]");
	}
	fprintf(f, "],\n\"names\":[");
	for (i = 0; i < nm.n; i++) {
		fputs(i ? "," : "", f);
		json_str(f, nm.v[i]);
	}
	fprintf(f, "],\n\"diff\":");
	p->put(f, p->ctx);
	fputs("}\n", f);
	hashmap__free(nm.idx);
	free(nm.v);
}

int report__html_diff(const char *path, const struct jrow *const *rows, size_t n, const char *const *argv, int argc,
		      void (*put)(FILE *f, const void *ctx), const void *ctx)
{
	struct diff_page p = { rows, n, argv, argc, put, ctx };

	return write_page(path, put_diff, &p, true);
}
