/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* When memory ran out: the OOM killer's victims in the tree (oom:mark_victim events) and the
 * memory cgroup's counters over the run (samples main.c reads and the recording keeps), from
 * which whether a cgroup's limit or the whole system ran out is told. Core state: fed by
 * account.c, read by reports through view.h. */
#ifndef TM_OOM_H
#define TM_OOM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "cgroup.h"
#include "taskmem.h"

#define CG_SAMPLE_OWN 0x1 /* the run's own cgroup (--limit): drawn and summarized */
#define CG_SAMPLE_KERNEL 0x2 /* the cgroup that holds the tree: the kernel's share (kernel.h) */
#define CG_SAMPLE_RUN 0x4 /* the run's own cgroup (with or without --limit): only the tree */

/* The cgroup's counters at ts (CLOCK_MONOTONIC ns). Without CG_SAMPLE_OWN, the cgroup the tree
 * was in (read at its start and its end): only tells a cgroup's OOM from the system's. */
struct cg_sample {
	uint64_t ts;
	uint32_t flags;
	uint32_t version;        /* cgroup 1 or 2 */
	struct cg_counters c;
};

struct oom_state {
	struct cg_sample *own;   /* the run's cgroup over time */
	size_t nown, owncap;
	struct cg_sample ctx_first, ctx_last; /* the cgroup the tree was in */
	bool have_ctx;
	uint32_t kills;          /* OOM victims in the tree */
	struct tm_event first;   /* the first victim's mark_victim event */
};

void oom__free(struct oom_state *o);
void oom__cgroup(struct oom_state *o, const struct cg_sample *s);
/* A victim of the tree; the first is kept. */
void oom__victim(struct oom_state *o, const struct tm_event *e);
#endif
