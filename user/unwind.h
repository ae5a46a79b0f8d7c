/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Unwind tables from .eh_frame (DWARF CFI, read by libdw) for the BPF stack walk, in file
 * offsets, and which of a process's text mappings use them. */
#ifndef TM_UNWIND_H
#define TM_UNWIND_H
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <linux/types.h>
#include "taskmem.h"
#include "procmaps.h"

struct unwind_table {
	struct tm_unwind_row *rows; /* sorted by pc; a TM_CFA_NONE row ends each covered range */
	size_t n;
	size_t fdes;                /* functions described */
	size_t fdes_fp;             /* of them, those that keep a frame pointer (CFA from rbp) */
	struct tm_unwind_inode inode; /* the file, as the kernel names it */
	/* FDEs that run into the next one's, registers numbered in the thousands, a number cut off
	 * by the end of its program (never so in a compiler's output): libdw reads such a file by
	 * the FDEs it has cached, allocates gigabytes, or reads on, so its rows may differ */
	bool irregular;
	size_t fdes_libdw;          /* FDEs read by libdw: what is not read here */
};

/* The default budget of kernel memory for all unwind tables of a run (--unwind-memory) */
#define UNWIND_MEMORY_DEFAULT (64ull << 20)

/* The table of the ELF file open at fd (read with pread), built in time linear in its .eh_frame; 0, or -errno
 * (-ENOENT: no .eh_frame/.eh_frame_hdr; -ENOEXEC: not a 64-bit ELF file, or one whose headers
 * or sections are out of bounds; -EFBIG: more functions than a table may have rows for;
 * -E2BIG: more rows than a function or a table may have). */
int unwind__build_fd(int fd, struct unwind_table *t);
/* The same, giving up with -EINTR once *stop is set (by another thread; checked between
 * functions, and between the rows libdw reads) */
int unwind__build_fd_until(int fd, struct unwind_table *t, const bool *stop);
/* The same for a file of the tool's own, by path (tests, fuzzers) */
int unwind__build(const char *path, struct unwind_table *t);
void unwind__table_free(struct unwind_table *t);
/* For tests: every FDE read by libdw (a call per row, no budget of its own), the reference the
 * table built here must equal row for row */
extern bool unwind__libdw_only;
/* Whether the file's code mostly keeps no frame pointer, so that a frame-pointer walk through
 * it goes wrong (less than half of its functions set rbp up). */
bool unwind__frameless(const struct unwind_table *t);

/* Load a table (a struct unwind_table *) into the kernel: its file index
 * (< TM_MAX_UNWIND_FILES) or -errno. */
typedef int (*unwind_load_fn)(void *ctx, const void *table);
/* Make the tables loaded since the last call usable (loads are put in place in batches: the
 * kernel waits for a grace period at each); 0 or -errno. */
typedef int (*unwind_commit_fn)(void *ctx);
/* Add ranges of a table loaded since to a process's (one whose maps were read while the table
 * was being built); 0 or -errno. */
typedef int (*unwind_add_fn)(void *ctx, uint32_t tgid, const struct tm_unwind_range *r, uint32_t n);

struct unwind_cache;
/* With add, tables are built on a worker thread (started at the first file that needs one) and
 * loaded at unwind__cache_poll; without, on the spot. */
struct unwind_cache *unwind__cache_new(unwind_load_fn load, unwind_commit_fn commit, unwind_add_fn add, void *ctx);
/* Stops the worker (a build in progress is given up: within milliseconds) and waits for it */
void unwind__cache_free(struct unwind_cache *c);
/* The ranges of pm's (process pid's) text mappings whose files (opened through the process) are
 * frameless and have a table; returns how many (at most TM_UNWIND_RANGES: the largest are
 * kept). A file seen for the first time is queued for the worker: pid's mappings of it are
 * added when its table is loaded (unwind__cache_poll), frame pointers until then. */
int unwind__proc_ranges(struct unwind_cache *c, pid_t pid, const struct procmaps *pm, struct tm_unwind_proc *out);
/* From the event loop (the one thread that loads tables and updates BPF maps): load the tables
 * the worker built since the last call and give them to the processes waiting for them. c is
 * a struct unwind_cache *. */
void unwind__cache_poll(void *c);
/* Hold pid (the launched command; 0: none) while it waits for
 * tables being built: stopped (SIGSTOP) at its exec, kept so if its maps read then finds any of
 * its files' tables being built, and stopped at a later read within 2 s of the exec if a 1 MiB
 * text mapping's is, while it has one thread and no tracer; continued (SIGCONT) once none is, after 1.5 s at
 * most, 3 s in all, or when the cache is freed. */
void unwind__hold(struct unwind_cache *c, pid_t pid);
/* pid exec'd at ts (CLOCK_MONOTONIC ns): stopped now if it is the held pid and the exec is
 * recent, until its next maps read finds no table of its being built */
void unwind__hold_exec(struct unwind_cache *c, pid_t pid, uint64_t ts);
/* Whether the command is stopped now (the event loop polls more often meanwhile) */
bool unwind__holding(const struct unwind_cache *c);
/* No more holds: the command goes on now (continued if it is stopped), or is gone (reaped: its
 * pid is not signalled again) */
void unwind__hold_end(struct unwind_cache *c, bool gone);
/* Load the tables of the C libraries most programs map (libc, libm, libstdc++, libgcc_s, the
 * dynamic loader), before the command starts: its ld.so maps them before the tool could. */
void unwind__preload(struct unwind_cache *c);
/* The kernel memory all tables of the run may take, in bytes (UNWIND_MEMORY_DEFAULT) */
void unwind__set_memory_budget(uint64_t bytes);
/* Files whose table was over a budget (functions, rows, memory), of every cache: frame pointers */
size_t unwind__over_budget(void);
/* Tables loaded, and files that needed one but could not have it (no room, unreadable, still
 * being built when the run ended). */
void unwind__stats(const struct unwind_cache *c, size_t *loaded, size_t *skipped, size_t *rows);
#endif
