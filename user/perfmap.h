/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* JIT and interpreter frames from /tmp/perf-PID.map, the text format runtimes write for perf
 * (Node --perf-basic-prof, Mono --jitmap, Erlang +JPperf, the JVM's Compiler.perfmap): lines of
 * "START SIZE name", hex. Maps only grow while a process runs, so the file is read on from where
 * the last read stopped; a later line wins over an earlier one for the same code address. */
#ifndef TM_PERFMAP_H
#define TM_PERFMAP_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* 16 bytes an entry (a map of 400 MB held 2.2 GB as lines of 24-byte entries and buffers) */
struct pm_sym {
	uint64_t start;
	uint32_t size; /* a JIT's code is never 4 GiB: larger entries are skipped */
	uint32_t name; /* offset into names: grows with the line, so that later definitions win */
};

struct perfmap {
	struct pm_sym *s;
	size_t n, cap, sorted;
	char *names;
	size_t names_len, names_cap;
};

/* Parse the complete lines of text[0..len); returns the bytes consumed (up to the last '\n').
 * Malformed lines are skipped, and so are lines past 4 GiB of names. */
size_t perfmap__parse(struct perfmap *pm, const char *text, size_t len);
/* The name of the code containing ip, or NULL (not interned: valid until the next parse). */
const char *perfmap__find(struct perfmap *pm, uint64_t ip);
void perfmap__clear(struct perfmap *pm);

/* /tmp/perf-PID.map of a traced process, read as far as it has been written (read on when it
 * was last read before ran_at, when the code at ip ran: CLOCK_MONOTONIC ns); files older than
 * not_before (seconds since the epoch: left by an earlier process with the same pid) and files
 * not owned by root or by uid ((uid_t)-1 while the owner is not known: root's only) are ignored.
 * Interned name or NULL.
 * The maps of all processes share one budget for the run (PERFMAP_RUN_*): past it, no more is
 * read, and the bytes left are counted. */
const char *perfmap__lookup(pid_t pid, uid_t uid, time_t not_before, uint64_t ip, uint64_t ran_at);
/* The next lookup of every pid looks at its file again. */
void perfmap__expire(void);
void perfmap__free_all(void);
/* Bytes of perf maps not read, the run's budget spent */
uint64_t perfmap__bytes_skipped(void);
#endif
