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

enum tm_cat { CAT_STACK, CAT_HEAP, CAT_RUNTIME, CAT_FILE, CAT_OTHER, NR_CATS };
extern const char *const cat_names[NR_CATS];
/* out = cat, with the bytes no record holds (kernel - sum, returned) added to other: the
 * categories every output shows always add up to the kernel's counters. */
int64_t categories_with_unattributed(const int64_t cat[NR_CATS], int64_t kernel, int64_t out[NR_CATS]);

/* A finer label under a category, e.g. stack/goroutine; ids index label_table. */
struct label {
	enum tm_cat cat;
	const char *name; /* interned */
};
int label_id(enum tm_cat cat, const char *name);
const struct label *label_get(int id);

/* Where an anonymous mapping came from, as seen at its mmap/brk. */
enum region_kind { REG_MMAP = 1, REG_FILE };
struct region {
	uint64_t start, end;
	uint32_t kind;
	uint32_t flags;   /* mmap flags */
	uint64_t caller;  /* return address into the mmap caller */
	int32_t stack_id;
	int label;        /* cached classification, -1 until first needed */
};
struct region_set {
	struct region *r;
	size_t n, cap;
};
/* Replace whatever lies in [r->start, r->end) by r. */
void regions__insert(struct region_set *rs, const struct region *r);
void regions__remove(struct region_set *rs, uint64_t start, uint64_t end);
/* Move [old, old+len) to new (mremap). */
void regions__move(struct region_set *rs, uint64_t old, uint64_t len, uint64_t new_addr);
struct region *regions__find(struct region_set *rs, uint64_t addr);
void regions__copy(struct region_set *dst, const struct region_set *src);

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
	struct hashmap *stack_labels; /* stack id, runtime, question -> label id + 1 (resolve.c) */
	uint8_t runtime;        /* enum runtime (classify.h), from the maps of generation runtime_gen - 1 */
	uint32_t runtime_gen;   /* 0: not yet detected */
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
