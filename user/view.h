/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What the reports read of a run, after account__finish and account__resymbolize: processes,
 * buckets (process x label x stack), the timeline, the peak and the run's counts. Read-only,
 * and nothing here asks the system anything: every stack was symbolized by then. */
#ifndef TM_VIEW_H
#define TM_VIEW_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "kernel.h"
#include "labels.h"

struct account;

/* A symbolized stack: frames innermost first, interned strings. */
/* The file mapping a frame's code was in, as the process's maps said when it was named. */
struct frame_map {
	const char *path;      /* interned */
	uint64_t start, end, off;
	const char *build_id;  /* GNU build id in hex (interned), or NULL */
};

/* A frame of interpreted code (CPython): its function, file and line (pprof's Function, Line). */
struct frame_src {
	const char *func, *file; /* interned */
	int line;                /* 0: not known */
};

struct symstack {
	int n;
	int unknown;       /* frames that could not be symbolized (a JIT's perf map may name them later) */
	uint64_t *ips;     /* each frame's address: its instruction pointer, then return addresses
			    * (a Python frame: its code object's, as include/pyframes.h packs it) */
	const struct frame_map **maps; /* each frame's file mapping, or NULL (JIT, anonymous) */
	const struct frame_src **srcs; /* NULL, or each frame's source (NULL for native frames) */
	const char *frames[];
};

struct account_stats {
	uint64_t events, rss_events;
	uint64_t unplaced_bytes;     /* positive deltas with no known address */
	uint64_t file_unmatched;     /* file/shmem growth whose mapping was not known (not counted once) */
	uint64_t maps_read_failed;   /* /proc/PID/maps could not be read (process gone) */
	uint64_t frames, frames_unknown;
	uint64_t stacks_missing;     /* growth with no user stack (stack walk failed or none) */
	uint64_t unsampled;          /* --sample-bytes: growth records whose stack was not walked */
	uint64_t orphan_events;      /* events of an mm or pid never bound to a process */
	uint64_t stacks_unreadable;  /* stack ids gone from the kernel's map before they were read */
	uint64_t mm_reused;          /* a dead mm's id came back before its teardown was seen */
	uint64_t unwind_set_failed;  /* a process's unwind ranges could not be given to the kernel */
	uint64_t cow_copies;         /* shared anonymous pages a write copied */
	uint64_t py_frames;          /* Python frames in distinct stacks */
	uint64_t py_unnamed;         /* of those, frames whose code object could not be read */
	uint64_t py_cut;             /* Python stacks cut short (a frame unreadable, too deep) */
	size_t cfi_tables, cfi_skipped, cfi_rows; /* unwind tables loaded, refused; their rows */
};

/* A process's bytes at a timeline sample. */
struct sample_proc {
	uint32_t proc;           /* its index (view__proc) */
	int64_t kernel;
	int64_t cat[NR_CATS];
};

/* A bucket's bytes at a sample: what the temporal flame graph replays. */
struct sample_bucket {
	uint32_t bucket;
	int64_t cur;
};

/* Times are CLOCK_MONOTONIC ns, as start_ts. */
struct view_totals {
	uint64_t start_ts;                      /* launch (or attach) */
	/* the tree now: its RSS, each page once (what the categories add up to, with what no record
	 * holds), and the sum of the processes' RSS by the kernel's counters */
	int64_t tree, kernel, cat[NR_CATS];
	int64_t peak_tree, peak_kernel, peak_cat[NR_CATS]; /* at the tree's peak (of tree) */
	uint64_t peak_ts;                       /* 0: no growth seen */
};

/* One process image: a pid between two execs. */
struct view_proc {
	uint32_t idx;            /* in order of appearance */
	pid_t pid;
	uint32_t image;          /* how many execs this pid had before this image */
	const char *comm, *exe;
	bool prelaunch;          /* the launcher's child before it exec'd: not reported */
	int exit_code;
	uint64_t start_ts, end_ts; /* end_ts 0: still running */
	int64_t own_peak, own_peak_cat[NR_CATS];
	uint64_t own_peak_ts;
	int64_t peak_kernel, peak_cat[NR_CATS]; /* at the tree's peak */
	int64_t kernel_hiwater;  /* the kernel's maxrss for the pid at exit, or 0 */
	bool oom_victim;         /* the OOM killer chose it */
};

/* Bucket 0 has no process: it takes bytes when the bucket table is full. */
struct view_bucket {
	pid_t pid;               /* 0 without a process */
	int proc_idx;            /* -1 without a process */
	int label;
	const struct symstack *stack; /* NULL: no user stack */
	bool unsampled;          /* --sample-bytes: the label's growth left out of the sample, less
				  * what the sampled stacks' estimates took beyond their own bytes */
	bool estimated;          /* --sample-bytes: a stack's bytes, an estimate */
	int64_t cur, peak;
	uint64_t grows;          /* RSS growth events credited to it over the run */
};

struct view_sample {
	uint64_t t;              /* ns since start */
	int64_t tree, kernel, cat[NR_CATS]; /* as in view_totals */
	const struct sample_proc *procs;
	size_t nprocs;
	/* the buckets that changed since the previous sample, or, when absolute (the exact peak,
	 * inserted out of order), every bucket with bytes */
	const struct sample_bucket *buckets;
	size_t nbuckets;
	bool absolute;
};

/* The run's own memory cgroup (--limit), as last read. */
struct view_cgroup {
	bool present;
	int version;             /* 1 or 2 */
	uint64_t limit;          /* UINT64_MAX: none */
	uint64_t max_usage, failcnt, oom_kill;
	size_t nsamples;         /* its usage over time: view__cgroup_sample */
};

/* The OOM killer in the tree: its first victim. */
struct view_oom {
	uint32_t kills;          /* victims in the tree; 0: none (the rest is unset) */
	pid_t pid;
	char comm[16];
	uint64_t t;              /* ns since start */
	uint64_t rss, anon, file, shmem; /* the victim's, as the kernel's log gives them */
	bool cgroup;             /* a cgroup's limit ran out (its own counters say so), else the system */
	uint64_t limit;          /* that cgroup's limit (UINT64_MAX: system) */
};

void view__totals(const struct account *a, struct view_totals *out);
void view__cgroup(const struct account *a, struct view_cgroup *out);
/* The cgroup's usage at sample i: t in ns since start. */
void view__cgroup_sample(const struct account *a, size_t i, uint64_t *t, uint64_t *usage);
void view__oom(const struct account *a, struct view_oom *out);

/* The kernel's share (kernel.h), from the cgroup that held the tree and the kernel's events. */
struct view_kernel {
	bool present;            /* false: neither a cgroup nor the events said (the rest is unset) */
	int version;             /* the cgroup's, 1 or 2; 0: none, the events' parts alone */
	bool events;             /* the kernel's events gave stacks and page tables (v1, none) */
	bool slab_events;        /* and slab (--kernel-slab): kernel_sample.slab_bpf */
	uint64_t thread_size;    /* THREAD_SIZE the stacks count */
	bool run_cgroup;         /* the run's own (only the tree), else the process's (-p) */
	struct kernel_sample peak; /* the sample of the largest total (ts since start) */
	uint64_t kmem_max;       /* v1: the kernel's high-water mark of kmem, 0 if unknown */
	size_t nsamples;         /* over time: view__kernel_sample */
};
void view__kernel(const struct account *a, struct view_kernel *out);
/* Sample i, its ts in ns since start. */
void view__kernel_sample(const struct account *a, size_t i, struct kernel_sample *out);
/* Every bucket's bytes at t (ns since start) as the timeline's samples had them (out has
 * view__nbuckets entries). */
void view__buckets_at(const struct account *a, uint64_t t, int64_t *out);
const struct account_stats *view__stats(const struct account *a);
/* --sample-bytes N, or 0: exact (every stack walked) */
uint64_t view__sample_bytes(const struct account *a);
/* --sample-bytes: the chance a record of growth had to be walked (1: exact) */
double view__sample_chance(const struct account *a);
size_t view__nprocs(const struct account *a);
void view__proc(const struct account *a, size_t i, struct view_proc *out);
size_t view__nbuckets(const struct account *a);
void view__bucket(const struct account *a, size_t i, struct view_bucket *out);
size_t view__nsamples(const struct account *a);
void view__sample(const struct account *a, size_t i, struct view_sample *out);
#endif
