/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Turns the event stream into resident bytes per process, label and stack, over time:
 * every RSS delta the kernel reports is added to (or taken from) page records, so the
 * attributed parts always add up to the kernel's counters. */
#ifndef TM_ACCOUNT_H
#define TM_ACCOUNT_H
#include <stddef.h>
#include "model.h"
#include "unwind.h"

struct account_opts {
	uint64_t start_ts;       /* CLOCK_MONOTONIC ns at launch */
	uint64_t interval_ns;    /* timeline sample interval */
	/* Read stack id's frames from the kernel's stack map; returns frame count or -errno. */
	int (*read_stack)(void *ctx, int32_t id, uint64_t *ips, int max);
	/* Free a stack id in the kernel's stack map (no live process needs it any more). */
	void (*drop_stack)(void *ctx, int32_t id);
	/* How a process ended, when its exit record was lost; 0 or -errno. */
	int (*exit_info)(void *ctx, uint32_t tgid, struct tm_exit *out);
	/* Load an unwind table (struct unwind_table *) into the kernel: its index, or -errno.
	 * NULL: stacks are walked by frame pointers only. */
	int (*load_unwind)(void *ctx, const void *table);
	/* Put the tables loaded since the last call in place; 0 or -errno. */
	int (*commit_unwind)(void *ctx);
	/* Tell the kernel which of tgid's text mappings the tables cover; 0 or -errno. */
	int (*set_unwind)(void *ctx, uint32_t tgid, const struct tm_unwind_proc *up);
	void *ctx;
	time_t perfmap_not_before; /* perf maps older than this belong to an earlier pid */
};

struct sample_proc {
	uint32_t proc;
	int64_t kernel;
	int64_t cat[NR_CATS];
};

/* A bucket's bytes at a sample: what the temporal flame graph replays. */
struct sample_bucket {
	uint32_t bucket;
	int64_t cur;
};

struct sample {
	uint64_t t;              /* ns since start */
	int64_t kernel;
	int64_t cat[NR_CATS];
	size_t first, n;         /* its sample_proc entries */
	size_t bfirst, bn;       /* its sample_bucket entries: the buckets that changed since the
				  * previous sample, or, when absolute, every bucket with bytes */
	bool absolute;           /* the exact peak, inserted out of order */
};

struct account_stats {
	uint64_t events, rss_events;
	uint64_t unplaced_bytes;     /* positive deltas with no known address */
	uint64_t maps_read_failed;   /* /proc/PID/maps could not be read (process gone) */
	uint64_t frames, frames_unknown;
	uint64_t stacks_missing;     /* growth with no user stack (stack walk failed or none) */
	uint64_t orphan_events;      /* events of an mm or pid never bound to a process */
	uint64_t stacks_unreadable;  /* stack ids gone from the kernel's map before they were read */
	uint64_t mm_reused;          /* a dead mm's id came back before its teardown was seen */
	uint64_t unwind_set_failed;  /* a process's unwind ranges could not be given to the kernel */
};

struct account {
	struct account_opts o;
	struct proc **procs;
	size_t nprocs, proccap;
	struct hashmap *cur_proc;     /* pid -> current struct proc * */
	struct hashmap *mms;          /* mm id -> struct mm * */
	struct hashmap *pending_mm;   /* parent tid -> child's struct mm * (fork copy seen first) */
	struct bucket *buckets;
	size_t nbuckets, bucketcap;
	struct hashmap *stack_users;  /* stack id -> live processes that symbolized it */
	uint32_t *dirty_buckets;
	size_t ndirty_buckets, dirty_bucket_cap;
	struct proc **dirty_procs;
	size_t ndirty_procs, dirty_proc_cap;
	int64_t kernel;               /* the tree's RSS by the kernel's counters */
	int64_t cat[NR_CATS];         /* attributed, per category */
	int64_t peak_kernel, peak_cat[NR_CATS];
	uint64_t peak_ts;
	bool at_peak;
	struct sample *samples;
	size_t nsamples, samplecap;
	struct sample_proc *sprocs;
	size_t nsprocs, sproccap;
	struct sample_bucket *sbuckets;
	size_t nsbuckets, sbucketcap;
	uint32_t *sdirty_buckets;     /* buckets changed since the last sample */
	size_t nsdirty_buckets, sdirty_bucket_cap;
	uint64_t next_sample;
	bool changed;
	uint64_t last_ts;
	struct account_stats st;
	struct unwind_cache *unwind;  /* files with unwind tables (NULL: frame pointers only) */
};

struct account *account__new(const struct account_opts *o);
void account__free(struct account *a);
/* The launched process, before it execs. */
struct proc *account__add_root(struct account *a, pid_t pid);
/* -p: a running process; what is resident now is counted per mapping as pre-existing. */
int account__attach(struct account *a, pid_t pid);
/* False once the process's exit was seen (a zombie still answers kill(pid, 0)). */
bool account__alive(struct account *a, pid_t pid);
void account__event(struct account *a, const struct tm_event *e);
/* Re-read the maps of live processes that mapped new files (call between event batches). */
void account__refresh_maps(struct account *a);
/* Close the timeline and the peak at end_ts. */
void account__finish(struct account *a, uint64_t end_ts);
/* Before the reports: name the frames still unknown from perf maps written since (a JVM writes
 * its map at exit). */
void account__resymbolize(struct account *a);
/* The name of the code at ip (symbol, JIT name, or module+offset); *known (may be NULL) says
 * whether it is a real name. Interned. */
const char *account__frame_name(struct account *a, struct proc *p, uint64_t ip, bool *known);
/* Symbolized stack of a process (cached), or NULL when the id is an error. */
const struct symstack *account__stack(struct account *a, struct proc *p, int32_t id);
/* Find the mapping containing addr, re-reading the process's maps once if they changed. */
const struct map_entry *account__find_map(struct account *a, struct proc *p, uint64_t addr);
#endif
