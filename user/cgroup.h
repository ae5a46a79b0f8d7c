/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* A memory cgroup: one made for a run (--limit: the launched tree in it, with a limit, as
 * `docker run -m` would), or the one a process is in (read only). Its counters are read the
 * same way on cgroup v1 (the memory controller's own hierarchy) and v2 (memory in cgroup2's
 * controllers). A run's cgroup is named taskmem-trace-PID (the tool's pid) under the
 * hierarchy's root: one that a killed tool left behind is removed by the next run. */
#ifndef TM_CGROUP_H
#define TM_CGROUP_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CG_NO_LIMIT UINT64_MAX

struct cgroup;

/* Its counters now; a counter the kernel does not have reads as 0 (v2 before 5.19: no peak). */
struct cg_counters {
	uint64_t usage;      /* bytes charged now: process memory, page cache, kernel memory */
	uint64_t max_usage;  /* the high-water mark of usage */
	uint64_t limit;      /* CG_NO_LIMIT: none */
	uint64_t failcnt;    /* charges that hit the limit (v2: memory.events max) */
	uint64_t oom;        /* v2: memory.events oom (the limit's OOM); v1: 0 */
	uint64_t oom_kill;   /* processes the OOM killer killed in it */
	/* kernel memory charged to it (kernel.h): v1 memory.kmem.usage_in_bytes and
	 * max_usage_in_bytes, kmem.tcp.usage_in_bytes (its memory.kmem.slabinfo reads empty on
	 * 6.x: slab stays 0); v2 memory.stat's kernel, sock, slab, kernel_stack, pagetables */
	uint64_t kmem, kmem_max, sock, slab, kernel_stack, pagetables;
};

/* Make a run's cgroup with limit bytes (CG_NO_LIMIT: none). Stale run cgroups are removed
 * first. -ENOENT: no usable memory cgroup (none mounted, or v2 without memory). */
int cgroup__create(struct cgroup **out, uint64_t limit);
/* The memory cgroup pid is in, read only (never removed). */
int cgroup__open_pid(struct cgroup **out, pid_t pid);
/* Move pid into it (the launched child, before exec). 0 or -errno. */
int cgroup__add(struct cgroup *cg, pid_t pid);
int cgroup__read(const struct cgroup *cg, struct cg_counters *c);
/* A key of memory.stat (v1: "rss", "cache", "total_rss"...; v2: "anon", "kernel_stack"...).
 * 0, -ENOENT if it is not there, or -errno. */
int cgroup__stat(const struct cgroup *cg, const char *key, uint64_t *val);
/* A file of one number (e.g. "memory.kmem.usage_in_bytes"); "max" reads as CG_NO_LIMIT. */
int cgroup__read_u64(const struct cgroup *cg, const char *file, uint64_t *val);
/* Does a limit hold it, its own or an ancestor's (v1: hierarchical_memory_limit; v2: memory.max
 * up to the root)? A tree moved out of it into a run's cgroup would escape that limit. */
bool cgroup__limited(const struct cgroup *cg);
const char *cgroup__path(const struct cgroup *cg);
int cgroup__version(const struct cgroup *cg); /* 1 or 2 */
/* Remove a run's cgroup (it must be empty: the tree has exited) and free; an opened one is
 * only freed. 0, or -errno when the directory could not be removed (left for the next run). */
int cgroup__remove(struct cgroup *cg);
#endif
