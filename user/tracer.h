/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Loads and attaches the BPF programs, streams their events, reads their counters. */
#ifndef TM_TRACER_H
#define TM_TRACER_H
#include <stdint.h>
#include <sys/types.h>
#include <linux/types.h>
#include "taskmem.h"
#include "pyframes.h"

struct tracer_opts {
	uint32_t max_processes, max_threads, stack_storage;
	uint32_t slab_objects;   /* slab objects of the tree followed at once; 0: slab not followed */
	uint64_t ringbuf_bytes;
	uint64_t sample_bytes;   /* --sample-bytes, 0: every stack walked */
	uint32_t stack_cache;    /* --stack-cache: enum tm_stack_cache */
};

struct tracer;
typedef void (*tracer_event_fn)(void *ctx, const struct tm_event *e);

/* Checks the environment (root, BTF, tracefs), loads and attaches; 0 or -errno (reported). */
int tracer__open(struct tracer **out, const struct tracer_opts *o, tracer_event_fn fn, void *ctx);
int tracer__follow(struct tracer *t, pid_t pid);
/* Deliver what is waiting; waits up to timeout_ms for more. Returns events handled or -errno. */
int tracer__poll(struct tracer *t, int timeout_ms);
/* Call fn(arg) at the end of every tracer__poll (fn NULL: no more): work the event loop does
 * for others, such as loading the unwind tables a worker built. */
void tracer__on_poll(void *t, void (*fn)(void *arg), void *arg);
int tracer__read_stack(void *t, int32_t id, uint64_t *ips, int max);
void tracer__drop_stack(void *t, int32_t id);
void tracer__counters(struct tracer *t, uint64_t out[TM_NR_COUNTERS]);
/* How process tgid ended, from the map that survives a full ring buffer; 0 or -ENOENT. */
int tracer__exit_info(void *t, uint32_t tgid, struct tm_exit *out);
/* Load a file's unwind table (struct unwind_table *): its index in unwind_files, or -errno. */
int tracer__load_unwind(void *t, const void *table);
/* Put the tables loaded since the last call in place (one wait for the kernel); 0 or -errno. */
int tracer__commit_unwind(void *t);
/* Which of tgid's text mappings the tables cover, and where its CPython keeps its frames (NULL:
 * none); replaces what was set before. */
int tracer__set_unwind(void *t, uint32_t tgid, const struct tm_unwind_proc *up, const struct tm_py_proc *py);
/* Add ranges to tgid's (their tables were loaded after its maps were read), keeping what is
 * set; 0 (also when tgid is no longer traced) or -errno. */
int tracer__add_unwind(void *t, uint32_t tgid, const struct tm_unwind_range *r, uint32_t n);
/* Where tgid's CPython keeps its frames, before its unwind ranges (whose tables may take a while
 * to load) are set: its first Python frames are read sooner. exe_ino, exe_dev (0: none): the
 * executable, not position-independent, that holds them: processes that exec it later are set
 * up at their exec. */
int tracer__set_python(void *t, uint32_t tgid, const struct tm_py_proc *py, uint64_t exe_ino, uint32_t exe_dev);
/* The run is over: start detaching the programs whose detach is slow, in threads of their
 * own, so that it overlaps the reports (maps stay readable until tracer__free). */
void tracer__detach(struct tracer *t);
void tracer__free(struct tracer *t);
#endif
