// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <string.h>
#include "account.h"

void view__totals(const struct account *a, struct view_totals *out)
{
	const struct timeline *tl = &a->tl;

	out->start_ts = a->o.start_ts;
	out->tree = tl->tree;
	out->kernel = tl->kernel;
	memcpy(out->cat, tl->cat, sizeof(out->cat));
	out->peak_tree = tl->peak_tree;
	out->peak_kernel = tl->peak_kernel;
	memcpy(out->peak_cat, tl->peak_cat, sizeof(out->peak_cat));
	out->peak_ts = tl->peak_ts;
}

const struct account_stats *view__stats(const struct account *a)
{
	return &a->st;
}

uint64_t view__sample_bytes(const struct account *a)
{
	return a->o.sample_bytes;
}

double view__sample_chance(const struct account *a)
{
	return a->sample_scale ? 1 / a->sample_scale : 1;
}

size_t view__nprocs(const struct account *a)
{
	return a->m.nprocs;
}

void view__proc(const struct account *a, size_t i, struct view_proc *out)
{
	const struct proc *p = a->m.procs[i];

	*out = (struct view_proc){
		.idx = p->idx,
		.pid = p->pid,
		.image = p->gen,
		.comm = p->comm,
		.exe = p->exe,
		.prelaunch = p->prelaunch,
		.exit_code = p->exit_code,
		.start_ts = p->start_ts,
		.end_ts = p->end_ts,
		.own_peak = p->own_peak,
		.own_peak_ts = p->own_peak_ts,
		.peak_kernel = p->peak_kernel,
		.kernel_hiwater = p->kernel_hiwater,
		.oom_victim = p->oom_victim,
	};
	memcpy(out->own_peak_cat, p->own_peak_cat, sizeof(out->own_peak_cat));
	memcpy(out->peak_cat, p->peak_cat, sizeof(out->peak_cat));
}

size_t view__nbuckets(const struct account *a)
{
	return a->tl.nbuckets;
}

void view__bucket(const struct account *a, size_t i, struct view_bucket *out)
{
	const struct bucket *bk = &a->tl.buckets[i];

	*out = (struct view_bucket){
		.pid = bk->proc ? bk->proc->pid : 0,
		.proc_idx = bk->proc ? (int)bk->proc->idx : -1,
		.label = bk->label,
		.stack = bk->stack_id == TM_STACK_UNSAMPLED ? a->unsampled_ss :
			 bk->proc ? account__cached_stack(bk->proc, bk->stack_id) : NULL,
		.unsampled = bk->stack_id == TM_STACK_UNSAMPLED,
		.estimated = a->o.sample_bytes && bk->proc && bk->stack_id >= 0,
		.cur = bk->cur,
		.peak = bk->peak,
		.grows = bk->grows,
	};
}

size_t view__nsamples(const struct account *a)
{
	return a->tl.nsamples;
}

void view__sample(const struct account *a, size_t i, struct view_sample *out)
{
	const struct timeline *tl = &a->tl;
	const struct sample *s = &tl->samples[i];

	*out = (struct view_sample){
		.t = s->t,
		.tree = s->tree,
		.kernel = s->kernel,
		.procs = s->n ? tl->sprocs + s->first : NULL,
		.nprocs = s->n,
		.buckets = s->bn ? tl->sbuckets + s->bfirst : NULL,
		.nbuckets = s->bn,
		.absolute = s->absolute,
	};
	memcpy(out->cat, s->cat, sizeof(out->cat));
}

void view__cgroup(const struct account *a, struct view_cgroup *out)
{
	const struct oom_state *o = &a->oom;
	const struct cg_sample *last = o->nown ? &o->own[o->nown - 1] : NULL;

	memset(out, 0, sizeof(*out));
	if (!last)
		return;
	*out = (struct view_cgroup){ .present = true, .version = (int)last->version, .limit = last->c.limit,
				     .max_usage = last->c.max_usage, .failcnt = last->c.failcnt,
				     .oom_kill = last->c.oom_kill, .nsamples = o->nown };
}

void view__cgroup_sample(const struct account *a, size_t i, uint64_t *t, uint64_t *usage)
{
	const struct cg_sample *s = &a->oom.own[i];

	*t = s->ts > a->o.start_ts ? s->ts - a->o.start_ts : 0;
	*usage = s->c.usage;
}

void view__kernel_sample(const struct account *a, size_t i, struct kernel_sample *out)
{
	*out = a->kern.s[i];
	out->ts = out->ts > a->o.start_ts ? out->ts - a->o.start_ts : 0;
}

void view__kernel(const struct account *a, struct view_kernel *out)
{
	const struct kernel_state *k = &a->kern;
	size_t i, best = 0;

	memset(out, 0, sizeof(*out));
	if (!k->n)
		return;
	for (i = 1; i < k->n; i++)
		if (k->s[i].total > k->s[best].total)
			best = i;
	out->present = true;
	out->version = k->cgroup ? (int)k->version : 0;
	out->run_cgroup = k->run_cgroup || !k->cgroup;
	out->events = k->bpf && !k->attached;
	out->slab_events = k->slab;
	out->thread_size = k->thread_size ? k->thread_size : KERNEL_THREAD_SIZE;
	out->kmem_max = k->kmem_max;
	out->nsamples = k->n;
	view__kernel_sample(a, best, &out->peak);
	if (!k->cgroup) { /* the events' peak, at the change that made it */
		out->peak = k->peak_bpf;
		out->peak.ts = out->peak.ts > a->o.start_ts ? out->peak.ts - a->o.start_ts : 0;
	}
}

/* Did the cgroup's limit run out between from and to: the OOM killer killed in it, and a
 * charge hit its limit (v1 failcnt; v2 max or oom). A system OOM also counts a kill in the
 * victim's cgroup, but no charge failed against its limit. */
static bool limit_oom(const struct cg_sample *from, const struct cg_sample *to)
{
	return to->c.limit != CG_NO_LIMIT && to->c.oom_kill > from->c.oom_kill &&
	       (to->c.failcnt > from->c.failcnt || to->c.oom > from->c.oom);
}

void view__oom(const struct account *a, struct view_oom *out)
{
	const struct oom_state *o = &a->oom;
	const struct tm_event *e = &o->first;
	static const struct cg_sample zero;

	memset(out, 0, sizeof(*out));
	out->limit = CG_NO_LIMIT;
	out->kills = o->kills;
	if (!o->kills)
		return;
	out->pid = (pid_t)e->tgid;
	memcpy(out->comm, e->comm, sizeof(out->comm));
	out->comm[sizeof(out->comm) - 1] = 0;
	out->t = e->ts > a->o.start_ts ? e->ts - a->o.start_ts : 0;
	out->rss = e->ret;
	out->anon = e->extra;
	out->file = e->extra2;
	out->shmem = e->extra3;
	/* the run's own cgroup was made empty: its counters start at 0 */
	if (o->nown && limit_oom(&zero, &o->own[o->nown - 1]))
		out->limit = o->own[o->nown - 1].c.limit;
	else if (o->have_ctx && limit_oom(&o->ctx_first, &o->ctx_last))
		out->limit = o->ctx_last.c.limit;
	out->cgroup = out->limit != CG_NO_LIMIT;
}

void view__buckets_at(const struct account *a, uint64_t t, int64_t *out)
{
	const struct timeline *tl = &a->tl;
	size_t i, j;

	memset(out, 0, tl->nbuckets * sizeof(*out));
	/* the regular samples are deltas that add up; the exact peak's (absolute) is extra */
	for (i = 0; i < tl->nsamples && tl->samples[i].t <= t; i++) {
		const struct sample *s = &tl->samples[i];

		if (s->absolute)
			continue;
		for (j = 0; j < s->bn; j++)
			out[tl->sbuckets[s->bfirst + j].bucket] = tl->sbuckets[s->bfirst + j].cur;
	}
}
