/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The user-space picture of the traced tree: processes, their address spaces (mm), the
 * resident pages each mm holds and the buckets (process x label x stack) they are counted in. */
#ifndef TM_MODEL_H
#define TM_MODEL_H
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>
#include "hashmap.h"
#include "procmaps.h"
#include <linux/types.h>
#include "taskmem.h"
#include "labels.h"
#include "regions.h"

/* A symbolized stack: frames innermost first, interned strings. */
struct symstack {
	int n;
	int unknown;       /* frames that could not be symbolized */
	uint64_t *ips;     /* kept while some are unknown: a JIT's perf map may name them later */
	const char *frames[];
};

/* One process image: a pid between two execs. */
struct proc {
	uint32_t idx;
	pid_t pid;
	uint32_t gen;           /* how many execs this pid had before this image */
	const char *comm;
	const char *exe;
	bool exec_seen, alive, is_go, maps_stale, maps_read;
	uid_t uid;              /* owner, for trusting its /tmp/perf-PID.map; -1 until known */
	bool prelaunch;         /* the launcher's child before it exec'd the command: not counted */
	int exit_code;          /* wait status style: exit_code field of the task */
	uint64_t start_ts, end_ts;
	uint64_t start_brk, brk, start_stack, stack_rlim;
	struct procmaps maps;
	struct region_set regions;
	struct mm *mm;          /* its address space (current) */
	struct hashmap *stacks; /* stack id -> struct symstack * */
	struct hashmap *stack_labels; /* stack id -> label id + 1, for stack-decided labels */
	struct hashmap *bucket_idx; /* label << 32 | stack id + 1 -> its bucket in account */
	int64_t kernel;         /* sum of its mms' kernel counters */
	int64_t cat[NR_CATS];   /* attributed bytes now */
	int64_t peak_kernel, peak_cat[NR_CATS]; /* at the tree's peak */
	int64_t own_peak, own_peak_cat[NR_CATS];
	int64_t kernel_hiwater;  /* the kernel's maxrss for the pid at exit (all its images), or 0 */
	uint64_t own_peak_ts;
	bool dirty;             /* changed since the last peak snapshot */
	bool sampled_dirty;     /* changed since the last timeline sample */
};

/* An address space, by rss_stat's mm id. */
struct mm {
	uint32_t mm_id;
	struct proc *proc;
	int64_t last[TM_NR_MEMBERS];   /* kernel counter totals as last reported */
	int64_t total;                 /* file + anon + shmem */
	int64_t attributed;            /* bytes held by page records */
	struct hashmap *pages[TM_NR_MEMBERS]; /* page address -> bytes << 32 | bucket */
	size_t cursor[TM_NR_MEMBERS];
	/* the range free in progress (a syscall's frees come as several RSS changes): where each
	 * member's walk through it stopped */
	uint64_t rng_start, rng_end, rng_ts, rng_next[TM_NR_MEMBERS];
	bool dead;                      /* its process exited or exec'd away from it */
	bool unknown_base;              /* first seen mid-life (teardown, attach): not counted */
};

struct bucket {
	struct proc *proc;
	int label;
	int32_t stack_id;
	int64_t cur, peak;
	uint64_t grows;         /* RSS growth events credited to it over the run */
	bool dirty;             /* changed since the last peak snapshot */
	bool sampled_dirty;     /* changed since the last timeline sample */
};

#define UNPLACED_KEY 1ull /* page key for bytes whose address is unknown */
#endif
