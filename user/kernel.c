// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hashmap.h"
#include "kernel.h"
#include "model.h"
#include "oom.h"
#include "util.h"
#include "world.h"
#include "taskmem.h"

/* v1: the tree's live threads and page tables, from each live process's status */
static void tree_counts(struct model *m, struct world *w, uint64_t *threads, uint64_t *pte)
{
	size_t i;

	*threads = *pte = 0;
	for (i = 0; i < m->nprocs; i++) {
		struct proc *p = m->procs[i];
		char *text;

		if (!p->alive)
			continue;
		text = world__proc_text(w, p->pid, "status");
		if (!text)
			continue; /* gone since its exit event was queued: nothing of it is left */
		*threads += status_value(text, "\nThreads:");
		*pte += status_value(text, "\nVmPTE:") * 1024;
		free(text);
	}
}

static uint64_t live_procs(const struct model *m)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < m->nprocs; i++)
		n += m->procs[i]->alive;
	return n;
}

void kernel__sample(struct kernel_state *k, struct model *m, struct world *w, const struct cg_sample *s)
{
	struct kernel_sample ks = { .ts = s->ts, .sock = s->c.sock };
	uint64_t threads, known;

	if (s->version == 2) {
		ks.stacks = s->c.kernel_stack;
		ks.pagetables = s->c.pagetables;
		ks.slab = s->c.slab;
		/* "kernel" (5.18+) is all of it but the sockets; before it, the parts */
		ks.total = (s->c.kmem ? s->c.kmem : ks.stacks + ks.pagetables + ks.slab) + ks.sock;
	} else {
		/* the kernel's events say it; else (a recording of an older build, -p) at most a
		 * status file per live process per ms of the run (by the samples' own times, so
		 * that a replay asks the same questions) */
		if (k->bpf && !k->attached) {
			k->threads = k->threads_bpf > 0 ? (uint64_t)k->threads_bpf : 0;
			k->pte = k->pagetables_bpf > 0 ? (uint64_t)k->pagetables_bpf : 0;
		} else if (!k->swept || s->ts - k->swept_ts >= live_procs(m) * 1000000ull) {
			tree_counts(m, w, &k->threads, &k->pte);
			k->swept_ts = s->ts;
			k->swept = true;
		}
		threads = k->threads;
		ks.pagetables = k->pte;
		ks.threads = (uint32_t)threads;
		ks.stacks = threads * (k->bpf && !k->attached && k->thread_size ? k->thread_size : KERNEL_THREAD_SIZE);
		known = ks.stacks + ks.pagetables;
		/* v1 charges sockets to kmem.tcp only; slab and the rest of kmem are not told apart */
		ks.slab = s->c.kmem > known ? s->c.kmem - known : 0;
		ks.total = s->c.kmem + ks.sock;
		if (s->c.kmem_max > k->kmem_max)
			k->kmem_max = s->c.kmem_max;
	}
	ks.slab_bpf = k->slab_bpf > 0 ? (uint64_t)k->slab_bpf : 0;
	k->version = s->version;
	k->run_cgroup = s->flags & CG_SAMPLE_RUN;
	k->cgroup = true;
	GROW(k->s, k->cap, k->n + 1);
	k->s[k->n++] = ks;
}

static uint64_t clamp0(int64_t v)
{
	return v > 0 ? (uint64_t)v : 0;
}

void kernel__bpf_now(const struct kernel_state *k, uint64_t ts, struct kernel_sample *out)
{
	memset(out, 0, sizeof(*out));
	out->ts = ts;
	out->threads = (uint32_t)clamp0(k->threads_bpf);
	out->stacks = clamp0(k->threads_bpf) * (k->thread_size ? k->thread_size : KERNEL_THREAD_SIZE);
	out->pagetables = clamp0(k->pagetables_bpf);
	out->slab = out->slab_bpf = clamp0(k->slab_bpf); /* 0 without --kernel-slab */
	out->total = out->stacks + out->pagetables + out->slab;
}

static void push(struct kernel_state *k, const struct kernel_sample *ks)
{
	GROW(k->s, k->cap, k->n + 1);
	k->s[k->n++] = *ks;
}

/* Without a cgroup the events' parts are the samples: at most one per interval of the events'
 * own times (a replay makes the same), and the state a quiet stretch holds (the last change
 * within an interval) at its own time once another change comes; the peak at the change that
 * made it. */
static void changed(struct kernel_state *k, uint64_t ts, bool last)
{
	struct kernel_sample ks;
	bool due;

	if (k->cgroup)
		return;
	kernel__bpf_now(k, ts, &ks);
	if (ks.total > k->peak_bpf.total)
		k->peak_bpf = ks;
	/* two CPUs' records may come a little out of time order: an older one is never due */
	due = !k->n || (ts > k->s[k->n - 1].ts && ts - k->s[k->n - 1].ts >= k->interval_ns);
	if (k->unsampled && (due || last) && (!k->n || k->cur.ts > k->s[k->n - 1].ts))
		push(k, &k->cur);
	k->cur = ks;
	k->unsampled = !(due || last);
	if (!k->unsampled)
		push(k, &ks);
}

static struct kernel_proc *kproc(struct kernel_state *k, uint32_t tgid)
{
	uint64_t *v;
	bool created;

	if (k->last && k->last_tgid == tgid)
		return k->last;
	if (!k->procs)
		k->procs = hashmap__new();
	v = hashmap__upsert(k->procs, tgid, &created);
	if (created)
		*v = (uint64_t)(uintptr_t)xcalloc(1, sizeof(struct kernel_proc));
	k->last = (struct kernel_proc *)(uintptr_t)*v;
	k->last_tgid = tgid;
	return k->last;
}

static void set_threads(struct kernel_state *k, struct kernel_proc *p, int64_t n)
{
	k->threads_bpf += n - p->threads;
	p->threads = n;
}

static void set_pagetables(struct kernel_state *k, struct kernel_proc *p, int64_t n)
{
	k->pagetables_bpf += n - p->pagetables;
	p->pagetables = n;
}

void kernel__proc_start(struct kernel_state *k, uint32_t tgid)
{
	struct kernel_proc *p = kproc(k, tgid);

	/* its own records may have come first (another CPU's): they are newer */
	if (p->threads <= 0)
		set_threads(k, p, 1);
	p->born = true;
	p->exited = false;
}

void kernel__event(struct kernel_state *k, const struct tm_event *e)
{
	struct kernel_proc *p = kproc(k, e->tgid);

	k->bpf = true;
	if (e->kind == TM_EV_RSS) {
		/* most records: the page tables did not change; after the exit, a late record of
		 * another CPU's */
		if (TM_RSS_PGTABLES(e->extra2) == (uint64_t)p->pagetables || p->exited)
			return;
		set_pagetables(k, p, (int64_t)TM_RSS_PGTABLES(e->extra2));
	} else if (e->member == TM_KPART_THREADS) {
		if (p->exited)
			return;
		/* deltas: two CPUs' records may come swapped; the kernel's count where the
		 * process was not seen start (-p) */
		set_threads(k, p, p->born ? p->threads + (int64_t)e->arg : (int64_t)e->ret);
		k->thread_size = e->len;
	} else if (e->member == TM_KPART_SLAB) {
		k->slab = true;
		k->slab_bpf += (int64_t)e->ret - p->slab;
		p->slab = (int64_t)e->ret;
	} else {
		return;
	}
	changed(k, e->ts, false);
}

void kernel__proc_exit(struct kernel_state *k, uint32_t tgid, uint64_t ts)
{
	uint64_t *v = k->procs ? hashmap__find(k->procs, tgid) : NULL;
	struct kernel_proc *p = v ? (struct kernel_proc *)(uintptr_t)*v : NULL;

	if (!p)
		return;
	set_threads(k, p, 0);
	set_pagetables(k, p, 0);
	p->exited = true;
	if (k->bpf)
		changed(k, ts, false);
}

void kernel__finish(struct kernel_state *k, uint64_t ts)
{
	if (k->bpf)
		changed(k, ts, true);
}

void kernel__free(struct kernel_state *k)
{
	size_t pos = 0;
	uint64_t key, val;

	while (k->procs && hashmap__next(k->procs, &pos, &key, &val))
		free((void *)(uintptr_t)val);
	hashmap__free(k->procs);
	free(k->s);
	memset(k, 0, sizeof(*k));
}
