/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The kernel's share: memory the kernel spends on the tree that its RSS never shows (kernel
 * stacks, page tables, socket buffers, slab objects). Measured from the kernel's events
 * (TM_EV_KSTAT, and rss_stat records with TM_F_PGTABLES): the tree's live threads x THREAD_SIZE,
 * each process's mm->pgtables_bytes, and the accounted slab objects it allocated and nobody has
 * freed yet. Where a memory cgroup holds the tree (main.c samples it; CG_SAMPLE_KERNEL), its
 * counters are the oracle: v2's memory.stat has each part; v1 has only totals (kmem, kmem.tcp),
 * so stacks and page tables are the events', slab what remains of kmem, and the events' slab
 * is kept beside it. Without a cgroup the events' parts are the kernel's share, sampled as they
 * change. Recordings of builds before these events (and -p's processes, whose threads were
 * not seen start) read threads and VmPTE from /proc/PID/status, through the world. Core state:
 * fed by account.c, read by reports through view.h. */
#ifndef TM_KERNEL_H
#define TM_KERNEL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KERNEL_THREAD_SIZE 16384 /* x86_64's THREAD_SIZE: every thread's kernel stack */

struct kernel_sample {
	uint64_t ts;              /* CLOCK_MONOTONIC ns (view__kernel_sample: since start) */
	uint64_t stacks, pagetables, sock, slab;
	uint64_t total;           /* all kernel memory charged to the cgroup, sockets included */
	uint32_t threads;         /* v1 and events: the live threads the stacks count */
	uint64_t slab_bpf;        /* the slab the kernel's events saw (a cgroup's slab beside it) */
};

/* A process's part, from the kernel's events (by tgid: it outlives exec's images) */
struct kernel_proc {
	int64_t threads, pagetables, slab;
	bool born;                /* seen start in the tree: its threads are known from events */
	bool exited;              /* its last thread's exit was seen (late thread records: ignored) */
};

struct kernel_state {
	struct kernel_sample *s;
	size_t n, cap;
	uint32_t version;         /* the cgroup's: 1 or 2 */
	bool run_cgroup;          /* the run's own cgroup (only the tree), else the process's (-p) */
	uint64_t kmem_max;        /* v1: the kernel's high-water mark of kmem, 0 if unknown */
	/* v1: the last read of the live processes' status files (threads, page tables), reused
	 * until it is due again: a read per process per sample would cost a big tree dearly */
	uint64_t swept_ts, threads, pte;
	bool swept;
	/* from the kernel's events: per process, and their sums */
	struct hashmap *procs;    /* tgid -> struct kernel_proc * */
	struct kernel_proc *last; /* kproc's last answer, of last_tgid: a record per RSS change asks */
	uint32_t last_tgid;
	int64_t threads_bpf, pagetables_bpf, slab_bpf;
	uint64_t thread_size;     /* THREAD_SIZE as the kernel said it, 0 until a thread event */
	bool bpf;                 /* the events carry the parts (not a recording of an older build) */
	bool slab;                /* slab records came (--kernel-slab: each process's first is sent) */
	bool attached;            /* -p: threads of processes that ran before are not in the events */
	bool cgroup;              /* a cgroup sample came: the samples are the cgroup's */
	uint64_t interval_ns;     /* between samples of the events' parts (without a cgroup) */
	struct kernel_sample peak_bpf; /* without a cgroup: the largest total, at its change */
	struct kernel_sample cur; /* without a cgroup: the state at the last change */
	bool unsampled;           /* cur is not among the samples yet */
};

struct model;
struct world;
struct cg_sample;
struct tm_event;
void kernel__sample(struct kernel_state *k, struct model *m, struct world *w, const struct cg_sample *s);
/* A process of the tree began with one thread (the launched one, a fork's child). */
void kernel__proc_start(struct kernel_state *k, uint32_t tgid);
/* A TM_EV_KSTAT record, or a TM_EV_RSS record with TM_F_PGTABLES. */
void kernel__event(struct kernel_state *k, const struct tm_event *e);
/* The process's last thread exited: its stacks and page tables are gone, its slab is not. */
void kernel__proc_exit(struct kernel_state *k, uint32_t tgid, uint64_t ts);
/* The run ended: the last sample of the events' parts. */
void kernel__finish(struct kernel_state *k, uint64_t ts);
/* The events' parts now (ts as given). */
void kernel__bpf_now(const struct kernel_state *k, uint64_t ts, struct kernel_sample *out);
void kernel__free(struct kernel_state *k);
#endif
