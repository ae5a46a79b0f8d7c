/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The user-space picture of the traced tree: process images and their address spaces (mm),
 * made, found and forgotten as forks, execs and exits go by. What an mm's pages hold is in its
 * struct pages; what a process's bytes add up to is kept by timeline.c. */
#ifndef TM_MODEL_H
#define TM_MODEL_H
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>
#include "hashmap.h"
#include "labels.h"
#include "pages.h"
#include "procmaps.h"
#include "regions.h"
#include "taskmem.h"

/* A label resolve__classify gave, and what it was a function of (resolve.c): the faults of one
 * stack in one region, which follow each other, ask it once. A zeroed entry matches nothing:
 * its tag's cause is never 0 (only TM_CAUSE_FAULT and TM_CAUSE_SYSCALL are memoized). */
struct classify_memo {
	uint64_t gen;           /* of the process's regions then: the region is the same while it stays */
	uint64_t start, end;    /* the region the address was in; start == end: in none */
	const char *allocator;
	int32_t stack_id;
	int label;
	uint32_t tag;           /* member, cause, runtime, and where: on its stack, in brk, in the main
				 * stack, in Go's arena (resolve.c) */
};
#define CLASSIFY_MEMO_SETS 16 /* by stack: a Go program's heap grows from hundreds of them */
#define CLASSIFY_MEMO_WAYS 2  /* two threads of one stack, each in a region of its own */

/* One process image: a pid between two execs. */
struct proc {
	uint32_t idx;
	pid_t pid;
	uint32_t gen;           /* how many execs this pid had before this image */
	const char *comm;
	const char *exe;
	bool exe_own_root;      /* exe is the tool's path of it (the process was gone), not the process's */
	bool exec_seen, alive, is_go, maps_stale, maps_read;
	uid_t uid;              /* owner, for trusting its /tmp/perf-PID.map; -1 until known */
	/* since its maps were last read: new mappings of files or shared memory, neither fixed
	 * nor code (maps_new); any other change (maps_moved) */
	uint32_t maps_new;
	bool maps_moved;
	uint32_t maps_reads;    /* of its maps: a pointer into them holds while this stays */
	bool prelaunch;         /* the launcher's child before it exec'd the command: not counted */
	bool oom_victim;        /* the OOM killer chose it (oom:mark_victim) */
	int exit_code;          /* wait status style: exit_code field of the task */
	uint64_t start_ts, end_ts;
	uint64_t start_brk, brk, start_stack, stack_rlim;
	struct procmaps maps;
	struct region_set regions;
	struct mm *mm;          /* its address space (current) */
	struct hashmap *stacks; /* stack id -> struct symstack * (symbolize.c) */
	struct hashmap *pycode; /* CPython code object address -> struct pycode * (symbolize.c) */
	struct hashmap *stack_labels; /* stack id, runtime, question -> label id + 1 (resolve.c) */
	uint8_t runtime;        /* enum runtime (classify.h), from the maps of generation runtime_gen - 1 */
	uint32_t runtime_gen;   /* 0: not yet detected */
	const char *allocator;  /* the malloc that replaces glibc's, as of runtime_gen, or NULL */
	/* newest way first; allocated at the first anonymous fault, freed when the process is gone */
	struct classify_memo (*memo)[CLASSIFY_MEMO_WAYS];
	/* timeline.c's */
	struct hashmap *bucket_idx; /* label << 32 | stack id + 1 -> its bucket */
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
	struct pages *pages;           /* who holds its resident pages */
	bool dead;                      /* its process exited or exec'd away from it */
	bool unknown_base;              /* first seen mid-life (teardown, attach): not counted */
};

#define ATTACH_MM_ID 0 /* placeholder id of an attached process's mm until its first event */

struct model {
	struct proc **procs;          /* every image, in order of appearance */
	size_t nprocs, proccap;
	struct hashmap *cur_proc;     /* pid -> current struct proc * */
	struct hashmap *mms;          /* mm id -> struct mm * */
	struct mm *last_mm;           /* mm_find's last answer: most records are of the same mm */
	struct hashmap *pending_mm;   /* parent tid -> child's struct mm * (fork copy seen first) */
	pages_moved_fn moved;         /* given to every mm's pages */
	void *moved_ctx;
	struct frames *frames;        /* pages more than one mm may hold, counted once */
};

void model__init(struct model *m, pages_moved_fn moved, void *ctx);
/* Frees the processes and mms (their stacks' contents are symbolize.c's to free first). */
void model__free(struct model *m);

/* A new image of pid from ts on; the pid's previous image, if alive, ends (exec). */
struct proc *proc_new(struct model *m, pid_t pid, uint64_t ts);
struct proc *proc_of_pid(struct model *m, pid_t pid);
/* A forked child starts as a copy of its parent (parent may be NULL), sharing its maps and
 * regions until either changes them. */
void proc_inherit(struct proc *child, struct proc *parent);
/* How the process ended: the task's exit_code (a wait status) and its kernel maxrss. */
void proc_set_exit(struct proc *p, uint64_t code, uint64_t maxrss);
/* The process exited and its stacks are named (account__release_stacks): its regions (which
 * classify its faults) and maps (which name its frames) are freed: the maps of children read as
 * they exit were partial snapshots, each one of its own (400 children of 30k mappings: 43 MB). */
void proc_gone(struct proc *p);

/* An address space of p (NULL: a fork's copy, named later); p's current one if it has none. */
struct mm *mm_new(struct model *m, uint32_t mm_id, struct proc *p);
struct mm *mm_find(struct model *m, uint32_t mm_id);
/* mm is known by another id from now on (-p: its first event names it). */
void mm_rename(struct model *m, struct mm *mm, uint32_t mm_id);
/* An address space that is gone is dropped (its records drained), so that a new mm reusing its
 * id starts afresh (rss_stat's mm id is a hash of the mm's address, which the kernel reuses). */
void mm_forget(struct model *m, struct mm *mm);
/* Forget mm if it is dead and its counters are back to zero. */
void mm_maybe_forget(struct model *m, struct mm *mm);
/* A fork's copy seen before the fork: kept by the forking thread until its event names it. */
void mm_pend(struct model *m, uint32_t tid, struct mm *mm);
struct mm *mm_take_pending(struct model *m, uint32_t tid);
#endif
