/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Turns the event stream into resident bytes per process, label and stack, over time: each
 * event reads straight through the modules, model (processes, address spaces) -> pages (who
 * holds each resident page) -> timeline (buckets, peak, samples). Every RSS delta the kernel
 * reports is added to (or taken from) page records, so the attributed parts always add up to
 * the kernel's counters. Reports read the result through view.h. */
#ifndef TM_ACCOUNT_H
#define TM_ACCOUNT_H
#include <stddef.h>
#include "kernel.h"
#include "labels.h"
#include "model.h"
#include "oom.h"
#include "symbolize.h"
#include "timeline.h"
#include "view.h"
#include "world.h"

struct account_opts {
	uint64_t start_ts;       /* CLOCK_MONOTONIC ns at launch */
	uint64_t interval_ns;    /* timeline sample interval */
	struct world_opts world; /* how to reach the system and the kernel side */
	uint64_t sample_bytes;   /* --sample-bytes N, 0: every stack walked (exact) */
};

/* --sample-bytes: a stack's bucket: the bytes its pages hold (its cur is their estimate), and
 * the bucket of the unsampled growth that takes the difference: the one of the label its pages
 * would have had without their stack (Go's goroutine stacks are known by their frames alone:
 * their unsampled pages are heap/go's), so that categories too are estimates that add up. */
struct sampled_bucket {
	int64_t real;
	uint32_t rest;           /* 0: not yet known */
};

struct account {
	struct account_opts o;
	struct world *w;
	struct model m;
	struct timeline tl;
	struct hashmap *stack_users;  /* stack id -> live processes that symbolized it */
	struct hashmap *fmaps;        /* the file mappings frames were in (symbolize.c) */
	struct hashmap *fsrcs;        /* interned Python frame name -> struct frame_src * (symbolize.c) */
	struct account_stats st;
	struct oom_state oom;          /* OOM victims, the memory cgroup's counters */
	struct kernel_state kern;      /* the kernel's share, at each cgroup sample */
	double sample_scale;           /* --sample-bytes: what a byte of a one-page record in the
					* sample stands for (1 / chance) */
	double grow_scale;             /* the same for the record being added now, 0: none */
	int grow_rest_label;           /* and the label its unsampled growth would have had, or -1 */
	struct sampled_bucket *sb;     /* --sample-bytes: per bucket of a stack (index: bucket) */
	size_t nsb;
	struct symstack *unsampled_ss; /* --sample-bytes: the one frame "[unsampled]" of the
					* remainder's buckets, in every output */
};

struct account *account__new(const struct account_opts *o);
void account__free(struct account *a);
/* The launched process, before it execs. */
struct proc *account__add_root(struct account *a, pid_t pid);
/* -p: a running process; what is resident now is counted per mapping as pre-existing
 * (attach.c). */
int account__attach(struct account *a, pid_t pid);
/* Did the OOM killer choose the process (its last image)? */
bool account__oom_victim(struct account *a, pid_t pid);
/* False once the process's exit was seen (a zombie still answers kill(pid, 0)). */
bool account__alive(struct account *a, pid_t pid);
void account__event(struct account *a, const struct tm_event *e);
/* The memory cgroup's counters, read by main.c (recorded, as events are). */
void account__cgroup(struct account *a, const struct cg_sample *s);
/* Close the timeline and the peak at end_ts; every stack a report shows is symbolized by then. */
void account__finish(struct account *a, uint64_t end_ts);
#endif
