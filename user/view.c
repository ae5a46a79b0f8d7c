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
		.stack = bk->proc ? account__cached_stack(bk->proc, bk->stack_id) : NULL,
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
