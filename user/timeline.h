/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Where attributed bytes are counted and how they move over time: buckets (process x label x
 * stack) and their process and tree totals, the peak (frozen lazily: only what changed since
 * the last freeze is copied when the total first goes down after a new high), and the timeline
 * samples (only changed intervals are stored: the cost follows activity, not elapsed time). */
#ifndef TM_TIMELINE_H
#define TM_TIMELINE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "model.h"
#include "view.h"

struct bucket {
	struct proc *proc;
	int label;
	int32_t stack_id;
	int64_t cur, peak;
	uint64_t grows;         /* RSS growth events credited to it over the run */
	uint8_t cat;            /* its label's (enum tm_cat): read at every change */
	bool dirty;             /* changed since the last peak snapshot */
	bool sampled_dirty;     /* changed since the last timeline sample */
};

struct sample {
	uint64_t t;              /* ns since start */
	int64_t kernel;          /* the sum of the processes' RSS (the kernel's counters) */
	int64_t tree;            /* the tree's, each page once */
	int64_t cat[NR_CATS];
	size_t first, n;         /* its sample_proc entries */
	size_t bfirst, bn;       /* its sample_bucket entries: the buckets that changed since the
				  * previous sample, or, when absolute, every bucket with bytes */
	bool absolute;           /* the exact peak, inserted out of order */
};

#define TIMELINE_BUCKET_MEMOS 64 /* a power of two */

struct timeline {
	uint64_t start_ts, interval_ns;
	struct bucket *buckets;
	size_t nbuckets, bucketcap;
	uint32_t *dirty_buckets;
	size_t ndirty_buckets, dirty_bucket_cap;
	struct proc **dirty_procs;
	size_t ndirty_procs, dirty_proc_cap;
	int64_t kernel;               /* the sum of the processes' RSS by the kernel's counters */
	/* the tree's RSS, each page once: kernel less the bytes of records in the process view
	 * only, plus the bytes of frames (in the tree view only) */
	int64_t tree;
	int64_t cat[NR_CATS];         /* attributed, per category (tree view) */
	int64_t peak_tree, peak_kernel, peak_cat[NR_CATS]; /* at the tree's peak */
	uint64_t peak_ts;
	bool at_peak;                 /* a new high not frozen yet */
	struct sample *samples;
	size_t nsamples, samplecap;
	struct sample_proc *sprocs;
	size_t nsprocs, sproccap;
	struct sample_bucket *sbuckets;
	size_t nsbuckets, sbucketcap;
	uint32_t *sdirty_buckets;     /* buckets changed since the last sample */
	size_t nsdirty_buckets, sdirty_bucket_cap;
	uint64_t next_sample;
	bool changed;                 /* since the last sample */
	uint64_t last_ts;
	/* timeline__bucket's recent answers, by stack: a hash probe per record otherwise */
	struct bucket_memo {
		const struct proc *proc;
		int label;
		int32_t stack_id;
		uint32_t bucket;
	} memo[TIMELINE_BUCKET_MEMOS];
};

/* Bucket 0 is made here: it takes bytes when the bucket table is full. */
void timeline__init(struct timeline *tl, uint64_t start_ts, uint64_t interval_ns);
void timeline__free(struct timeline *tl);
/* The bucket of p's bytes of label brought in by stack_id (made on first use). */
uint32_t timeline__bucket(struct timeline *tl, struct proc *p, int label, int32_t stack_id);
/* pages_moved_fn (ctx: the timeline): bytes added to or taken from bucket, in views: the
 * tree view is the bucket's and the tree's, the process view the process's. */
void timeline__moved(void *tl, uint32_t bucket, int64_t bytes, unsigned views);
/* The kernel's counters of p (may be NULL) changed by delta. */
void timeline__kernel(struct timeline *tl, struct proc *p, int64_t delta);
/* An RSS change of p (may be NULL) by delta: a fall from a new high freezes the peak first. */
void timeline__rss(struct timeline *tl, struct proc *p, int64_t delta);
void timeline__mark_proc(struct timeline *tl, struct proc *p);
/* After growth at ts (of p's RSS, or of the tree's: p may be NULL): p's own peak and the
 * tree's peak move up if passed. */
void timeline__grew(struct timeline *tl, struct proc *p, uint64_t ts);
/* The tree is at a new peak and about to go down: freeze what changed since the last freeze. */
void timeline__snapshot_peak(struct timeline *tl);
/* An event at ts: the samples due before it are taken. */
void timeline__advance(struct timeline *tl, const struct model *m, uint64_t ts);
/* Close the timeline and the peak at end_ts; the exact peak joins the samples in its place. */
void timeline__finish(struct timeline *tl, const struct model *m, uint64_t end_ts);
#endif
