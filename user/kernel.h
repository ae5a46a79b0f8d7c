/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The kernel's share: memory the kernel spends on the tree that its RSS never shows (kernel
 * stacks, page tables, socket buffers, slab objects), at each sample of the memory cgroup that
 * holds the tree (main.c reads it; CG_SAMPLE_KERNEL). Cgroup v2's memory.stat has each part.
 * Cgroup v1 has only totals (kmem, kmem.tcp): stacks are the tree's live threads x THREAD_SIZE
 * and page tables the sum of their processes' VmPTE (/proc/PID/status, through the world, so
 * a replay reads the same), and slab is what remains of kmem. Core state: fed by account.c,
 * read by reports through view.h. */
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
	uint32_t threads;         /* v1: the live threads the stacks count */
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
};

struct model;
struct world;
struct cg_sample;
void kernel__sample(struct kernel_state *k, struct model *m, struct world *w, const struct cg_sample *s);
void kernel__free(struct kernel_state *k);
#endif
