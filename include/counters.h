/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The one table of counters, for bpf/taskmem.bpf.c and user space (plain preprocessor, so
 * that clang -target bpf takes it). Every output (summary, JSON, HTML, live line, trace)
 * iterates it: a counter is added here and nowhere else. A row:
 *
 *   X(ID, "json_key", "summary wording", SHOW, "meaning")
 *
 * ID      TM_CNT_<ID>: kernel rows are the index of the BPF per-CPU array 'counters'
 *         (enum tm_counter), user rows are numbered after them (enum tm_user_counter)
 * key     its key in --json's "events" object (docs/json-schema.md): never renamed
 * wording how the summary and the HTML report name it
 * SHOW    INFO:   in the JSON only
 *         ALWAYS: on the summary's "events:" line too, as "N wording"
 *         DROP:   a ring-buffer record lost: summed into "dropped" everywhere, and warned about
 *         LOSS:   data lost or not attributable: shown as "wording N" when it is not 0
 * meaning one line, what it counts
 */
#ifndef TM_COUNTERS_H
#define TM_COUNTERS_H

/* counted in BPF, per CPU; the order is the array's (append only) */
#define TM_KERNEL_COUNTERS(X)                                                                      \
	X(PAGE_FAULTS, "page_faults", "page faults", ALWAYS,                                       \
	  "user and kernel page faults taken by traced tasks")                                     \
	X(RSS_EVENTS, "rss_updates", "RSS updates", ALWAYS,                                        \
	  "rss_stat events kept for the traced tree")                                              \
	X(DROP_RSS, "dropped_rss_ringbuf_full", "RSS records lost", DROP,                          \
	  "RSS records lost, ring buffer full (the mm's next record carries the delta)")           \
	X(DROP_SYSCALL, "dropped_syscall_ringbuf_full", "syscall records lost", DROP,              \
	  "mmap/munmap/... records lost, ring buffer full")                                        \
	X(DROP_PROC, "dropped_process_ringbuf_full", "process records lost", DROP,                 \
	  "fork/exec/exit records lost, ring buffer full")                                         \
	X(STACK_FAULT, "stack_walk_failed", "stack walks failed", LOSS,                            \
	  "user stack walk failed (-EFAULT: no user regs, bad frame)")                             \
	X(STACK_FULL, "stack_map_full", "stack map full", LOSS,                                    \
	  "stack not stored: stack map full or hash collision (--stack-storage-size)")             \
	X(TASK_MAP_FULL, "thread_map_full", "thread map full", LOSS,                               \
	  "per-thread state map full: causes of that thread unknown (--max-threads)")              \
	X(MM_MAP_FULL, "mm_map_full", "mm map full", LOSS,                                         \
	  "mm id map full: foreign-context updates of that mm unseen")                             \
	X(TRACED_MAP_FULL, "process_map_full", "process map full", LOSS,                           \
	  "traced-process map full: a child process was not followed (--max-processes)")           \
	X(UNWIND_STOP, "cfi_no_row", "CFI walks cut short", LOSS,                                  \
	  "a CFI walk stopped early: code in a file with a table, but no row for it")               \
	X(WRITE_FAULTS, "write_protect_faults", "write faults on present pages", INFO,             \
	  "write faults of traced tasks on present pages (copy-on-write candidates)")              \
	X(DROP_COW, "dropped_cow_ringbuf_full", "copy-on-write records lost", DROP,                \
	  "write-fault records lost, ring buffer full (a shared page written then stays shared)")  \
	X(DROP_KSTAT, "dropped_kernel_ringbuf_full", "kernel-memory records lost", DROP,           \
	  "thread start/end or slab records lost, ring buffer full (kernel stacks or slab off)")   \
	X(SLAB_MAP_FULL, "slab_objects_map_full", "slab objects not followed", LOSS,               \
	  "accounted slab objects of the tree not counted: object or process map full (--kernel-slab-objects)") \
	X(STACK_CACHED, "stack_walks_repeated", "stack walks repeated", INFO,                      \
	  "stacks the thread's last walk on that CPU answered: same registers, the same stack words it read (--stack-cache; walked too under check)") \
	X(STACK_CACHE_WRONG, "stack_cache_wrong", "stack cache answers wrong", LOSS,               \
	  "--stack-cache check: a repeated walk's stack that a full walk found different")

/* counted in user space, by the accountant and the unwind cache */
#define TM_USER_COUNTERS(X)                                                                        \
	X(EVENTS_PROCESSED, "events_processed", "events processed", INFO,                          \
	  "ring-buffer records handled")                                                           \
	X(GROWTH_WITHOUT_STACK, "growth_without_stack", "growth without stack", INFO,              \
	  "RSS growth of the task's own mm credited with no user stack (walk failed or none)")     \
	X(UNPLACED_BYTES, "unplaced_bytes", "bytes unplaced", INFO,                                \
	  "bytes of RSS growth with no known address")                                             \
	X(UNMATCHED_FILE_BYTES, "file_bytes_unmatched", "file bytes not matched to their file", INFO, \
	  "file or shared-memory growth whose mapping was not known (maps unread, process gone): " \
	  "counted as the process's own, so perhaps twice over the tree")                           \
	X(FRAMES, "frames", "frames", INFO,                                                        \
	  "frames over distinct stacks")                                                           \
	X(FRAMES_UNSYMBOLIZED, "frames_unsymbolized", "frames unsymbolized", INFO,                 \
	  "of those, frames with no name found")                                                   \
	X(MAPS_READ_FAILED, "maps_read_failed", "maps unreadable", INFO,                           \
	  "/proc/PID/maps could not be read (process already gone)")                               \
	X(ORPHAN_EVENTS, "orphan_events", "orphan events", INFO,                                   \
	  "events of a process or mm never seen start")                                            \
	X(MM_TEARDOWN_UNSEEN, "mm_teardown_unseen", "mm teardowns unseen", LOSS,                   \
	  "a dead mm's id came back (the kernel reused its struct) before its teardown was seen")  \
	X(STACKS_UNREADABLE, "stacks_unreadable", "stacks unreadable", LOSS,                       \
	  "stack ids freed (their processes had exited) before an event using them was read")      \
	X(CFI_TABLES, "cfi_tables", "CFI tables", INFO,                                            \
	  "unwind tables loaded into the kernel")                                                  \
	X(CFI_ROWS, "cfi_rows", "CFI rows", INFO,                                                  \
	  "rows of those tables")                                                                  \
	X(CFI_TABLES_SKIPPED, "cfi_tables_skipped", "CFI tables skipped", LOSS,                    \
	  "files whose unwind table was not loaded (too large, no room, refused): frame pointers") \
	X(CFI_SET_FAILED, "cfi_set_failed", "CFI ranges not set", LOSS,                            \
	  "a process's unwind ranges could not be given to the kernel")                            \
	X(COW_COPIES, "cow_copies", "copy-on-write copies", INFO,                                  \
	  "pages shared in the tree (after fork) that a write gave the writer its own copy of") \
	X(CFI_OVER_BUDGET, "cfi_tables_over_budget", "CFI tables over budget", LOSS,               \
	  "of the skipped, files over a budget: functions, rows, kernel memory (--unwind-memory)") \
	X(SYMTABS_SKIPPED, "symbol_tables_skipped", "symbol tables skipped", LOSS,                 \
	  "files whose symbols were not read: a section over its bound, or the run's budget spent") \
	X(PERFMAP_SKIPPED, "perf_map_bytes_skipped", "perf map bytes skipped", LOSS,               \
	  "bytes of perf maps not read: over the run's budget of bytes or entries")                 \
	X(FILES_REFUSED, "files_refused", "files refused", LOSS,                                   \
	  "a traced process's file not read: its path led to another file than the one mapped, or not a regular file") \
	X(PY_FRAMES, "python_frames", "Python frames", INFO,                                       \
	  "CPython frames over distinct stacks (spliced for _PyEval_EvalFrameDefault)")            \
	X(PY_FRAMES_UNNAMED, "python_frames_unnamed", "Python frames unnamed", LOSS,               \
	  "of those, frames whose code object could not be read (the process was gone)")           \
	X(PY_STACKS_CUT, "python_stacks_cut", "Python stacks cut short", LOSS,                     \
	  "a Python frame chain not read to its end (a frame unreadable, over 48 frames), or the " \
	  "thread's not found (not among the interpreter's first 64 threads)")

#define TM_COUNTERS(X) TM_KERNEL_COUNTERS(X) TM_USER_COUNTERS(X)

#define TM_CNT_ID(id, key, wording, show, meaning) TM_CNT_##id,

/* the BPF per-CPU array's index */
enum tm_counter {
	TM_KERNEL_COUNTERS(TM_CNT_ID)
	TM_NR_COUNTERS,
};

/* numbered after the kernel's, so that one array indexed by id holds them all */
enum tm_user_counter {
	TM_CNT_USER_BASE = TM_NR_COUNTERS - 1,
	TM_USER_COUNTERS(TM_CNT_ID)
	TM_NR_ALL_COUNTERS,
};

#endif /* TM_COUNTERS_H */
