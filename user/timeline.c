// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdlib.h>
#include <string.h>
#include "timeline.h"
#include "util.h"

#define MAX_BUCKETS (1u << PAGES_BUCKET_BITS)

void timeline__init(struct timeline *tl, uint64_t start_ts, uint64_t interval_ns)
{
	tl->start_ts = start_ts;
	tl->interval_ns = interval_ns;
	tl->next_sample = start_ts + interval_ns;
	/* bucket 0 takes bytes when the bucket table is full (counted in unplaced) */
	GROW(tl->buckets, tl->bucketcap, 1);
	tl->buckets[0].label = label_id(CAT_OTHER, "[bucket-table-full]");
	tl->buckets[0].cat = CAT_OTHER;
	tl->buckets[0].stack_id = -1;
	tl->nbuckets = 1;
}

void timeline__free(struct timeline *tl)
{
	free(tl->buckets);
	free(tl->dirty_buckets);
	free(tl->dirty_procs);
	free(tl->samples);
	free(tl->sbuckets);
	free(tl->sdirty_buckets);
	free(tl->sprocs);
}

/* ---- buckets and dirty tracking ---- */

void timeline__mark_proc(struct timeline *tl, struct proc *p)
{
	p->sampled_dirty = true;
	if (p->dirty)
		return;
	p->dirty = true;
	GROW(tl->dirty_procs, tl->dirty_proc_cap, tl->ndirty_procs + 1);
	tl->dirty_procs[tl->ndirty_procs++] = p;
}

/* The tree's RSS changed by delta: a fall from a new high freezes the peak first. */
static void tree_changed(struct timeline *tl, int64_t delta)
{
	if (delta < 0 && tl->at_peak)
		timeline__snapshot_peak(tl);
	tl->tree += delta;
	tl->changed = true;
}

void timeline__moved(void *ctx, uint32_t b, int64_t bytes, unsigned views)
{
	struct timeline *tl = ctx;
	struct bucket *bk = &tl->buckets[b];
	enum tm_cat cat = bk->cat;

	/* tree = kernel - (bytes in the process view only) + (bytes in the tree view only) */
	if (views == PAGES_PROC)
		tree_changed(tl, -bytes);
	else if (views == PAGES_TREE)
		tree_changed(tl, bytes);
	if ((views & PAGES_PROC) && bk->proc) {
		bk->proc->cat[cat] += bytes;
		timeline__mark_proc(tl, bk->proc);
	}
	if (!(views & PAGES_TREE))
		return;
	if (!bk->dirty) {
		bk->dirty = true;
		GROW(tl->dirty_buckets, tl->dirty_bucket_cap, tl->ndirty_buckets + 1);
		tl->dirty_buckets[tl->ndirty_buckets++] = b;
	}
	if (!bk->sampled_dirty) {
		bk->sampled_dirty = true;
		GROW(tl->sdirty_buckets, tl->sdirty_bucket_cap, tl->nsdirty_buckets + 1);
		tl->sdirty_buckets[tl->nsdirty_buckets++] = b;
	}
	bk->cur += bytes;
	tl->cat[cat] += bytes;
	tl->changed = true;
}

uint32_t timeline__bucket(struct timeline *tl, struct proc *p, int label, int32_t stack_id)
{
	/* stack ids are 31-bit hashes: label and id fill the key, one map per process; growth
	 * left out of a sample (--sample-bytes) apart from growth with no stack */
	uint64_t key = (uint64_t)(uint32_t)label << 32 |
		       (stack_id == TM_STACK_UNSAMPLED ? UINT32_MAX : stack_id < 0 ? 0 : (uint64_t)stack_id + 1);
	struct bucket_memo *bm = &tl->memo[((uint32_t)stack_id ^ (uint32_t)label * 0x9e3779b1u) &
					   (TIMELINE_BUCKET_MEMOS - 1)];
	bool created;
	uint64_t *slot;

	if (bm->proc == p && bm->label == label && bm->stack_id == stack_id)
		return bm->bucket; /* a bucket, once made, is never renumbered */
	slot = hashmap__upsert(p->bucket_idx, key, &created);
	if (created) {
		if (tl->nbuckets >= MAX_BUCKETS) {
			*slot = 0;
			return 0;
		}
		GROW(tl->buckets, tl->bucketcap, tl->nbuckets + 1);
		tl->buckets[tl->nbuckets] = (struct bucket){ .proc = p, .label = label, .stack_id = stack_id,
							     .cat = (uint8_t)label_get(label)->cat };
		*slot = tl->nbuckets++;
	}
	*bm = (struct bucket_memo){ p, label, stack_id, (uint32_t)*slot };
	return bm->bucket;
}

void timeline__kernel(struct timeline *tl, struct proc *p, int64_t delta)
{
	tl->kernel += delta;
	tl->tree += delta;
	if (p) {
		p->kernel += delta;
		timeline__mark_proc(tl, p);
	}
}

void timeline__rss(struct timeline *tl, struct proc *p, int64_t delta)
{
	if (delta < 0 && tl->at_peak)
		timeline__snapshot_peak(tl);
	timeline__kernel(tl, p, delta);
	tl->changed = true;
}

void timeline__grew(struct timeline *tl, struct proc *p, uint64_t ts)
{
	if (p && p->kernel > p->own_peak) {
		p->own_peak = p->kernel;
		p->own_peak_ts = ts;
		memcpy(p->own_peak_cat, p->cat, sizeof(p->cat));
	}
	if (tl->tree > tl->peak_tree) {
		tl->peak_tree = tl->tree;
		tl->peak_kernel = tl->kernel;
		tl->peak_ts = ts;
		tl->at_peak = true;
	}
}

/* ---- the peak ---- */

void timeline__snapshot_peak(struct timeline *tl)
{
	size_t i;

	for (i = 0; i < tl->ndirty_buckets; i++) {
		struct bucket *bk = &tl->buckets[tl->dirty_buckets[i]];

		bk->peak = bk->cur;
		bk->dirty = false;
	}
	tl->ndirty_buckets = 0;
	for (i = 0; i < tl->ndirty_procs; i++) {
		struct proc *p = tl->dirty_procs[i];

		memcpy(p->peak_cat, p->cat, sizeof(p->cat));
		p->peak_kernel = p->kernel;
		p->dirty = false;
	}
	tl->ndirty_procs = 0;
	memcpy(tl->peak_cat, tl->cat, sizeof(tl->cat));
	tl->at_peak = false;
}

/* ---- samples ---- */

static void add_sample_proc(struct timeline *tl, const struct proc *p, int64_t kernel, const int64_t cat[NR_CATS])
{
	struct sample_proc *sp;

	GROW(tl->sprocs, tl->sproccap, tl->nsprocs + 1);
	sp = &tl->sprocs[tl->nsprocs++];
	sp->proc = p->idx;
	sp->kernel = kernel;
	memcpy(sp->cat, cat, sizeof(sp->cat));
}

static void take_sample(struct timeline *tl, const struct model *m, uint64_t t)
{
	struct sample *s;
	size_t i;

	GROW(tl->samples, tl->samplecap, tl->nsamples + 1);
	s = &tl->samples[tl->nsamples++];
	s->t = t - tl->start_ts;
	s->kernel = tl->kernel;
	s->tree = tl->tree;
	memcpy(s->cat, tl->cat, sizeof(tl->cat));
	s->first = tl->nsprocs;
	/* the processes that changed since the last sample: a thousand idle server processes
	 * cost nothing per sample (the reports carry each one's last value forward) */
	for (i = 0; i < m->nprocs; i++) {
		struct proc *p = m->procs[i];

		if (!p->sampled_dirty)
			continue;
		p->sampled_dirty = false;
		add_sample_proc(tl, p, p->kernel, p->cat);
	}
	s->n = tl->nsprocs - s->first;
	/* buckets as deltas: the cost follows what changed, not how many stacks exist */
	s->bfirst = tl->nsbuckets;
	GROW(tl->sbuckets, tl->sbucketcap, tl->nsbuckets + tl->nsdirty_buckets);
	for (i = 0; i < tl->nsdirty_buckets; i++) {
		struct bucket *bk = &tl->buckets[tl->sdirty_buckets[i]];

		bk->sampled_dirty = false;
		tl->sbuckets[tl->nsbuckets++] = (struct sample_bucket){ tl->sdirty_buckets[i], bk->cur };
	}
	tl->nsdirty_buckets = 0;
	s->bn = tl->nsbuckets - s->bfirst;
	s->absolute = false;
	tl->changed = false;
}

void timeline__advance(struct timeline *tl, const struct model *m, uint64_t ts)
{
	if (ts < tl->last_ts)
		ts = tl->last_ts; /* CPUs' events interleave slightly out of order */
	tl->last_ts = ts;
	if (ts < tl->next_sample)
		return;
	if (tl->changed)
		take_sample(tl, m, tl->next_sample);
	tl->next_sample = ts - (ts - tl->start_ts) % tl->interval_ns + tl->interval_ns;
}

/* The exact peak joins the timeline in its place (samples alone can fall either side of it). */
static void insert_peak_sample(struct timeline *tl, const struct model *m)
{
	struct sample *s;
	size_t i, at;

	if (!tl->peak_ts)
		return;
	for (at = tl->nsamples; at > 0 && tl->samples[at - 1].t > tl->peak_ts - tl->start_ts; at--)
		;
	GROW(tl->samples, tl->samplecap, tl->nsamples + 1);
	memmove(&tl->samples[at + 1], &tl->samples[at], (tl->nsamples - at) * sizeof(*tl->samples));
	tl->nsamples++;
	s = &tl->samples[at];
	s->t = tl->peak_ts - tl->start_ts;
	s->kernel = tl->peak_kernel;
	s->tree = tl->peak_tree;
	memcpy(s->cat, tl->peak_cat, sizeof(tl->peak_cat));
	s->first = tl->nsprocs;
	for (i = 0; i < m->nprocs; i++) {
		struct proc *p = m->procs[i];

		if (p->peak_kernel)
			add_sample_proc(tl, p, p->peak_kernel, p->peak_cat);
	}
	s->n = tl->nsprocs - s->first;
	s->bfirst = tl->nsbuckets;
	for (i = 0; i < tl->nbuckets; i++) {
		if (!tl->buckets[i].peak)
			continue;
		GROW(tl->sbuckets, tl->sbucketcap, tl->nsbuckets + 1);
		tl->sbuckets[tl->nsbuckets++] = (struct sample_bucket){ (uint32_t)i, tl->buckets[i].peak };
	}
	s->bn = tl->nsbuckets - s->bfirst;
	s->absolute = true;
}

void timeline__finish(struct timeline *tl, const struct model *m, uint64_t end_ts)
{
	if (tl->at_peak)
		timeline__snapshot_peak(tl);
	timeline__advance(tl, m, end_ts > tl->last_ts ? end_ts : tl->last_ts);
	if (tl->changed)
		take_sample(tl, m, tl->last_ts);
	insert_peak_sample(tl, m);
}
