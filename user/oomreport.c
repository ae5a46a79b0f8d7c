// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdlib.h>
#include <string.h>
#include "cgroup.h"
#include "escape.h"
#include "oomreport.h"
#include "report.h"
#include "util.h"

#define MIB (1024.0 * 1024.0)
#define GROWTH_JSON_MAX 100 /* stacks in growth_before_end */

/* Where "the end" is: the OOM kill (the victim's memory is still there), else the command's
 * exit, else the run's end. */
static uint64_t growth_end(const struct account *a, const struct report_info *ri, const char **what)
{
	struct view_totals t;
	struct view_oom oom;
	size_t i, np = view__nprocs(a);

	view__oom(a, &oom);
	if (oom.kills) {
		*what = "oom";
		return oom.t;
	}
	view__totals(a, &t);
	for (i = 0; i < np; i++) {
		struct view_proc p;

		view__proc(a, i, &p);
		if (p.prelaunch)
			continue;
		if (p.end_ts > t.start_ts) {
			/* before its exit: the last sample holds what it had, not its teardown */
			*what = "exit";
			return p.end_ts - t.start_ts - 1;
		}
		break;
	}
	*what = "run";
	return (uint64_t)(ri->duration_s * 1e9);
}

static const int64_t *sort_key;
static int cmp_grew(const void *x, const void *y)
{
	int64_t a = sort_key[*(const uint32_t *)x], b = sort_key[*(const uint32_t *)y];

	return a < b ? 1 : a > b ? -1 : 0;
}

bool growth__compute(const struct account *a, const struct report_info *ri, struct growth *g)
{
	size_t nb = view__nbuckets(a), i;
	uint64_t window = ri->growth_window_ns ? ri->growth_window_ns : GROWTH_WINDOW_DEFAULT_NS;
	int64_t *v0, *v1;
	struct view_oom oom;

	memset(g, 0, sizeof(*g));
	view__oom(a, &oom);
	if (!oom.kills && !ri->growth_window_ns)
		return false;
	g->to = growth_end(a, ri, &g->end);
	g->from = g->to > window ? g->to - window : 0;
	v0 = xcalloc(nb + 1, sizeof(*v0));
	v1 = xcalloc(nb + 1, sizeof(*v1));
	view__buckets_at(a, g->from, v0);
	view__buckets_at(a, g->to, v1);
	g->row_of = xcalloc(nb + 1, sizeof(*g->row_of));
	g->rows = report__rows(a, g->row_of, &g->nrows);
	g->grew = xcalloc(g->nrows + 1, sizeof(*g->grew));
	g->at_end = xcalloc(g->nrows + 1, sizeof(*g->at_end));
	g->order = xcalloc(g->nrows + 1, sizeof(*g->order));
	for (i = 0; i < nb; i++) {
		g->grew[g->row_of[i]] += v1[i] - v0[i];
		g->at_end[g->row_of[i]] += v1[i];
	}
	for (i = 0; i < g->nrows; i++) {
		if (g->grew[i] <= 0)
			continue;
		g->total += g->grew[i];
		g->order[g->ngrew++] = (uint32_t)i;
	}
	sort_key = g->grew;
	qsort(g->order, g->ngrew, sizeof(*g->order), cmp_grew);
	free(v0);
	free(v1);
	return true;
}

void growth__free(struct growth *g)
{
	free(g->rows);
	free(g->row_of);
	free(g->grew);
	free(g->at_end);
	free(g->order);
	memset(g, 0, sizeof(*g));
}

static const char *end_words(const char *end)
{
	return !strcmp(end, "oom") ? "the OOM kill" : !strcmp(end, "exit") ? "the command's exit" : "the end of the run";
}

void oomreport__summary_head(FILE *f, const struct account *a)
{
	struct view_cgroup cg;
	struct view_oom oom;

	view__oom(a, &oom);
	view__cgroup(a, &cg);
	if (oom.kills) {
		fprintf(f, "killed by the OOM killer (");
		if (oom.cgroup)
			fprintf(f, "cgroup limit %.1f MiB", oom.limit / MIB);
		else
			fprintf(f, "the system ran out of memory");
		fprintf(f, ") at %.2f s, RSS %.1f MiB: pid %d ", oom.t / 1e9, oom.rss / MIB, oom.pid);
		esc_term(f, oom.comm);
		fprintf(f, " (anon %.1f, file %.1f, shmem %.1f MiB)", oom.anon / MIB, oom.file / MIB, oom.shmem / MIB);
		if (oom.kills > 1)
			fprintf(f, "; %u processes of the tree were killed", oom.kills);
		fputc('\n', f);
	}
	if (cg.present) {
		fprintf(f, "memory cgroup (v%d, limit ", cg.version);
		if (cg.limit == CG_NO_LIMIT)
			fprintf(f, "none");
		else
			fprintf(f, "%.1f MiB", cg.limit / MIB);
		/* the cgroup charges page cache and kernel memory too: it may differ from the RSS */
		fprintf(f, ", page cache and kernel memory counted): closest to the limit %.1f MiB", cg.max_usage / MIB);
		if (cg.limit != CG_NO_LIMIT)
			fprintf(f, " (%.1f%%)", 100.0 * cg.max_usage / cg.limit);
		fprintf(f, ", failcnt %llu, OOM kills %llu\n",
			(unsigned long long)cg.failcnt, (unsigned long long)cg.oom_kill);
	}
}

void oomreport__summary_kernel(FILE *f, const struct account *a, int64_t rss_peak)
{
	struct view_kernel k;
	const struct kernel_sample *p = &k.peak;

	view__kernel(a, &k);
	if (!k.present)
		return;
	if (!k.version) {
		fprintf(f, "kernel: %.1f MiB at %.2f s (stacks %.1f, page tables %.1f, slab %.1f MiB) -- outside the RSS headline; "
			   "measured from the kernel's events, without a cgroup (sockets not counted%s)",
			p->total / MIB, p->ts / 1e9, p->stacks / MIB, p->pagetables / MIB, p->slab / MIB,
			k.slab_events ? "" : ", nor slab: --kernel-slab");
	} else {
		fprintf(f, "kernel: %.1f MiB at %.2f s (stacks %.1f, page tables %.1f, sockets %.1f, slab %.1f MiB) -- outside the RSS headline",
			p->total / MIB, p->ts / 1e9, p->stacks / MIB, p->pagetables / MIB, p->sock / MIB, p->slab / MIB);
		if (k.slab_events)
			fprintf(f, "; the kernel's events saw slab %.1f MiB", p->slab_bpf / MIB);
	}
	if (!k.run_cgroup)
		fprintf(f, "; sockets, slab and total are the process's cgroup's (other processes in it count)");
	fprintf(f, "\nwhat this costs the machine: %.1f MiB at most (the RSS headline + the kernel's, each at its peak)\n",
		(rss_peak + (int64_t)p->total) / MIB);
}

static void json_kernel_sample(FILE *f, const struct kernel_sample *s, bool events)
{
	fprintf(f, "\"t_s\": %.6f, \"kernel_stack_bytes\": %llu, \"pagetables_bytes\": %llu, \"sock_bytes\": %llu, "
		   "\"slab_bytes\": %llu, \"total_bytes\": %llu",
		s->ts / 1e9, (unsigned long long)s->stacks, (unsigned long long)s->pagetables,
		(unsigned long long)s->sock, (unsigned long long)s->slab, (unsigned long long)s->total);
	if (events)
		fprintf(f, ", \"slab_bpf_bytes\": %llu", (unsigned long long)s->slab_bpf);
}

#define SRC_THREADS "\"live threads x %llu (the kernel's thread start and exit events)\""
#define SRC_PGTABLES "\"mm->pgtables_bytes (with the kernel's rss_stat events)\""
#define SRC_SLAB_BPF "\"the kernel's kmem events: accounted slab objects the tree allocated, not yet freed\""

void oomreport__json_kernel(FILE *f, const struct account *a, int64_t rss_peak)
{
	struct view_kernel k;
	size_t i;

	view__kernel(a, &k);
	if (!k.present)
		return;
	fprintf(f, ",\n  \"kernel\": {\"cgroup_version\": %d, \"cgroup\": \"%s\", ", k.version,
		!k.version ? "none" : k.run_cgroup ? "run" : "process");
	json_kernel_sample(f, &k.peak, k.slab_events);
	fprintf(f, ", \"machine_bytes\": %llu, \"sources\": {", (unsigned long long)(rss_peak + (int64_t)k.peak.total));
	if (k.version == 2)
		fprintf(f, "\"kernel_stack_bytes\": \"memory.stat kernel_stack\", \"pagetables_bytes\": \"memory.stat pagetables\", "
			   "\"sock_bytes\": \"memory.stat sock\", \"slab_bytes\": \"memory.stat slab\", "
			   "\"total_bytes\": \"memory.stat kernel + sock\"");
	else if (k.version == 0)
		fprintf(f, "\"kernel_stack_bytes\": " SRC_THREADS ", \"pagetables_bytes\": " SRC_PGTABLES ", "
			   "\"sock_bytes\": \"not measured: no cgroup\", \"slab_bytes\": %s, "
			   "\"total_bytes\": \"stacks + page tables + slab\"",
			(unsigned long long)k.thread_size, k.slab_events ? SRC_SLAB_BPF : "\"not measured: no cgroup, no --kernel-slab\"");
	else if (k.events)
		fprintf(f, "\"kernel_stack_bytes\": " SRC_THREADS ", \"pagetables_bytes\": " SRC_PGTABLES ", "
			   "\"sock_bytes\": \"memory.kmem.tcp.usage_in_bytes\", "
			   "\"slab_bytes\": \"memory.kmem.usage_in_bytes - stacks - page tables\", "
			   "\"total_bytes\": \"memory.kmem.usage_in_bytes + memory.kmem.tcp.usage_in_bytes\"",
			(unsigned long long)k.thread_size);
	else
		fprintf(f, "\"kernel_stack_bytes\": \"live threads x %d\", \"pagetables_bytes\": \"sum of /proc/PID/status VmPTE\", "
			   "\"sock_bytes\": \"memory.kmem.tcp.usage_in_bytes\", "
			   "\"slab_bytes\": \"memory.kmem.usage_in_bytes - stacks - page tables\", "
			   "\"total_bytes\": \"memory.kmem.usage_in_bytes + memory.kmem.tcp.usage_in_bytes\"",
			KERNEL_THREAD_SIZE);
	if (k.slab_events)
		fprintf(f, ", \"slab_bpf_bytes\": " SRC_SLAB_BPF);
	fprintf(f, "}");
	if (k.version != 2)
		fprintf(f, ", \"threads\": %u", k.peak.threads);
	if (k.version == 1)
		fprintf(f, ", \"kmem_max_usage_bytes\": %llu", (unsigned long long)k.kmem_max);
	fprintf(f, ", \"samples\": [");
	for (i = 0; i < k.nsamples; i++) {
		struct kernel_sample s;

		view__kernel_sample(a, i, &s);
		fprintf(f, "%s{", i ? ", " : "");
		json_kernel_sample(f, &s, k.slab_events);
		fprintf(f, "}");
	}
	fprintf(f, "]}");
}

void oomreport__summary_growth(FILE *f, const struct account *a, const struct report_info *ri)
{
	struct growth g;
	size_t i;

	if (!growth__compute(a, ri, &g))
		return;
	fprintf(f, "grew in the %.1f s before %s (at %.2f s): %+.1f MiB\n", (g.to - g.from) / 1e9, end_words(g.end),
		g.to / 1e9, g.total / MIB);
	for (i = 0; i < g.ngrew && i < (size_t)ri->top; i++) {
		const struct stack_row *r = &g.rows[g.order[i]];
		char lb[128];

		fprintf(f, "  %+9.1f MiB  pid %-7d ", g.grew[g.order[i]] / MIB, r->pid);
		esc_term(f, label_text(r->label, lb, sizeof(lb)));
		report__term_frames(f, r->ss);
		fputc('\n', f);
	}
	growth__free(&g);
}

static void json_limit(FILE *f, uint64_t limit)
{
	if (limit == CG_NO_LIMIT)
		fprintf(f, "null");
	else
		fprintf(f, "%llu", (unsigned long long)limit);
}

void oomreport__json(FILE *f, const struct account *a, const struct report_info *ri)
{
	struct view_cgroup cg;
	struct view_oom oom;
	struct growth g;
	size_t i;

	view__oom(a, &oom);
	view__cgroup(a, &cg);
	if (oom.kills) {
		fprintf(f, ",\n  \"oom\": {\"victim_pid\": %d, \"comm\": ", oom.pid);
		json_str(f, oom.comm);
		fprintf(f, ", \"scope\": \"%s\", \"limit_bytes\": ", oom.cgroup ? "cgroup" : "system");
		json_limit(f, oom.limit);
		fprintf(f, ", \"t_s\": %.6f, \"rss_bytes\": %llu, \"anon_rss_bytes\": %llu, \"file_rss_bytes\": %llu, "
			   "\"shmem_rss_bytes\": %llu, \"kills\": %u}",
			oom.t / 1e9, (unsigned long long)oom.rss, (unsigned long long)oom.anon,
			(unsigned long long)oom.file, (unsigned long long)oom.shmem, oom.kills);
	}
	if (cg.present) {
		fprintf(f, ",\n  \"cgroup\": {\"version\": %d, \"limit_bytes\": ", cg.version);
		json_limit(f, cg.limit);
		fprintf(f, ", \"max_usage_bytes\": %llu, \"failcnt\": %llu, \"oom_kills\": %llu, \"usage\": [",
			(unsigned long long)cg.max_usage, (unsigned long long)cg.failcnt, (unsigned long long)cg.oom_kill);
		for (i = 0; i < cg.nsamples; i++) {
			uint64_t t, u;

			view__cgroup_sample(a, i, &t, &u);
			fprintf(f, "%s{\"t_s\": %.6f, \"bytes\": %llu}", i ? ", " : "", t / 1e9, (unsigned long long)u);
		}
		fprintf(f, "]}");
	}
	if (!growth__compute(a, ri, &g))
		return;
	fprintf(f, ",\n  \"growth_before_end\": {\"end\": \"%s\", \"from_s\": %.6f, \"to_s\": %.6f, \"bytes\": %lld, \"stacks\": [",
		g.end, g.from / 1e9, g.to / 1e9, (long long)g.total);
	for (i = 0; i < g.ngrew && i < GROWTH_JSON_MAX; i++) {
		const struct stack_row *r = &g.rows[g.order[i]];
		const struct symstack *ss = r->ss;
		char lb[160];
		int k;

		fprintf(f, "%s\n    {\"pid\": %d, \"category\": \"%s\", \"label\": ", i ? "," : "", r->pid,
			cat_names[label_get(r->label)->cat]);
		json_str(f, label_text(r->label, lb, sizeof(lb)));
		fprintf(f, ", \"bytes\": %lld, \"bytes_at_end\": %lld, \"frames\": [", (long long)g.grew[g.order[i]],
			(long long)g.at_end[g.order[i]]);
		for (k = 0; ss && k < ss->n; k++) {
			fprintf(f, "%s", k ? ", " : "");
			json_str(f, ss->frames[k]);
		}
		fprintf(f, "]}");
	}
	fprintf(f, "\n  ]}");
	growth__free(&g);
}

void oomreport__html(FILE *f, const struct account *a, const struct report_info *ri)
{
	struct view_kernel k;
	struct view_cgroup cg;
	struct view_oom oom;
	struct growth g;
	bool first;
	size_t i;

	view__oom(a, &oom);
	view__cgroup(a, &cg);
	if (oom.kills) {
		fprintf(f, ",\n\"oom\":{\"pid\":%d,\"comm\":", oom.pid);
		json_str(f, oom.comm);
		fprintf(f, ",\"scope\":\"%s\",\"limit\":", oom.cgroup ? "cgroup" : "system");
		json_limit(f, oom.limit);
		fprintf(f, ",\"t\":%.6f,\"rss\":%llu,\"kills\":%u}", oom.t / 1e9, (unsigned long long)oom.rss, oom.kills);
	}
	view__kernel(a, &k);
	if (k.present) {
		fprintf(f, ",\n\"kernel\":{\"total\":%llu,\"t\":%.6f,\"stacks\":%llu,\"pagetables\":%llu,\"sock\":%llu,\"slab\":%llu,"
			   "\"cgroup\":%d,\"s\":[",
			(unsigned long long)k.peak.total, k.peak.ts / 1e9, (unsigned long long)k.peak.stacks,
			(unsigned long long)k.peak.pagetables, (unsigned long long)k.peak.sock, (unsigned long long)k.peak.slab,
			k.version);
		/* its total over time: the timeline's kernel line */
		for (i = 0; i < k.nsamples; i++) {
			struct kernel_sample s;

			view__kernel_sample(a, i, &s);
			fprintf(f, "%s[%.6f,%llu]", i ? "," : "", s.ts / 1e9, (unsigned long long)s.total);
		}
		fprintf(f, "]}");
	}
	if (cg.present) {
		fprintf(f, ",\n\"cgroup\":{\"limit\":");
		json_limit(f, cg.limit);
		fprintf(f, ",\"max_usage\":%llu,\"failcnt\":%llu,\"s\":[", (unsigned long long)cg.max_usage,
			(unsigned long long)cg.failcnt);
		for (i = 0; i < cg.nsamples; i++) {
			uint64_t t, u;

			view__cgroup_sample(a, i, &t, &u);
			fprintf(f, "%s[%.6f,%llu]", i ? "," : "", t / 1e9, (unsigned long long)u);
		}
		fprintf(f, "]}");
	}
	if (!growth__compute(a, ri, &g))
		return;
	/* rows as the page's (report__rows: the same merge, the same order) */
	fprintf(f, ",\n\"growth\":{\"end\":\"%s\",\"from\":%.6f,\"to\":%.6f,\"r\":[", g.end, g.from / 1e9, g.to / 1e9);
	for (i = 0; i < g.ngrew; i++)
		fprintf(f, "%s%u,%lld", i ? "," : "", g.order[i], (long long)g.grew[g.order[i]]);
	fprintf(f, "],\"e\":[");
	for (i = 0, first = true; i < g.nrows; i++) {
		if (g.at_end[i] <= 0)
			continue;
		fprintf(f, "%s%zu,%lld", first ? "" : ",", i, (long long)g.at_end[i]);
		first = false;
	}
	fprintf(f, "]}");
	growth__free(&g);
}
