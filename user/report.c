// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "outfile.h"
#include "escape.h"
#include "oomreport.h"
#include "report.h"
#include "tracer.h"
#include "util.h"

#define MIB (1024.0 * 1024.0)

/* Categories at the tree's peak; bytes nobody could be credited with go to other. */
static void peak_categories(const struct view_totals *t, int64_t out[NR_CATS], int64_t *unattributed)
{
	*unattributed = categories_with_unattributed(t->peak_cat, t->peak_tree, out);
}

static void bucket_row(const struct account *a, size_t i, struct stack_row *r, struct view_bucket *bk)
{
	view__bucket(a, i, bk);
	r->pid = bk->pid;
	r->proc_idx = bk->proc_idx;
	r->label = bk->label;
	r->ss = bk->stack;
	r->bucket = (uint32_t)i;
}


/* The same label and frames, whatever the process */
static int cmp_row_stack(const void *x, const void *y)
{
	const struct stack_row *a = x, *b = y;
	int na = a->ss ? a->ss->n : 0, nb = b->ss ? b->ss->n : 0, k;

	if (a->label != b->label)
		return a->label < b->label ? -1 : 1;
	if (na != nb)
		return na < nb ? -1 : 1;
	for (k = 0; k < na; k++) /* interned: equal names are equal pointers */
		if (a->ss->frames[k] != b->ss->frames[k])
			return strcmp(a->ss->frames[k], b->ss->frames[k]);
	return 0;
}

static int cmp_row_key(const void *x, const void *y)
{
	const struct stack_row *a = x, *b = y;

	if (a->proc_idx != b->proc_idx) /* in order of appearance, not of where malloc put them */
		return a->proc_idx < b->proc_idx ? -1 : 1;
	return cmp_row_stack(x, y);
}

static int cmp_row_bytes(const void *x, const void *y)
{
	const struct stack_row *a = x, *b = y;

	return a->bytes < b->bytes ? 1 : a->bytes > b->bytes ? -1 : 0;
}

/* Rows (one per process) of the same stack as one, with the processes counted: a server's
 * sixteen workers' identical stack is one line "x16 processes". Largest first. */
static size_t merge_over_procs(struct stack_row *r, size_t n)
{
	size_t i, m = 0;

	qsort(r, n, sizeof(*r), cmp_row_stack);
	for (i = 0; i < n; i++) {
		if (m && !cmp_row_stack(&r[m - 1], &r[i])) {
			r[m - 1].bytes += r[i].bytes;
			r[m - 1].nprocs++;
		} else {
			r[m] = r[i];
			r[m++].nprocs = 1;
		}
	}
	qsort(r, m, sizeof(*r), cmp_row_bytes);
	return m;
}

/* Stacks with bytes at the peak, merged, largest first (caller frees). */
static struct stack_row *peak_rows(const struct account *a, size_t *n)
{
	size_t i, m = 0, nb = view__nbuckets(a);
	struct stack_row *r = xcalloc(nb, sizeof(*r));
	struct view_bucket bk;

	*n = 0;
	for (i = 0; i < nb; i++) {
		bucket_row(a, i, &r[*n], &bk);
		if (bk.peak <= 0)
			continue;
		r[*n].bucket = 0;
		r[(*n)++].bytes = bk.peak;
	}
	qsort(r, *n, sizeof(*r), cmp_row_key);
	for (i = 0; i < *n; i++) {
		if (m && !cmp_row_key(&r[m - 1], &r[i]))
			r[m - 1].bytes += r[i].bytes;
		else
			r[m++] = r[i];
	}
	*n = m;
	qsort(r, m, sizeof(*r), cmp_row_bytes);
	return r;
}

struct stack_row *report__rows(const struct account *a, uint32_t *row_of, size_t *n)
{
	size_t i, m = 0, nb = view__nbuckets(a);
	struct stack_row *r = xcalloc(nb ? nb : 1, sizeof(*r));
	struct view_bucket bk;

	for (i = 0; i < nb; i++)
		bucket_row(a, i, &r[i], &bk);
	qsort(r, nb, sizeof(*r), cmp_row_key);
	for (i = 0; i < nb; i++) {
		if (!m || cmp_row_key(&r[m - 1], &r[i]))
			r[m++] = r[i];
		row_of[r[i].bucket] = (uint32_t)(m - 1);
	}
	*n = m;
	return r;
}

static int cmp_proc_peak(const void *x, const void *y)
{
	const struct view_proc *a = *(const struct view_proc *const *)x, *b = *(const struct view_proc *const *)y;

	return a->own_peak < b->own_peak ? 1 : a->own_peak > b->own_peak ? -1 : 0;
}

const char *label_text(int id, char *buf, size_t len)
{
	const struct label *l = label_get(id);

	snprintf(buf, len, "%s/%s", cat_names[l->cat], l->name);
	return buf;
}

/* s escaped for the terminal, then spaces up to width columns (bytes, as printf's %-Ns) */
static void term_padded(FILE *f, const char *s, int width)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	if (m) {
		esc_term(m, s);
		fclose(m);
	}
	fprintf(f, "%-*s", width, buf ? buf : "");
	free(buf);
}

/* Processes that ran on after the command itself exited (daemons): the run waited for them. */
static void print_outlived(FILE *f, const struct account *a, const struct report_info *ri)
{
	size_t i, n = 0, np = view__nprocs(a);
	struct view_totals t;

	if (!ri->cmd_end_s)
		return;
	view__totals(a, &t);
	for (i = 0; i < np; i++) {
		struct view_proc p;
		double end;

		view__proc(a, i, &p);
		end = p.end_ts > t.start_ts ? (p.end_ts - t.start_ts) / 1e9 : ri->duration_s;
		if (p.prelaunch || end <= ri->cmd_end_s + 0.01)
			continue;
		if (!n++)
			fprintf(f, "outlived the command (it exited at %.2f s):", ri->cmd_end_s);
		if (n <= 5) {
			fprintf(f, "%s pid %d ", n > 1 ? "," : "", p.pid);
			esc_term(f, p.comm);
			fprintf(f, " until %.2f s%s", end, p.end_ts ? "" : " (still running)");
		}
	}
	if (n > 5)
		fprintf(f, " and %zu more", n - 5);
	if (n)
		fputc('\n', f);
}

/* The ten process images with the highest own peak, with their categories then. */
static void print_processes(FILE *f, const struct account *a)
{
	size_t i, shown = 0, counted = 0, np = view__nprocs(a);
	struct view_proc *procs = xcalloc(np ? np : 1, sizeof(*procs));
	const struct view_proc **sorted = xcalloc(np ? np : 1, sizeof(*sorted));
	int c;

	for (i = 0; i < np; i++) {
		view__proc(a, i, &procs[i]);
		sorted[i] = &procs[i];
	}
	qsort(sorted, np, sizeof(*sorted), cmp_proc_peak);
	/* "kernel" is the kernel's own high-water mark for the pid (all its images), at its exit */
	fprintf(f, "processes (by own peak, MiB):\n  %7s %-16s %9s %9s", "pid", "comm", "peak", "kernel");
	for (c = 0; c < NR_CATS; c++)
		fprintf(f, " %9s", cat_names[c]);
	fputc('\n', f);
	for (i = 0; i < np; i++) {
		const struct view_proc *p = sorted[i];
		int64_t pc[NR_CATS];

		if (p->prelaunch || !p->own_peak)
			continue;
		counted++;
		if (shown == 10)
			continue;
		categories_with_unattributed(p->own_peak_cat, p->own_peak, pc);
		fprintf(f, "  %7d ", p->pid);
		term_padded(f, p->comm, 16);
		fprintf(f, " %9.1f", p->own_peak / MIB);
		if (p->kernel_hiwater)
			fprintf(f, " %9.1f", p->kernel_hiwater / MIB);
		else
			fprintf(f, " %9s", "-");
		for (c = 0; c < NR_CATS; c++)
			fprintf(f, " %9.1f", pc[c] / MIB);
		fputc('\n', f);
		shown++;
	}
	if (counted > shown)
		fprintf(f, "  ... and %zu more (see --json)\n", counted - shown);
	free(sorted);
	free(procs);
}

void report__term_frames(FILE *f, const struct symstack *ss)
{
	int k;

	for (k = 0; ss && k < ss->n && k < 5; k++) {
		fputs(k ? " <- " : " ", f);
		esc_term(f, ss->frames[k]);
	}
	if (ss && ss->n > 5)
		fprintf(f, " <- ...");
	if (!ss || !ss->n)
		fprintf(f, " [no user stack]");
}

void report__summary(FILE *f, const struct account *a, const struct report_info *ri)
{
	uint64_t cnt[TM_NR_ALL_COUNTERS];
	int64_t cats[NR_CATS], unattr;
	struct view_totals t;
	struct stack_row *top;
	size_t n, i, np = view__nprocs(a);
	int c;

	view__totals(a, &t);
	peak_categories(&t, cats, &unattr);
	fprintf(f, "\n== taskmem-trace: ");
	esc_term(f, ri->argv[0]);
	for (c = 1; c < ri->argc && c < 6; c++) {
		fputc(' ', f);
		esc_term(f, ri->argv[c]);
	}
	fprintf(f, "%s -- %s, %.2f s\n", ri->argc > 6 ? " ..." : "", ri->exit_desc, ri->duration_s);
	if (ri->run_as)
		fprintf(f, "command run as %s\n", ri->run_as);
	oomreport__summary_head(f, a);
	fprintf(f, "peak resident memory of the tree: %.1f MiB at %.2f s, each page once (sum of the processes' RSS: %.1f MiB)\n",
		t.peak_tree / MIB, t.peak_ts ? (t.peak_ts - t.start_ts) / 1e9 : 0.0,
		t.peak_kernel / MIB);
	for (c = 0; c < NR_CATS; c++)
		fprintf(f, "  %-8s %10.1f MiB  %5.1f%%\n", cat_names[c], cats[c] / MIB,
			t.peak_tree ? 100.0 * cats[c] / t.peak_tree : 0.0);
	if (unattr)
		fprintf(f, "  (other includes %.2f MiB whose pages could not be credited to a stack)\n", unattr / MIB);
	oomreport__summary_kernel(f, a, t.peak_tree);

	print_processes(f, a);
	print_outlived(f, a, ri);

	top = peak_rows(a, &n);
	n = merge_over_procs(top, n);
	if (view__sample_bytes(a))
		fprintf(f, "top stacks at the peak, estimated (--sample-bytes %llu: a stack walked for one record of growth "
			   "in %.0f, %llu not walked; [unsampled]: the rest of a label):\n",
			(unsigned long long)view__sample_bytes(a), 1 / view__sample_chance(a),
			(unsigned long long)view__stats(a)->unsampled);
	else
		fprintf(f, "top stacks at the peak:\n");
	for (i = 0; i < n && i < (size_t)ri->top; i++) {
		char lb[128];

		fprintf(f, "  %9.1f MiB  ", top[i].bytes / MIB);
		term_padded(f, label_text(top[i].label, lb, sizeof(lb)), 22);
		report__term_frames(f, top[i].ss);
		if (top[i].nprocs > 1)
			fprintf(f, "  (x%u processes)", top[i].nprocs);
		fputc('\n', f);
	}
	free(top);
	oomreport__summary_growth(f, a, ri);
	/* the ALWAYS rows, the drops' sum, then every loss that is not 0 */
	counters__collect(a, ri->counters, cnt);
	fprintf(f, "events:");
	for (c = 0; c < TM_NR_ALL_COUNTERS; c++)
		if (tm_counters[c].show == CNT_ALWAYS)
			fprintf(f, " %llu %s,", (unsigned long long)cnt[c], tm_counters[c].wording);
	fprintf(f, " %llu dropped", (unsigned long long)counters__dropped(cnt));
	for (c = 0; c < TM_NR_ALL_COUNTERS; c++)
		if (counters__loss(c) && cnt[c])
			fprintf(f, ", %s %llu", tm_counters[c].wording, (unsigned long long)cnt[c]);
	fprintf(f, "; frames symbolized %llu/%llu\n",
		(unsigned long long)(cnt[TM_CNT_FRAMES] - cnt[TM_CNT_FRAMES_UNSYMBOLIZED]),
		(unsigned long long)cnt[TM_CNT_FRAMES]);
	if (counters__dropped(cnt)) {
		fprintf(f, "WARNING: events were dropped (raise --ringbuf-size): totals follow the kernel's counters, but some\n"
			   "  bytes may be credited to the wrong stack, and a peak that fell among lost events is missed.\n");
		for (i = 0; i < np; i++) {
			struct view_proc p, next;

			view__proc(a, i, &p);
			if (i + 1 < np)
				view__proc(a, i + 1, &next);
			/* the kernel's high-water mark covers all images of the pid: compare at its last */
			if (!p.prelaunch && p.kernel_hiwater > p.own_peak + p.own_peak / 50 &&
			    (i + 1 == np || next.pid != p.pid))
			{
				fprintf(f, "  pid %d (", p.pid);
				esc_term(f, p.comm);
				fprintf(f, "): seen peak %.1f MiB, kernel's high-water mark %.1f MiB\n",
					p.own_peak / MIB, p.kernel_hiwater / MIB);
			}
		}
	}
}

/* ---- folded stacks ---- */

static void put_frame(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc(*s == ';' ? ':' : *s == '\n' ? ' ' : *s, f);
}

int report__folded(const char *path, const struct account *a, const struct report_info *ri)
{
	struct outfile o;
	struct stack_row *v;
	size_t n, i;
	int64_t cats[NR_CATS], unattr;
	struct view_totals t;
	int err = outfile__open(&o, path);

	if (err)
		return err;
	v = peak_rows(a, &n);
	for (i = 0; i < n; i++) {
		const struct symstack *ss = v[i].ss;
		const struct label *l = label_get(v[i].label);
		int k;

		fprintf(o.f, "%s;", cat_names[l->cat]);
		put_frame(o.f, l->name);
		if (!ss || !ss->n)
			fprintf(o.f, ";[no user stack]");
		for (k = ss ? ss->n - 1 : -1; k >= 0; k--) {
			fputc(';', o.f);
			put_frame(o.f, ss->frames[k]);
		}
		fprintf(o.f, " %lld\n", (long long)v[i].bytes);
	}
	free(v);
	view__totals(a, &t);
	peak_categories(&t, cats, &unattr);
	if (unattr > 0)
		fprintf(o.f, "other;[unattributed] %lld\n", (long long)unattr);
	(void)ri;
	return outfile__close(&o);
}

/* ---- JSON ---- */

/* '<', '>' and '&' are escaped too, so a string can sit inside an HTML <script> block. */
void json_str(FILE *f, const char *s)
{
	esc_json(f, s);
}

static void json_cats(FILE *f, const int64_t cats[NR_CATS])
{
	int c;

	fputc('{', f);
	for (c = 0; c < NR_CATS; c++)
		fprintf(f, "%s\"%s\": %lld", c ? ", " : "", cat_names[c], (long long)cats[c]);
	fputc('}', f);
}

static double ts_s(const struct view_totals *t, uint64_t ts)
{
	return ts > t->start_ts ? (ts - t->start_ts) / 1e9 : 0.0;
}

int report__json(const char *path, const struct account *a, const struct report_info *ri)
{
	int64_t cats[NR_CATS], unattr;
	struct view_totals t;
	struct outfile o;
	struct stack_row *v;
	uint64_t cnt[TM_NR_ALL_COUNTERS];
	size_t n, i, j, nb = view__nbuckets(a), ns = view__nsamples(a), np = view__nprocs(a);
	int err = outfile__open(&o, path), c;
	bool dropped;
	FILE *f;

	if (err)
		return err;
	f = o.f;
	view__totals(a, &t);
	peak_categories(&t, cats, &unattr);
	fprintf(f, "{\n  \"schema\": \"taskmem-trace/2\",\n  \"command\": [");
	for (c = 0; c < ri->argc; c++) {
		fprintf(f, "%s", c ? ", " : "");
		json_str(f, ri->argv[c]);
	}
	fprintf(f, "],\n  \"exit_code\": %d,\n  \"exit\": ", ri->exit_code);
	json_str(f, ri->exit_desc);
	fprintf(f, ",\n  \"duration_s\": %.6f,\n  \"interval_s\": %.6f,\n", ri->duration_s, ri->interval_ns / 1e9);
	if (view__sample_bytes(a))
		fprintf(f, "  \"sampled\": {\"bytes\": %llu, \"chance\": %.9f, \"records_unsampled\": %llu},\n",
			(unsigned long long)view__sample_bytes(a), view__sample_chance(a),
			(unsigned long long)view__stats(a)->unsampled);
	fprintf(f, "  \"peak\": {\"t_s\": %.6f, \"rss_bytes\": %lld, \"rss_sum_bytes\": %lld, \"kernel_rss_bytes\": %lld, "
		   "\"unattributed_bytes\": %lld,\n    \"categories\": ",
		ts_s(&t, t.peak_ts), (long long)t.peak_tree, (long long)t.peak_kernel, (long long)t.peak_kernel,
		(long long)unattr);
	json_cats(f, cats);
	/* finer labels at the peak */
	fprintf(f, ",\n    \"labels\": {");
	{
		int64_t *per = NULL;
		size_t cap = 0, nl = 0;
		bool first = true;

		for (i = 0; i < nb; i++) {
			struct view_bucket bk;

			view__bucket(a, i, &bk);
			GROW(per, cap, (size_t)bk.label + 1);
			if ((size_t)bk.label + 1 > nl)
				nl = bk.label + 1;
			per[bk.label] += bk.peak;
		}
		for (i = 0; i < nl; i++) {
			char lb[160];

			if (!per[i])
				continue;
			fprintf(f, "%s", first ? "" : ", ");
			json_str(f, label_text((int)i, lb, sizeof(lb)));
			fprintf(f, ": %lld", (long long)per[i]);
			first = false;
		}
		if (unattr)
			fprintf(f, "%s\"other/[unattributed]\": %lld", first ? "" : ", ", (long long)unattr);
		free(per);
	}
	fprintf(f, "},\n    \"stacks\": [");
	v = peak_rows(a, &n);
	for (i = 0; i < n; i++) {
		const struct symstack *ss = v[i].ss;
		char lb[160];
		int k;

		fprintf(f, "%s\n      {\"pid\": %d, \"category\": \"%s\", \"label\": ", i ? "," : "",
			v[i].pid, cat_names[label_get(v[i].label)->cat]);
		json_str(f, label_text(v[i].label, lb, sizeof(lb)));
		fprintf(f, ", \"bytes\": %lld, %s\"frames\": [", (long long)v[i].bytes,
			view__sample_bytes(a) ? "\"estimated\": true, " : "");
		for (k = 0; ss && k < ss->n; k++) {
			fprintf(f, "%s", k ? ", " : "");
			json_str(f, ss->frames[k]);
		}
		fprintf(f, "]}");
	}
	free(v);
	fprintf(f, "\n    ]\n  },\n  \"timeline\": [");
	for (i = 0; i < ns; i++) {
		struct view_sample s;
		int64_t sc[NR_CATS];

		view__sample(a, i, &s);
		categories_with_unattributed(s.cat, s.tree, sc);
		fprintf(f, "%s\n    {\"t_s\": %.6f, \"rss_bytes\": %lld, \"rss_sum_bytes\": %lld, \"kernel_rss_bytes\": %lld, "
			   "\"unattributed_bytes\": %lld, \"categories\": ",
			i ? "," : "", s.t / 1e9, (long long)s.tree, (long long)s.kernel, (long long)s.kernel,
			(long long)(sc[CAT_OTHER] - s.cat[CAT_OTHER]));
		json_cats(f, sc);
		fprintf(f, ", \"processes\": [");
		for (j = 0; j < s.nprocs; j++) {
			const struct sample_proc *sp = &s.procs[j];
			struct view_proc p;

			view__proc(a, sp->proc, &p);
			categories_with_unattributed(sp->cat, sp->kernel, sc);
			fprintf(f, "%s{\"pid\": %d, \"rss_bytes\": %lld, \"categories\": ", j ? ", " : "",
				p.pid, (long long)sp->kernel);
			json_cats(f, sc);
			fputc('}', f);
		}
		fprintf(f, "]}");
	}
	fprintf(f, "\n  ],\n  \"processes\": [");
	c = 0;
	for (i = 0; i < np; i++) {
		struct view_proc vp, *p = &vp;
		int64_t pc[NR_CATS];

		view__proc(a, i, p);
		if (p->prelaunch)
			continue;
		fprintf(f, "%s\n    {\"pid\": %d, \"image\": %u, \"comm\": ", c++ ? "," : "", p->pid, p->image);
		json_str(f, p->comm);
		fprintf(f, ", \"exe\": ");
		json_str(f, p->exe);
		fprintf(f, ", \"start_s\": %.6f, \"end_s\": %.6f, \"exit_code\": ", ts_s(&t, p->start_ts),
			p->end_ts ? ts_s(&t, p->end_ts) : ri->duration_s);
		if (!p->end_ts) /* still running when the run ended (-p, --duration): no exit code yet */
			fprintf(f, "null");
		else
			fprintf(f, "%d", p->exit_code);
		if (p->oom_victim && p->end_ts && p->exit_code == 128 + 9) /* chosen, and died of it */
			fprintf(f, ", \"killed_by\": \"oom\"");
		fprintf(f, ", \"peak_rss_bytes\": %lld, \"kernel_peak_rss_bytes\": %lld, \"peak_t_s\": %.6f, \"categories\": ",
			(long long)p->own_peak, (long long)p->kernel_hiwater, ts_s(&t, p->own_peak_ts));
		categories_with_unattributed(p->own_peak_cat, p->own_peak, pc);
		json_cats(f, pc);
		fprintf(f, ", \"at_tree_peak\": {\"rss_bytes\": %lld, \"categories\": ", (long long)p->peak_kernel);
		categories_with_unattributed(p->peak_cat, p->peak_kernel, pc);
		json_cats(f, pc);
		fprintf(f, "}}");
	}
	fprintf(f, "\n  ]");
	oomreport__json(f, a, ri);
	oomreport__json_kernel(f, a, t.peak_tree);
	/* every row by its key; "dropped", their sum, comes before the DROP rows */
	counters__collect(a, ri->counters, cnt);
	fprintf(f, ",\n  \"events\": {");
	for (c = 0, dropped = false; c < TM_NR_ALL_COUNTERS; c++) {
		if (tm_counters[c].show == CNT_DROP && !dropped) {
			fprintf(f, "%s\"dropped\": %llu", c ? ", " : "", (unsigned long long)counters__dropped(cnt));
			dropped = true;
		}
		fprintf(f, "%s\"%s\": %llu", c || dropped ? ", " : "", tm_counters[c].key,
			(unsigned long long)cnt[c]);
	}
	fprintf(f, "}\n}\n");
	return outfile__close(&o);
}

/* ---- Chrome trace-event counters (Perfetto, chrome://tracing) ---- */

static void trace_counter(FILE *f, bool *first, const char *name, int pid, uint64_t t_ns,
			  const int64_t cats[NR_CATS])
{
	int c;

	fprintf(f, "%s\n{\"name\": ", *first ? "" : ",");
	json_str(f, name);
	fprintf(f, ", \"ph\": \"C\", \"ts\": %.3f, \"pid\": %d, \"args\": {", t_ns / 1e3, pid);
	for (c = 0; c < NR_CATS; c++)
		fprintf(f, "%s\"%s\": %lld", c ? ", " : "", cat_names[c], (long long)cats[c]);
	fputs("}}", f);
	*first = false;
}

int report__trace(const char *path, const struct account *a, const struct report_info *ri)
{
	uint64_t cnt[TM_NR_ALL_COUNTERS];
	struct outfile o;
	bool first = true;
	size_t i, j, np = view__nprocs(a), ns = view__nsamples(a);
	struct view_totals t;
	int err = outfile__open(&o, path);

	if (err)
		return err;
	fputs("{\"displayTimeUnit\": \"ms\", \"traceEvents\": [", o.f);
	/* names: pid 0 is the whole tree */
	fprintf(o.f, "\n{\"name\": \"process_name\", \"ph\": \"M\", \"pid\": 0, \"args\": {\"name\": \"tree (all processes)\"}}");
	first = false;
	for (i = 0; i < np; i++) {
		struct view_proc p;

		view__proc(a, i, &p);
		if (p.prelaunch || !p.own_peak)
			continue;
		fprintf(o.f, ",\n{\"name\": \"process_name\", \"ph\": \"M\", \"pid\": %d, \"args\": {\"name\": ", p.pid);
		json_str(o.f, p.comm);
		fputs("}}", o.f);
	}
	for (i = 0; i < ns; i++) {
		struct view_sample s;
		int64_t sc[NR_CATS];

		view__sample(a, i, &s);
		categories_with_unattributed(s.cat, s.tree, sc);
		trace_counter(o.f, &first, "resident bytes", 0, s.t, sc);
		for (j = 0; j < s.nprocs; j++) {
			const struct sample_proc *sp = &s.procs[j];
			struct view_proc p;

			view__proc(a, sp->proc, &p);
			categories_with_unattributed(sp->cat, sp->kernel, sc);
			trace_counter(o.f, &first, "resident bytes", p.pid, s.t, sc);
		}
	}
	counters__collect(a, ri->counters, cnt);
	view__totals(a, &t);
	fprintf(o.f, "\n], \"metadata\": {\"tool\": \"taskmem-trace\", \"peak_rss_bytes\": %lld, \"peak_t_s\": %.6f, "
		     "\"dropped\": %llu}}\n",
		(long long)t.peak_tree, t.peak_ts > t.start_ts ? (t.peak_ts - t.start_ts) / 1e9 : 0.0,
		(unsigned long long)counters__dropped(cnt));
	return outfile__close(&o);
}

int report__write_all(const struct account *a, const struct report_info *ri, const struct report_outputs *o,
		      bool quiet)
{
	int failed = 0;

	failed += o->folded && report__folded(o->folded, a, ri);
	failed += o->json && report__json(o->json, a, ri);
	failed += o->pprof && report__pprof(o->pprof, a, ri);
	failed += o->trace && report__trace(o->trace, a, ri);
	failed += o->html && report__html(o->html, a, ri);
	if (!quiet)
		report__summary(stderr, a, ri);
	return failed;
}
